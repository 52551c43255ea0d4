"""``FileStaging``: a backup's file rows inserted while it runs, listed at checkpoints.

Why: a run of 100,000 small files used to hand all its rows to ``FilesStore.add_files`` at
its last checkpoint, the end of the session (checkpoints come every 16 GiB or 10 minutes), and
that insert (~1.5 s: Python parameter binding in SQLite's ``executemany``, then the three
index updates) ran after the data were written, adding to the backup's time (issue 4
"Speed"). Staging the rows in a TEMP table and copying them into ``files`` at the checkpoint
(``INSERT ... SELECT``, in C) still left that copy, ~0.14 s per 100,000 rows, after the last
flush. Here the catalog thread inserts rows into ``files`` itself, as the format stage
produces them, one transaction per few thousand, and they are *unlisted*: the run's
``runs.files_upto`` (set at the first insert below every row the staging adds) hides them
from every read (schema.LISTED, files_read.LISTED_JOIN). A checkpoint then only moves the
bound up to the last row it covers: one small UPDATE, after the drive flushed. The catalog
still lists no file before the drive flushed it (shared/DESIGN.md "Catalog"); rows staged
and never covered (a failure after the last checkpoint) are deleted by ``close``, by the
run's next staging, or when the run ends (jobs_store), and are never read meanwhile.

SQLite only (``open`` returns None elsewhere: ``add_files`` at checkpoints, as before). The
staging connection lives in a child process (``StagingChild``, engine/child_process.py) when
the catalog is a file (engine/catalog/row_staging.py: the same ``RowStaging``, without
SQLAlchemy): SQLite's ``executemany`` releases and retakes the GIL at every row, and
in the backup process each retake waits for the format stage (profiled: ~2 s of GIL for
100,000 rows under load). An in-memory catalog stages in this process.
Staged rows are numbered from 1 in the order they were staged; ``publish(upto)`` makes rows
1..upto listed (those not yet published).

Threads: one thread at a time (the pipeline's catalog thread); the connection is its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from engine.catalog.db import CatalogError
from engine.catalog.files_model import FileRow
from engine.catalog.files_store import FilesStore, _insert_sql
from engine.catalog.row_staging import RowStaging, StagingPlan, first_line, row_count
from engine.child_process import ChildGone, PickleChild

__all__ = ["DeferredStaging", "FileStaging", "StagingChild", "staging_plan"]

CHILD_ROWS = 2_000
"""A first batch of this many rows or more is staged by a child process (``deferred``)."""


def staging_plan(dialect: sa.Dialect) -> StagingPlan | None:
    """The catalog's ``files`` INSERT as ``RowStaging`` takes it; None when the driver takes
    named parameters."""
    insert = _insert_sql(dialect)
    if insert is None:
        return None
    sql = insert.sql
    columns = sql[sql.index("(") + 1 : sql.index(")")]
    return StagingPlan(columns, sql, insert.tuple_at, insert.change_at)


class FileStaging(RowStaging):
    """``RowStaging`` on a raw connection of the catalog's engine, in this process;
    ``close`` also gives the connection back."""

    def __init__(self, raw: Any, session_id: int, run_id: int, plan: StagingPlan) -> None:
        self._raw = raw
        try:
            super().__init__(raw.driver_connection, session_id, run_id, plan)
        except BaseException:
            raw.close()
            raise

    @classmethod
    def open(
        cls, store: FilesStore, session_id: int, *, child: bool = True
    ) -> FileStaging | StagingChild | None:
        """Staging for ``session_id``: in a child process for an SQLite file (unless not
        ``child``), else on a connection of its own in this process; None when the catalog is
        not SQLite.
        Raises ``UnknownSession`` for a session the catalog does not have."""
        engine = store.catalog.engine
        if engine.dialect.name != "sqlite":
            return None
        plan = staging_plan(engine.dialect)
        if plan is None:
            return None
        with engine.connect() as conn:
            run_id = store._run_of(conn, session_id)
        path = engine.url.database
        if child and path and path != ":memory:" and not engine.url.query:
            return StagingChild(path, session_id, run_id, plan)
        return cls.on(engine, session_id, run_id)

    @classmethod
    def deferred(cls, store: FilesStore, session_id: int) -> DeferredStaging | None:
        """``open``, decided at the first ``stage``: a session whose rows come in a first
        batch of fewer than ``CHILD_ROWS`` (a few large files) stages in this process and
        never pays a child's start."""
        if store.catalog.engine.dialect.name != "sqlite":
            return None
        with store.catalog.engine.connect() as conn:
            store._run_of(conn, session_id)  # UnknownSession now, not in the catalog thread
        return DeferredStaging(store, session_id)

    @classmethod
    def on(cls, engine: sa.Engine, session_id: int, run_id: int) -> FileStaging:
        """Staging on a new raw connection of ``engine`` (SQLite: db.py's pragmas, no
        driver transactions)."""
        plan = staging_plan(engine.dialect)
        assert plan is not None
        return cls(engine.raw_connection(), session_id, run_id, plan)

    def stage(self, rows: Iterable[FileRow | tuple[Any, ...]]) -> int:
        try:
            return super().stage(rows)
        except sqlite3.Error as exc:
            raise CatalogError(f"Cannot record files in the catalog: {first_line(exc)}.") from exc

    def publish(self, upto: int) -> int:
        try:
            return super().publish(upto)
        except sqlite3.Error as exc:
            raise CatalogError(f"Cannot record files in the catalog: {first_line(exc)}.") from exc

    def close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is None:
            return
        try:
            super().close()
        finally:
            raw.close()


