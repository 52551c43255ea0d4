"""``FileStaging``: a backup's file rows inserted while it runs, published at checkpoints.

Why: a run of 100,000 small files used to hand all its rows to ``FilesStore.add_files`` at
its last checkpoint, the end of the session (checkpoints come every 16 GiB or 10 minutes), and
that insert (~1.5 s: Python parameter binding in SQLite's ``executemany``, then the three
index updates) ran after the data were written, adding to the backup's time (issue 4
"Speed"). Here the catalog thread inserts rows as the format stage produces them into a
TEMP table of one connection held for the session (invisible to every other connection, no
lock on the catalog, gone with the connection if the process dies), and a checkpoint only
runs ``INSERT INTO files SELECT ... FROM`` the staged rows it covers, in C, in one write
transaction. The catalog still lists no file before the drive flushed it
(shared/DESIGN.md "Catalog").

SQLite only (``open`` returns None elsewhere: ``add_files`` at checkpoints, as before). The
staging connection lives in a child process (``StagingChild``, engine/child_process.py) when
the catalog is a file: SQLite's ``executemany`` releases and retakes the GIL at every row, and
in the backup process each retake waits for the format stage (profiled: ~2 s of GIL for
100,000 rows under load). An in-memory catalog stages in this process.
Staged rows are numbered from 1 in the order they were staged; ``publish(upto)`` makes rows
1..upto part of the catalog (those not yet published).

Threads: one thread at a time (the pipeline's catalog thread); the connection is its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from engine.catalog.db import WRITE_LOCK_OPTION, CatalogError, _sqlite_begin, _sqlite_pragmas
from engine.catalog.files_model import FileRow
from engine.catalog.files_store import FilesStore, _insert_sql, _positional
from engine.child_process import ChildGone, PickleChild, serve_stdio

TABLE = "tapir_staged_files"
CHILD_ROWS = 2_000
"""A first batch of this many rows or more is staged by a child process (``deferred``)."""


class FileStaging:
    """One session's staged rows (module docstring); ``close`` when the session ends."""

    def __init__(self, conn: sa.Connection, session_id: int, run_id: int, insert_sql: str):
        self._conn = conn
        self.session_id, self.run_id = session_id, run_id
        self._insert = _insert_sql(conn.dialect)
        columns = insert_sql[insert_sql.index("(") + 1 : insert_sql.index(")")]
        self._stage_sql = insert_sql.replace("INSERT INTO files ", f"INSERT INTO temp.{TABLE} ", 1)
        self._publish_sql = (
            f"INSERT INTO files ({columns}) SELECT {columns} FROM temp.{TABLE} "
            "WHERE seq <= ? ORDER BY seq"
        )
        self._forget_sql = f"DELETE FROM temp.{TABLE} WHERE seq <= ?"
        self.staged = 0
        self.published = 0
        with self._tx(write=False):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{TABLE}")
            conn.exec_driver_sql(
                f"CREATE TEMP TABLE {TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, {columns})"
            )

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
        insert = _insert_sql(engine.dialect)
        if insert is None:
            return None
        with engine.connect() as conn:
            run_id = store._run_of(conn, session_id)
        path = engine.url.database
        if child and path and path != ":memory:" and not engine.url.query:
            return StagingChild(path, session_id, run_id)
        return cls.on(engine, session_id, run_id)

    @classmethod
    def deferred(cls, store: FilesStore, session_id: int) -> DeferredStaging | None:
        """``open``, decided at the first ``stage``: a session whose rows come in a first
        batch of fewer than ``CHILD_ROWS`` (a few large files) stages in this process and
        never pays a child's start (~0.5 s of CPU: it imports SQLAlchemy)."""
        if store.catalog.engine.dialect.name != "sqlite":
            return None
        with store.catalog.engine.connect() as conn:
            store._run_of(conn, session_id)  # UnknownSession now, not in the catalog thread
        return DeferredStaging(store, session_id)

    @classmethod
    def on(cls, engine: sa.Engine, session_id: int, run_id: int) -> FileStaging:
        """Staging on a new connection of ``engine`` (SQLite)."""
        insert = _insert_sql(engine.dialect)
        assert insert is not None
        conn = engine.connect()
        try:
            return cls(conn, session_id, run_id, insert.sql)
        except BaseException:
            conn.close()
            raise

    def _tx(self, *, write: bool) -> Any:
        self._conn.execution_options(**{WRITE_LOCK_OPTION: write})
        return self._conn.begin()

    def stage(self, rows: Iterable[FileRow | tuple[Any, ...]]) -> int:
        """Insert rows (``FileRow`` or the tuple of its fields) after those staged before;
        they stay invisible until published. Returns how many."""
        insert = self._insert
        assert insert is not None
        run_id, session_id = self.run_id, self.session_id
        params = [_positional(insert, run_id, session_id, row) for row in rows]
        if params:
            with self._tx(write=False):
                self._conn.exec_driver_sql(self._stage_sql, params)
            self.staged += len(params)
        return len(params)

    def publish(self, upto: int) -> int:
        """Make staged rows up to number ``upto`` part of the catalog, in one transaction
        (call only after the drive flushed their records). Returns how many were added."""
        upto = min(upto, self.staged)
        if upto <= self.published:
            return 0
        with self._tx(write=True):
            added = self._conn.exec_driver_sql(self._publish_sql, (upto,)).rowcount
            self._conn.exec_driver_sql(self._forget_sql, (upto,))
        self.published = upto
        return int(added)

    def close(self) -> None:
        """Drop what was not published (a failure after the last checkpoint) and release the
        connection. Idempotent."""
        conn = self._conn
        if conn.closed:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
            with self._tx(write=False):
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{TABLE}")
        finally:
            conn.close()


class StagingChild:
    """``FileStaging`` run by a child process on the same SQLite file (module docstring);
    same methods. A failure there (SQLite's error, or the child gone) is a ``CatalogError``."""

    def __init__(self, path: str, session_id: int, run_id: int) -> None:
        self._child: PickleChild | None = PickleChild(
            __name__, [path, str(session_id), str(run_id)]
        )

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
        """Unpublished rows are dropped with the child's connection. Idempotent."""
        child, self._child = self._child, None
        if child is not None:
            child.close()


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
        return self._open(len(rows)).stage(rows)

    def publish(self, upto: int) -> int:
        return self._open(0).publish(upto)

    def close(self) -> None:
        if self._real is not None:
            self._real.close()


def _serve(path: str, session_id: int, run_id: int) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    sa.event.listen(engine, "begin", _sqlite_begin)
    staging = FileStaging.on(engine, session_id, run_id)

    def handle(request: tuple[str, Any]) -> tuple[str, object]:
        op, arg = request
        try:
            return "ok", staging.stage(arg) if op == "stage" else staging.publish(arg)
        except Exception as exc:  # the parent raises it as a CatalogError
            orig = getattr(exc, "orig", None)
            return "error", str(orig if orig is not None else exc).splitlines()[0]

    try:
        serve_stdio(handle)
    finally:
        staging.close()
        engine.dispose()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
