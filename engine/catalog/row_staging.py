"""``RowStaging``: a backup's file rows in a TEMP table of one SQLite connection, published
into ``files`` at checkpoints (files_staging.py says why and when).

Plain DB-API (``sqlite3``), no SQLAlchemy: the staging child process
(``python -m engine.catalog.row_staging PATH``) starts without importing it (~0.2 s of CPU
per backup, as much as staging 25,000 rows), and the in-process staging runs the same code on
a raw connection of the catalog's engine. The SQL and the row layout come in a
``StagingPlan`` built from the catalog's table by files_staging.py, so the columns are written
in one place.

The connection must be in autocommit mode (``isolation_level = None``, as db.py's engine and
``_connect`` here set it): each method runs its own BEGIN ... COMMIT.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.catalog.files_model import FileRow, row_params
from engine.catalog.head import SQLITE_PRAGMAS
from engine.child_process import serve_stdio

TABLE = "tapir_staged_files"


@dataclass(frozen=True, slots=True)
class StagingPlan:
    """What staging needs of the catalog's ``files`` INSERT (files_store._insert_sql)."""

    columns: str
    """The INSERT's column list, comma-separated."""
    insert_sql: str
    """``INSERT INTO files (columns) VALUES (?, ...)``."""
    tuple_at: tuple[int, ...]
    """Where each FileRow field after (session_id, run_id, parent, name), in parameter
    order, is in a row tuple."""
    change_at: int


class RowStaging:
    """One session's staged rows on ``conn`` (module docstring). One thread at a time.
    Staged rows are numbered from 1 in the order they came; ``publish(upto)`` makes rows
    1..upto part of the catalog (those not yet published)."""

    def __init__(self, conn: Any, session_id: int, run_id: int, plan: StagingPlan) -> None:
        self._conn = conn
        self.session_id, self.run_id, self.plan = session_id, run_id, plan
        columns = plan.columns
        self._stage_sql = plan.insert_sql.replace(
            "INSERT INTO files ", f"INSERT INTO temp.{TABLE} ", 1
        )
        self._publish_sql = (
            f"INSERT INTO files ({columns}) SELECT {columns} FROM temp.{TABLE} "
            "WHERE seq <= ? ORDER BY seq"
        )
        self._forget_sql = f"DELETE FROM temp.{TABLE} WHERE seq <= ?"
        self.staged = 0
        self.published = 0
        with self._tx("BEGIN"):
            conn.execute(f"DROP TABLE IF EXISTS temp.{TABLE}")
            # seq: the rowid (no AUTOINCREMENT: rows are only added, and deleted from the front)
            conn.execute(f"CREATE TEMP TABLE {TABLE} (seq INTEGER PRIMARY KEY, {columns})")

    def _tx(self, begin: str) -> _Transaction:
        return _Transaction(self._conn, begin)

    def stage(self, rows: Iterable[FileRow | tuple[Any, ...]]) -> int:
        """Insert rows (``FileRow`` or the tuple of its fields) after those staged before;
        they stay invisible until published. Returns how many."""
        plan, run_id, session_id = self.plan, self.run_id, self.session_id
        tuple_at, change_at = plan.tuple_at, plan.change_at
        params = [
            row_params(
                row if type(row) is tuple else _as_tuple(row),
                tuple_at,
                change_at,
                run_id,
                session_id,
            )
            for row in rows
        ]
        if params:
            with self._tx("BEGIN"):
                self._conn.executemany(self._stage_sql, params)
            self.staged += len(params)
        return len(params)

    def publish(self, upto: int) -> int:
        """Make staged rows up to number ``upto`` part of the catalog, in one transaction
        (call only after the drive flushed their records). Returns how many were added."""
        upto = min(upto, self.staged)
        if upto <= self.published:
            return 0
        with self._tx("BEGIN IMMEDIATE"):  # a writer: wait for the lock up front (db.py)
            added = self._conn.execute(self._publish_sql, (upto,)).rowcount
            self._conn.execute(self._forget_sql, (upto,))
        self.published = upto
        return int(added)

    def close(self) -> None:
        """Drop what was not published (a failure after the last checkpoint). Idempotent;
        the caller closes the connection."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute(f"DROP TABLE IF EXISTS temp.{TABLE}")


def _as_tuple(row: FileRow) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in FileRow.__dataclass_fields__)


class _Transaction:
    """BEGIN ... COMMIT, ROLLBACK on an exception."""

    def __init__(self, conn: Any, begin: str) -> None:
        self.conn, self.begin = conn, begin

    def __enter__(self) -> None:
        self.conn.execute(self.begin)

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:  # SQLite may have rolled back already
            self.conn.execute("ROLLBACK")


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    return conn


def _serve(path: str, session_id: int, run_id: int) -> None:
    """The staging child: ("open", plan) first, then ("stage", rows) and ("publish", upto);
    each answered ("ok", count) or ("error", SQLite's first line)."""
    conn = _connect(path)
    staging: RowStaging | None = None

    def handle(request: tuple[str, Any]) -> tuple[str, object]:
        nonlocal staging
        op, arg = request
        try:
            if op == "open":
                staging = RowStaging(conn, session_id, run_id, arg)
                return "ok", 0
            assert staging is not None, "staging used before it was opened"
            return "ok", staging.stage(arg) if op == "stage" else staging.publish(arg)
        except Exception as exc:  # the parent raises it as a CatalogError
            return "error", (str(exc).splitlines() or [type(exc).__name__])[0]

    try:
        serve_stdio(handle)
    finally:
        if staging is not None:
            staging.close()
        conn.close()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
