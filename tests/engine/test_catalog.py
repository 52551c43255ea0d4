"""The catalog on real SQLite files: migrations to head, WAL, schema equal to the code's
metadata, CatalogMediaStore round trips and rules, reopening, and refusing a newer database."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from devices.disk import DiskMountPath
from devices.media import (
    DriveStatus,
    ErrorKind,
    MediaError,
    MediaState,
    MediumExists,
    StaleMedium,
    UnknownMedium,
    choose_for_writing,
    new_medium,
    transition,
)
from devices.media_rules import change_state, drive_is_up, record_error
from engine.catalog.db import (
    CatalogError,
    CatalogTooNew,
    head_revision,
    open_catalog,
)
from engine.catalog.head import CATALOG_FILE
from engine.catalog.media_store import CatalogMediaStore
from engine.catalog.schema import metadata

T0 = datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
HOUR = timedelta(hours=1)


def url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cat.sqlite"


@pytest.fixture
def store(db: Path) -> CatalogMediaStore:
    return CatalogMediaStore(open_catalog(url(db)))


def test_default_location_under_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))
    with open_catalog() as catalog:
        assert catalog.revision() == (head_revision(),)
    assert (tmp_path / "home" / CATALOG_FILE).is_file()


def test_migrations_run_and_wal_is_on(db: Path) -> None:
    with open_catalog(url(db)) as catalog:
        assert catalog.revision() == (head_revision(),)
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()
    assert {"media", "media_state_changes", "media_errors", "drives", "mount_paths"} <= tables


def test_migrated_schema_matches_code_metadata(db: Path) -> None:
    with open_catalog(url(db)) as catalog, catalog.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, metadata) == []


def test_media_round_trip_and_reopen(db: Path) -> None:
    store = CatalogMediaStore(open_catalog(url(db)))
    m, reg = new_medium("A00001L8", "daily", "LTO-8", actor="op", now=T0)
    store.add_medium(m, reg)
    with pytest.raises(MediumExists):
        store.add_medium(m, reg)
    app, change = transition(
        m, MediaState.APPENDABLE, reason="first session", actor="job 7", now=T0 + HOUR
    )
    store.record_state_change(app, change)
    written = app.__class__(
        **{**app.__dict__, "files_written": 2, "bytes_written": 10**12, "volume_uuid": "u-1"}
    )
    store.update_medium(written)
    store.set_drive(DriveStatus("drive0", False, "Serviced soon.", "op", T0))
    store.add_error(MediaError("A00001L8", "drive0", ErrorKind.READ, T0, block=2**40, detail="x"))

    reopened = CatalogMediaStore(open_catalog(url(db)))
    assert reopened.get_medium("A00001L8") == written
    assert reopened.state_history("A00001L8") == [reg, change]
    assert reopened.get_drive("drive0") == DriveStatus("drive0", False, "Serviced soon.", "op", T0)
    assert reopened.list_drives() == [reopened.get_drive("drive0")]
    [e] = reopened.list_errors(barcode="A00001L8")
    assert (e.kind, e.block, e.at) == (ErrorKind.READ, 2**40, T0)
    assert reopened.list_errors(since=T0 + HOUR) == []
    assert reopened.get_medium("NOPE") is None


def test_stale_and_unknown(store: CatalogMediaStore) -> None:
    m, reg = new_medium("A1", "daily", "LTO-8", actor="op", now=T0)
    store.add_medium(m, reg)
    store.record_state_change(*transition(m, MediaState.FULL, reason="EW", actor="engine"))
    with pytest.raises(StaleMedium, match="A1 is full now, not scratch"):
        store.record_state_change(*transition(m, MediaState.APPENDABLE, reason="x", actor="y"))
    with pytest.raises(StaleMedium):
        store.update_medium(m)
    with pytest.raises(UnknownMedium):
        store.add_error(MediaError("ZZ", "d", ErrorKind.READ, T0))
    with pytest.raises(UnknownMedium):
        change_state(store, "ZZ", MediaState.FULL, reason="x", actor="y")


def test_list_filters_and_selection(store: CatalogMediaStore) -> None:
    for barcode, pool in (("C2", "daily"), ("C1", "daily"), ("W1", "weekly")):
        store.add_medium(*new_medium(barcode, pool, "LTO-8", actor="op", now=T0))
    change_state(store, "C1", MediaState.APPENDABLE, reason="s", actor="e", now=T0)
    assert [m.barcode for m in store.list_media(pool="daily")] == ["C1", "C2"]
    assert [m.barcode for m in store.list_media(states=[MediaState.SCRATCH])] == ["C2", "W1"]
    chosen = choose_for_writing(store.list_media(pool="daily"), "daily")
    assert chosen is not None and chosen.barcode == "C1"


def test_rules_on_the_catalog(store: CatalogMediaStore) -> None:
    for barcode in ("A1", "A2", "A3"):
        store.add_medium(*new_medium(barcode, "daily", "LTO-8", actor="op", now=T0))
    for i in range(3):
        out = record_error(store, MediaError("A1", "drive0", ErrorKind.WRITE, T0 + i * HOUR))
    assert out.medium_change is not None
    assert store.get_medium("A1").state is MediaState.FROZEN  # type: ignore[union-attr]
    assert drive_is_up(store, "drive0")
    record_error(store, MediaError("A2", "drive0", ErrorKind.WRITE, T0 + 3 * HOUR))
    out = record_error(store, MediaError("A3", "drive0", ErrorKind.READ, T0 + 4 * HOUR))
    assert out.drive_down is not None and not drive_is_up(store, "drive0")
    assert [c.new for c in store.state_history("A1")] == [MediaState.SCRATCH, MediaState.FROZEN]


def test_mount_path_state_persists(db: Path, tmp_path: Path) -> None:
    store = CatalogMediaStore(open_catalog(url(db)))
    disk = tmp_path / "disk"
    disk.mkdir()
    mp = DiskMountPath.register(disk, store, actor="op")
    mp.set_enabled(False, actor="op", reason="Replacing disk.")
    again = DiskMountPath(disk, CatalogMediaStore(open_catalog(url(db))))
    assert not again.enabled
    assert again.state().reason == "Replacing disk."


def test_newer_database_is_refused(db: Path) -> None:
    open_catalog(url(db)).close()
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    con.close()
    with pytest.raises(CatalogTooNew) as info:
        open_catalog(url(db))
    message = str(info.value)
    assert "schema revision ffff_from_the_future" in message
    assert "written by a newer tapir: upgrade tapir or use another catalog." in message


def test_unreachable_and_invalid_urls(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="Cannot open the catalog"):
        open_catalog(url(tmp_path / "no-such-dir" / "c.sqlite"))
    with pytest.raises(CatalogError, match="not a valid SQLAlchemy URL"):
        open_catalog("not a url")


def test_two_processes_worth_of_engines_share_the_file(db: Path) -> None:
    first = CatalogMediaStore(open_catalog(url(db)))
    second = CatalogMediaStore(open_catalog(url(db)))
    m, reg = new_medium("A1", "daily", "LTO-8", actor="op", now=T0)
    first.add_medium(m, reg)
    second.record_state_change(*transition(m, MediaState.APPENDABLE, reason="s", actor="e"))
    with pytest.raises(StaleMedium):
        first.record_state_change(*transition(m, MediaState.FULL, reason="s", actor="e"))
    assert sa.inspect(first.catalog.engine).has_table("media")


def _open_and_report(db_url: str, results: multiprocessing.Queue[str]) -> None:
    try:
        open_catalog(db_url).close()
        results.put("ok")
    except CatalogError as exc:
        results.put(str(exc))


def test_processes_creating_the_catalog_at_once_migrate_it_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for attempt in range(3):
        db_url = url(tmp_path / f"race{attempt}.sqlite")
        results: multiprocessing.Queue[str] = ctx.Queue()
        procs = [ctx.Process(target=_open_and_report, args=(db_url, results)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        assert [results.get(timeout=5) for _ in procs] == ["ok"] * 4
