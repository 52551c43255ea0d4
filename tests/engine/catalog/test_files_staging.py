"""FileStaging on a real SQLite file, in a child process (the default for a file) and on a
connection of this process: staged rows stay unlisted (to this process's other connections
and to another process) until published, publishing goes in staging order and up to a number,
a bad row fails its stage as a whole, and what was never published is gone after close."""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.catalog.db import Catalog, CatalogError
from engine.catalog.files_model import Change, FileRow, split_path
from engine.catalog.files_staging import FileStaging, StagingChild
from engine.catalog.files_store import FilesStore, UnknownSession
from engine.catalog.jobs_store import JobsStore
from engine.catalog.row_staging import CHECKPOINT_ROWS, STAGED_FIELDS, PlainBlob, PlainRows
from engine.child_process import join_closed
from tests.engine.catalog.test_files_store import NON_UTF8, ROOT, stored


def _count_elsewhere(db_url: str, run_id: int) -> int:
    """The file rows of ``run_id`` as another process sees them."""
    code = (
        "import sys; from engine.catalog.db import open_catalog; "
        "from engine.catalog.files_store import FilesStore; "
        "print(FilesStore(open_catalog(sys.argv[1])).count(int(sys.argv[2])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, db_url, str(run_id)], check=True, capture_output=True
    )
    return int(out.stdout)


