"""The index of a run's exceptions holds the exception rows only (migration 0006), and the
one query that needs it, ``FilesStore.exceptions``, is answered from it."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from engine.catalog.db import HEAD_REVISION, _alembic_config, open_catalog
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import JobState
from tests.engine.catalog.test_files_store import ROOT, backup_run, directory, stored

INDEX = "ix_files_run_exception"


def _index_sql(path: str) -> str:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        (sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (INDEX,)
        ).fetchone()
    return str(sql)


def _rows() -> list:
    clean = [stored(ROOT + b"/f%03d" % i) for i in range(50)]
    odd = [
        stored(ROOT + b"/z-bad", exception_category="corrupted", exception_code="read_error"),
        stored(ROOT + b"/a-busy", exception_category="in_use", exception_code="open_for_write"),
    ]  # by path the other way round than by id or by category
    return [directory(ROOT), *clean, *odd]


def test_the_exceptions_of_a_run_are_read_through_the_partial_index(
    jobs: JobsStore, files: FilesStore, job: int, db_url: str
) -> None:
    path = db_url.removeprefix("sqlite:///")
    assert _index_sql(path).endswith("WHERE exception_category IS NOT NULL")
    run = backup_run(jobs, files, job, _rows(), day=0)
    executed: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, params, context, many) -> None:  # type: ignore[no-untyped-def]
        executed.append((statement, params))

    engine = files.catalog.engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        found = files.exceptions(run)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert [(r.path, r.exception_category) for r in found] == [
        (ROOT + b"/a-busy", "in_use"),
        (ROOT + b"/z-bad", "corrupted"),
    ]
    (statement, params) = next((s, p) for s, p in executed if "exception_category IS NOT" in s)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        plan = " ".join(r[-1] for r in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params))
        entries = conn.execute(
            f"SELECT count(*) FROM files INDEXED BY {INDEX} "
            "WHERE run_id = ? AND exception_category IS NOT NULL",
            (run,),
        ).fetchone()
    assert INDEX in plan
    assert entries == (2,)


def test_the_index_goes_back_to_0005_whole_and_up_again_partial(tmp_path: Path) -> None:
    """Downgrading gives back 0005's full index, upgrading (on open) the partial one; the
    rows stay and a run's exceptions read the same at every step."""
    path = tmp_path / "catalog.sqlite"
    url = f"sqlite:///{path}"
    with open_catalog(url) as catalog:
        jobs, files = JobsStore(catalog), FilesStore(catalog)
        job = jobs.create_job("backup", "data", {"source": "/srv/data"})
        jobs.transition(job, JobState.QUEUED, actor="t", reason="q")
        jobs.transition(job, JobState.RUNNING, actor="t", reason="r")
        run = backup_run(jobs, files, job, _rows(), day=0)
        before = files.exceptions(run)
    assert [r.path for r in before] == [ROOT + b"/a-busy", ROOT + b"/z-bad"]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0005")
    engine.dispose()
    assert "WHERE" not in _index_sql(str(path))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute(
            f"SELECT count(*) FROM files INDEXED BY {INDEX} WHERE run_id = ?", (run,)
        ).fetchone() == (len(_rows()),)  # an entry for every row, clean or not
    with open_catalog(url) as catalog:  # upgraded on open
        assert catalog.revision() == (HEAD_REVISION,)
        assert FilesStore(catalog).exceptions(run) == before
    assert _index_sql(str(path)).endswith("WHERE exception_category IS NOT NULL")
