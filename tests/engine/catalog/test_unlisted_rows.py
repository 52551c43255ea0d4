"""Rows a staging inserted and no checkpoint covered (engine/catalog/files_staging.py): every
read of the catalog, through SQLAlchemy and through sqlite3 alone, leaves them out; they are
deleted when the staging closes, when the run's next staging starts, when the run ends, and
before ``add_files`` lists more rows of the run (a catalog rebuild)."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from engine.catalog.files_model import Change, SessionPart
from engine.catalog.files_staging import FileStaging, StagingChild
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.catalog.sqlite_reads import sqlite_reads
from engine.child_process import join_closed
from engine.jobs.states import CompletionStatus, JobState
from tests.engine.catalog.test_files_store import ROOT, directory, stored

PUBLISHED = [directory(ROOT), stored(ROOT + b"/a"), stored(ROOT + b"/sub/b")]
UNPUBLISHED = [
    stored(ROOT + b"/a", size=99),  # a second row of a listed path
    stored(ROOT + b"/c", exception_category="in_use", exception_code="open_for_write"),
    stored(ROOT + b"/sub/d", change=Change.CHANGED),
]


def _stored_rows(db_url: str, run_id: int) -> int:
    """The run's rows in ``files``, listed or not."""
    with contextlib.closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as conn:
        (count,) = conn.execute("SELECT count(*) FROM files WHERE run_id = ?", (run_id,)).fetchone()
    return int(count)


def _staged(
    jobs: JobsStore, files: FilesStore, job: int, *, child: bool
) -> tuple[int, int, FileStaging | StagingChild]:
    """A run whose staging published ``PUBLISHED`` and staged ``UNPUBLISHED`` after them."""
    run = jobs.start_run(job, level="full")
    session = files.open_session(run.id, "lib1", ROOT, record_size=512)
    files.add_part(session, SessionPart(1, "A00001L8", 1, 0))
    staging = FileStaging.open(files, session, child=child)
    assert staging is not None
    staging.stage(PUBLISHED)
    staging.publish(len(PUBLISHED))
    staging.stage(UNPUBLISHED)
    return run.id, session, staging


def _kill(staging: FileStaging | StagingChild) -> None:
    """The staging child dies as a killed backup's would: no close of its own."""
    assert isinstance(staging, StagingChild) and staging._child is not None
    staging._child.proc.kill()
    staging._child.proc.wait()
    staging.close()
    join_closed()


@pytest.mark.parametrize("child", [True, False])
def test_every_read_leaves_unpublished_rows_out(
    jobs: JobsStore, files: FilesStore, job: int, db_url: str, child: bool
) -> None:
    run, session, staging = _staged(jobs, files, job, child=child)
    assert _stored_rows(db_url, run) == 6  # they are in the table
    paths = [ROOT, ROOT + b"/a", ROOT + b"/sub/b"]
    assert files.count(run) == 3
    assert files.exceptions(run) == []
    assert [r.path for r in files.changes(run)] == paths
    assert [r.path for r in files.descendants(run, ROOT)] == paths[1:]
    assert [r.path for r in files.stored(session)] == paths
    assert files.lookup(ROOT + b"/c", run) is None
    found = files.lookup(ROOT + b"/a", run)
    assert found is not None and found.size == 10
    assert [v.row.size for v in files.versions(ROOT + b"/a")] == [10]
    with sqlite_reads(db_url) as reads:
        assert reads is not None
        for where in (ROOT, ROOT + b"/sub"):
            assert reads.list_directory(where, run) == files.list_directory(where, run)
        assert [r.name for r in reads.list_directory(ROOT + b"/sub", run)] == [b"b"]
        assert reads.versions(ROOT + b"/a") == files.versions(ROOT + b"/a")
        assert reads.versions(ROOT + b"/c") == []
    staging.publish(6)  # the same rows, once covered, are listed
    assert files.count(run) == 6 and [r.path for r in files.exceptions(run)] == [ROOT + b"/c"]
    assert [v.row.size for v in files.versions(ROOT + b"/a")] == [10, 99]
    staging.close()