class StagingChild:
    """``FileStaging`` run by a child process on the same SQLite file (module docstring);
    same methods. A failure there (SQLite's error, or the child gone) is a ``CatalogError``."""

    def __init__(self, path: str, session_id: int, run_id: int, plan: StagingPlan) -> None:
        self._child: PickleChild | None = PickleChild(
            "engine.catalog.row_staging", [path, str(session_id), str(run_id)]
        )
        try:
            self._call(("open", plan))
        except BaseException:
            self.close()
            raise

    def _call(self, request: tuple[str, Any]) -> int:
        if self._child is None:
            raise CatalogError("The catalog staging process was already closed.")
        try:
            status, value = self._child.call(request)
        except ChildGone as exc:
            raise CatalogError(f"The catalog staging process ended unexpectedly ({exc}).") from exc
        if status != "ok":
            raise CatalogError(f"Cannot record files in the catalog: {value}.")
        return int(value)

    def stage(self, rows: Iterable[FileRow | tuple[Any, ...]]) -> int:
        return self._call(("stage", list(rows)))

    def publish(self, upto: int) -> int:
        return self._call(("publish", upto))

    def close(self) -> None:
        """The child deletes unpublished rows as it ends. Returns without waiting for
        that or for the child's exit: after its last publish it checkpoints the WAL
        (row_staging ``_serve``), which the backup need not wait for
        (``child_process.join_closed`` does). Idempotent."""
        child, self._child = self._child, None
        if child is not None:
            child.close(wait=False)


class DeferredStaging:
    """``FileStaging.deferred``: the staging chosen when the first rows arrive."""

    def __init__(self, store: FilesStore, session_id: int) -> None:
        self.store, self.session_id = store, session_id
        self._real: FileStaging | StagingChild | None = None

    def _open(self, rows: int) -> FileStaging | StagingChild:
        if self._real is None:
            opened = FileStaging.open(self.store, self.session_id, child=rows >= CHILD_ROWS)
            assert opened is not None  # deferred() checked the dialect
            self._real = opened
        return self._real

    def stage(self, rows: list[FileRow | tuple[Any, ...]]) -> int:
        return self._open(row_count(rows)).stage(rows)

    def publish(self, upto: int) -> int:
        return self._open(0).publish(upto)

    def close(self) -> None:
        if self._real is not None:
            self._real.close()