@pytest.fixture(params=["child", "here"])
def where(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


def opened(files: FilesStore, session: int, run_id: int, where: str) -> FileStaging | StagingChild:
    if where == "here":
        return FileStaging.on(files.catalog.engine, session, run_id)
    staging = FileStaging.open(files, session)
    assert isinstance(staging, StagingChild)
    return staging


def test_rows_appear_only_when_published(
    jobs: JobsStore, files: FilesStore, job: int, db_url: str, where: str
) -> None:
    run = jobs.start_run(job)
    session = files.open_session(run.id, "lib1", ROOT, record_size=512)
    staging = opened(files, session, run.id, where)
    rows: list[FileRow | tuple[object, ...]] = [stored(ROOT + b"/%d" % i) for i in range(5)]
    rows.append(stored(NON_UTF8))
    assert staging.stage(rows[:3]) == 3
    assert staging.stage(rows[3:]) == 3
    assert files.count(run.id) == 0 and _count_elsewhere(db_url, run.id) == 0
    assert staging.publish(2) == 2
    assert [r.path for r in files.descendants(run.id, ROOT)] == [ROOT + b"/0", ROOT + b"/1"]
    assert _count_elsewhere(db_url, run.id) == 2
    assert staging.publish(2) == 0  # already published
    assert staging.publish(99) == 4  # clamped to what was staged
    assert files.lookup(NON_UTF8, run.id) is not None
    staging.stage([stored(ROOT + b"/late")])
    assert files.count(run.id) == 6 and _stored_rows(db_url, run.id) == 7
    staging.close()
    staging.close()  # idempotent
    join_closed()
    assert files.count(run.id) == 6
    assert _stored_rows(db_url, run.id) == 6  # the unpublished row was deleted


def test_stage_takes_row_tuples_and_checks_the_session(
    jobs: JobsStore, files: FilesStore, job: int, catalog: Catalog, where: str
) -> None:
    run = jobs.start_run(job)
    session = files.open_session(run.id, "lib1", ROOT, record_size=512)
    staging = opened(files, session, run.id, where)
    row = stored(ROOT + b"/t", size=77)
    staging.stage([tuple(getattr(row, f) for f in row.__dataclass_fields__)])
    staging.publish(1)
    staging.close()
    found = files.lookup(ROOT + b"/t", run.id)
    assert found is not None and found.size == 77 and found.change is row.change
    with pytest.raises(UnknownSession):
        FileStaging.open(FilesStore(catalog), 999)


def test_a_bad_row_fails_its_stage_as_a_whole(
    jobs: JobsStore, files: FilesStore, job: int, db_url: str, where: str
) -> None:
    """The first stage fails: none of its rows stays, and the next stage (which must then
    bound the run itself) and its publish work."""
    run = jobs.start_run(job)
    session = files.open_session(run.id, "lib1", ROOT, record_size=512)
    staging = opened(files, session, run.id, where)
    with pytest.raises(CatalogError, match="NOT NULL"):
        staging.stage([stored(ROOT + b"/1"), FileRow(path=ROOT + b"/2", kind=None)])  # type: ignore[arg-type]
    assert staging.stage([stored(ROOT + b"/3"), stored(ROOT + b"/4")]) == 2
    assert files.count(run.id) == 0
    assert staging.publish(1) == 1
    staging.close()
    join_closed()
    assert [r.path for r in files.descendants(run.id, ROOT)] == [ROOT + b"/3"]
    assert _stored_rows(db_url, run.id) == 1  # the unpublished row was deleted, not hidden


def _stored_rows(db_url: str, run_id: int) -> int:
    """The run's rows in ``files``, listed or not."""
    path = db_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        (count,) = conn.execute("SELECT count(*) FROM files WHERE run_id = ?", (run_id,)).fetchone()
    return int(count)


@pytest.mark.parametrize(("first", "kind"), [(3, FileStaging), (2_000, StagingChild)])
def test_deferred_staging_starts_a_child_only_for_many_rows(
    jobs: JobsStore, files: FilesStore, job: int, first: int, kind: type
) -> None:
    run = jobs.start_run(job)
    session = files.open_session(run.id, "lib1", ROOT, record_size=512)
    staging = FileStaging.deferred(files, session)
    assert staging is not None
    staging.stage([stored(ROOT + b"/%d" % i) for i in range(first)])
    assert isinstance(staging._real, kind)
    assert staging.publish(first) == first
    staging.close()
    assert files.count(run.id) == first
    with pytest.raises(UnknownSession):
        FileStaging.deferred(files, 999)


def test_plain_rows_are_staged_in_order_with_the_general_ones(
    jobs: JobsStore, files: FilesStore, job: int, where: str
) -> None:
    """``PlainRows`` and ``PlainBlob`` (engine/catalog/row_staging.py) take their own
    statement: the same rows come back, byte strings and NULLs included, in the order they
    were staged."""
    run = jobs.start_run(job)
    session = files.open_session(run.id, "lib1", ROOT, record_size=512)
    staging = opened(files, session, run.id, where)

    def plain_row(path: bytes, record: int) -> FileRow:
        row = stored(path, record=record, change=None)
        return dataclasses.replace(row, checksum=bytes([record]) * 16)

    def plain(path: bytes, record: int) -> tuple[object, ...]:
        row = plain_row(path, record)
        return tuple(getattr(row, f) for f in row.__dataclass_fields__)

    first = PlainRows([plain(ROOT + b"/p%d" % i, i) for i in range(2)])
    p2 = plain_row(ROOT + b"/p2", 2)
    values = [*split_path(p2.path), *(getattr(p2, f) for f in STAGED_FIELDS[2:])]
    head = tuple(bytearray(v) if type(v) is bytes else v for v in values)  # as a worker's
    blob = PlainBlob(pickle.dumps([head]), 1, [(2, 512)])
    second = PlainRows([plain(NON_UTF8, 9)])
    assert staging.stage([first, blob, stored(ROOT + b"/general"), second]) == 5
    assert staging.publish(4) == 4  # the first four in staging order
    assert files.lookup(NON_UTF8, run.id) is None
    assert staging.publish(5) == 1
    staging.close()
    rows = {r.path: r for r in files.descendants(run.id, ROOT)}
    rows[NON_UTF8] = files.lookup(NON_UTF8, run.id)  # type: ignore[assignment]
    for i in range(3):
        got = rows[ROOT + b"/p%d" % i]
        want = plain_row(ROOT + b"/p%d" % i, i)
        assert got.checksum == want.checksum and type(got.checksum) is bytes
        assert (got.size, got.uname, got.record, got.offset, got.part) == (10, "ann", i, 512, 1)
        assert got.change is None and got.exception_category is None and got.link_target is None
    assert rows[ROOT + b"/general"].change is Change.ADDED
    assert rows[NON_UTF8].record == 9


def test_the_child_checkpoints_its_publish_and_is_not_waited_for(
    jobs: JobsStore, files: FilesStore, job: int, tmp_path: Path
) -> None:
    """The WAL checkpoint of a publish runs in the child after its reply (not in the
    publish the backup waits for), and ``close`` leaves the child's exit to a thread."""
    run = jobs.start_run(job)
    session = files.open_session(run.id, "lib1", ROOT, record_size=512)
    staging = opened(files, session, run.id, "child")
    staging.stage([stored(ROOT + b"/%d" % i) for i in range(500)])
    assert staging.publish(500) == 500
    proc = staging._child.proc  # type: ignore[union-attr]
    staging.close()
    join_closed()
    assert proc.returncode == 0
    copy = tmp_path / "main-file-only.sqlite"  # without the -wal: checkpointed rows only
    shutil.copyfile(files.catalog.engine.url.database, copy)  # type: ignore[arg-type]
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        (count,) = conn.execute("SELECT count(*) FROM files WHERE run_id = ?", (run.id,)).fetchone()
    assert count == 500


def test_rows_staged_after_a_publish_of_everything_wait_for_their_own(
    jobs: JobsStore, files: FilesStore, job: int, where: str
) -> None:
    """A publish that took every staged row, then more rows: a later publish takes only
    those its checkpoint covers (the staging numbers rows on, it does not start again)."""
    run = jobs.start_run(job)
    session = files.open_session(run.id, "lib1", ROOT, record_size=512)
    staging = opened(files, session, run.id, where)
    staging.stage([stored(ROOT + b"/a%d" % i) for i in range(3)])
    assert staging.publish(3) == 3
    staging.stage([stored(ROOT + b"/b%d" % i) for i in range(3)])
    assert staging.publish(4) == 1
    assert sorted(r.path for r in files.descendants(run.id, ROOT))[-1] == ROOT + b"/b0"
    staging.stage([stored(ROOT + b"/c0")])
    assert staging.publish(6) == 2 and files.count(run.id) == 6
    assert staging.publish(7) == 1
    staging.close()
    assert files.count(run.id) == 7


def test_the_child_checkpoints_the_wal_as_rows_are_staged(
    jobs: JobsStore, files: FilesStore, job: int, tmp_path: Path
) -> None:
    """Every ``CHECKPOINT_ROWS`` staged rows the child checkpoints the WAL (after its reply),
    so that the backup process's own catalog writes never find that work to do."""
    run = jobs.start_run(job)
    session = files.open_session(run.id, "lib1", ROOT, record_size=512)
    database = files.catalog.engine.url.database
    with contextlib.closing(sqlite3.connect(database)) as conn:  # type: ignore[arg-type]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the schema into the main file
    staging = opened(files, session, run.id, "child")
    staging.stage([stored(ROOT + b"/%d" % i) for i in range(CHECKPOINT_ROWS - 1)])
    copy = tmp_path / "main-file-only.sqlite"

    def in_main_file() -> int:
        shutil.copyfile(database, copy)  # type: ignore[arg-type]
        with contextlib.closing(sqlite3.connect(copy)) as conn:
            query = "SELECT count(*) FROM files WHERE run_id = ?"
            return int(conn.execute(query, (run.id,)).fetchone()[0])

    assert in_main_file() == 0  # in the WAL only
    staging.stage([stored(ROOT + b"/last")])
    staging.stage([])  # answered after the checkpoint that followed the last reply
    assert in_main_file() == CHECKPOINT_ROWS
    assert files.count(run.id) == 0  # unlisted all the same
    staging.close()