def test_a_dead_stagings_rows_go_at_the_runs_next_staging(
    jobs: JobsStore, files: FilesStore, job: int, db_url: str
) -> None:
    """The staging child is killed (the backup died): its unpublished rows stay unlisted,
    and the next staging of the run deletes them before it adds its own."""
    run, session, staging = _staged(jobs, files, job, child=True)
    _kill(staging)
    assert _stored_rows(db_url, run) == 6 and files.count(run) == 3
    again = FileStaging.open(files, session, child=False)
    assert again is not None
    again.stage([stored(ROOT + b"/e")])
    assert _stored_rows(db_url, run) == 4 and files.count(run) == 3
    again.publish(1)
    again.close()
    assert [r.path for r in files.descendants(run, ROOT)] == [
        ROOT + b"/a",
        ROOT + b"/e",
        ROOT + b"/sub/b",
    ]


def test_a_dead_stagings_rows_go_when_the_run_ends(
    jobs: JobsStore, files: FilesStore, job: int, db_url: str
) -> None:
    run, _session, staging = _staged(jobs, files, job, child=True)
    _kill(staging)
    assert _stored_rows(db_url, run) == 6
    jobs.end_run(run, CompletionStatus.FAILED, error="the backup process died")
    assert _stored_rows(db_url, run) == 3 and files.count(run) == 3


def test_add_files_lists_its_rows_on_a_run_a_staging_wrote(
    jobs: JobsStore, files: FilesStore, job: int, db_url: str
) -> None:
    """A catalog rebuild adds rows with ``add_files`` to a run whose staging bounded it:
    they are listed at once, and what the staging left unlisted is deleted first (it would
    otherwise be listed with them)."""
    run, session, staging = _staged(jobs, files, job, child=False)
    staging._conn = None  # type: ignore[union-attr]  # the process died: no close, no delete
    assert _stored_rows(db_url, run) == 6
    assert files.add_files(session, [stored(ROOT + b"/f")]) == 1
    assert _stored_rows(db_url, run) == 4
    assert [r.path for r in files.descendants(run, ROOT)] == [
        ROOT + b"/a",
        ROOT + b"/f",
        ROOT + b"/sub/b",
    ]
    staging.close()  # its connection only


def test_two_runs_staging_at_once_list_only_their_own_published_rows(
    jobs: JobsStore, files: FilesStore, job: int, db_url: str
) -> None:
    """Two backups stage into one catalog at the same time: their rows' ids interleave, and
    each run's bound lists exactly the rows its own checkpoints covered."""
    other = jobs.create_job("backup", "other", {"source": "/srv/other"})
    jobs.transition(other, JobState.QUEUED, actor="t", reason="q")
    jobs.transition(other, JobState.RUNNING, actor="t", reason="r")
    stagings = []
    for name, job_id in (("one", job), ("two", other)):
        run = jobs.start_run(job_id, level="full")
        session = files.open_session(run.id, "lib1", ROOT, record_size=512)
        staging = FileStaging.open(files, session)
        assert staging is not None
        stagings.append((run.id, name.encode(), staging))
    for step in range(4):  # one, two, one, two, ...: ids interleave
        for _run, name, staging in stagings:
            staging.stage([stored(ROOT + b"/%s-%d-%d" % (name, step, i)) for i in range(3)])
    (run1, _, staging1), (run2, _, staging2) = stagings
    assert staging1.publish(7) == 7 and staging2.publish(2) == 2
    listed1 = [r.path for r in files.descendants(run1, ROOT)]
    listed2 = [r.path for r in files.descendants(run2, ROOT)]
    assert listed1 == sorted(ROOT + b"/one-%d-%d" % (n // 3, n % 3) for n in range(7))
    assert listed2 == [ROOT + b"/two-0-0", ROOT + b"/two-0-1"]
    assert _stored_rows(db_url, run1) == _stored_rows(db_url, run2) == 12
    staging2.publish(12)
    assert files.count(run1) == 7 and files.count(run2) == 12
    staging1.close()
    staging2.close()
    join_closed()
    assert _stored_rows(db_url, run1) == 7 and _stored_rows(db_url, run2) == 12
