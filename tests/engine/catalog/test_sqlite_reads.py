"""engine/catalog/sqlite_reads.py on real SQLite files: the reads of ``tapir ls`` and ``tapir
browse`` through sqlite3 alone give exactly what ``FilesStore`` gives through SQLAlchemy (an
incremental chain with deletions, exceptions, non-UTF-8 names, blobs, times), and any catalog
it should not read (missing, not at head, not SQLite, not a database) is left to
``open_catalog``, never created or changed."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from engine.backup.levels import Level
from engine.catalog.files_model import Change, FileRow
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.catalog.sqlite_reads import sqlite_file, sqlite_reads
from engine.restore.asof import AsOf, list_as_of
from tests.engine.catalog.test_files_store import (
    DAY,
    FULL_TREE,
    NON_UTF8,
    ROOT,
    T0,
    backup_run,
    directory,
    incremental,
    stored,
)

PATHS = [ROOT, ROOT + b"/a.txt", ROOT + b"/b.txt", ROOT + b"/old/x", NON_UTF8, ROOT + b"/nope"]


def _two_runs(jobs: JobsStore, files: FilesStore, job: int) -> tuple[int, int]:
    full = backup_run(jobs, files, job, FULL_TREE, day=0)
    _, deletions = incremental(jobs, files, full)
    skipped = FileRow(
        path=ROOT + b"/b.txt",
        kind="file",
        change=Change.CHANGED,
        exception_category="skipped",
        exception_code="permission_denied",
        exception_sentence="/srv/data/b.txt: permission denied",
    )
    rows = [
        directory(ROOT, Change.UNCHANGED),
        stored(ROOT + b"/a.txt", size=99, mtime=2, change=Change.CHANGED, exception_offset=7),
        skipped,
        stored(ROOT + b"/c.txt"),
        directory(ROOT + b"/sub", Change.UNCHANGED),
    ]
    incr = backup_run(jobs, files, job, rows + deletions, day=1, level=Level.INCREMENTAL, base=full)
    return full, incr


def test_sqlite_reads_equal_files_store(
    db_url: str, jobs: JobsStore, files: FilesStore, job: int
) -> None:
    full, incr = _two_runs(jobs, files, job)
    with sqlite_reads(db_url) as reads:
        assert reads is not None
        assert reads.backup_runs() == files.backup_runs()
        newest = reads.backup_runs()[0]
        assert (newest.id, newest.ended_at) == (incr, T0 + DAY + timedelta(hours=1))  # aware UTC
        assert reads.chain(incr) == files.chain(incr) == [incr, full]
        assert reads.session_sources([incr, full]) == files.session_sources([incr, full])
        assert reads.session_sources([]) == []
        for run in (full, incr):
            for where in (ROOT, ROOT + b"/old", ROOT + b"/sub", "/srv/data"):
                mine = reads.list_directory(where, run)
                assert mine == files.list_directory(where, run)
        assert any(r.checksum and r.link_target for r in reads.list_directory(ROOT, full))
        for path in PATHS:
            for job_id in (None, job, job + 1):
                assert reads.versions(path, job_id) == files.versions(path, job_id)
        assert [v.row.change for v in reads.versions(ROOT + b"/old/x")] == [
            Change.ADDED,
            Change.DELETED,
        ]
        for as_of in (AsOf(), AsOf(job=job), AsOf(run=full)):
            for path in (ROOT, b"/srv", b"/"):
                theirs = list_as_of(files, path, as_of)
                mine = list_as_of(reads, path, as_of)
                assert (mine[1], mine[2]) == (theirs[1], theirs[2])


def test_missing_file_is_left_to_open_catalog(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite"
    with sqlite_reads(f"sqlite:///{path}") as reads:
        assert reads is None
    assert not path.exists()  # not created: open_catalog creates and migrates it


def test_a_catalog_not_at_head_is_left_to_open_catalog(
    tmp_path: Path, db_url: str, files: FilesStore
) -> None:
    older = tmp_path / "older.sqlite"
    with sqlite3.connect(sqlite_file(db_url)) as src, sqlite3.connect(older) as dst:  # type: ignore[arg-type]
        src.backup(dst)  # the WAL's pages too
    with sqlite3.connect(older) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0002'")
    with sqlite_reads(f"sqlite:///{older}") as reads:
        assert reads is None
    with sqlite3.connect(older) as conn:  # untouched: open_catalog migrates it
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0002",)]


def test_not_a_database_is_left_to_open_catalog(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database, " * 100)
    with sqlite_reads(f"sqlite:///{junk}") as reads:
        assert reads is None
    assert junk.read_bytes() == b"not a database, " * 100


@pytest.mark.parametrize(
    "url, expected",
    [
        ("sqlite:////var/lib/tapir/catalog.sqlite", Path("/var/lib/tapir/catalog.sqlite")),
        ("sqlite:///relative.sqlite", Path("relative.sqlite")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:////a.sqlite?timeout=5", None),
        ("sqlite:////a%20b.sqlite", None),
        ("sqlite+pysqlite:////a.sqlite", None),
        ("postgresql://tapir@db/tapir", None),
    ],
)
def test_which_urls_are_read_directly(url: str, expected: Path | None) -> None:
    assert sqlite_file(url) == expected
