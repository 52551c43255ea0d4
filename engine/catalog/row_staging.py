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

import pickle
import sqlite3
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

from engine.catalog.files_model import FileRow, normalize, row_params, split_path
from engine.catalog.head import SQLITE_PRAGMAS
from engine.child_process import serve_stdio

TABLE = "tapir_staged_files"
PLAIN_NULLS = frozenset(
    {
        "change",
        "link_target",
        "link_group",
        "exception_category",
        "exception_code",
        "exception_sentence",
        "exception_offset",
    }
)
"""The columns a ``PlainRows`` row leaves NULL."""
PLAIN_BLOBS = ("checksum",)
"""Its byte-string columns besides the path's parent and name."""


class PlainRows(list):  # type: ignore[type-arg]
    """Rows (tuples of ``FileRow``'s fields) of clean regular files stored whole in a full
    backup: no link, no exception, no change. Staged with their own statement: NULL written
    in the SQL, byte strings bound as ``bytearray``. Why: ``sqlite3`` binds ``None`` and
    ``bytes`` through its adapter lookup, ~0.3 us each against ~0.06 for an int, which was
    two thirds of staging a row (11 of its 27 values)."""

    __slots__ = ()


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


class PlainBlob(NamedTuple):
    """``PlainRows`` as a reader worker process sent them (engine/backup/read_worker.py):
    the pickled list of their row heads (``FileRow``'s fields up to the checksum), handed
    through the backup process untouched, with the part and each row's (record, offset).
    Why: the backup process then neither unpickles nor re-pickles a row per file."""

    blob: bytes
    part: int
    placed: list[tuple[int, int]]

    def heads(self) -> list[tuple[Any, ...]]:
        heads: list[tuple[Any, ...]] = pickle.loads(self.blob)
        if len(heads) != len(self.placed):
            raise ValueError("a plain blob's rows and positions differ in number")
        return heads


def row_count(rows: Iterable[object]) -> int:
    """Rows in a ``stage`` argument (a ``PlainRows`` or ``PlainBlob`` counts its rows)."""
    count = 0
    for r in rows:
        kind = type(r)
        count += len(r) if kind is PlainRows else len(r.placed) if kind is PlainBlob else 1  # type: ignore[arg-type,attr-defined]
    return count


class RowStaging:
    """One session's staged rows on ``conn`` (module docstring). One thread at a time.
    Staged rows are numbered from 1 in the order they came; ``publish(upto)`` makes rows
    1..upto part of the catalog (those not yet published)."""

    def __init__(self, conn: Any, session_id: int, run_id: int, plan: StagingPlan) -> None:
        self._conn = conn
        self.session_id, self.run_id, self.plan = session_id, run_id, plan
        columns = plan.columns
        into = f"INSERT INTO temp.{TABLE} "
        self._stage_sql = plan.insert_sql.replace("INSERT INTO files ", into, 1)
        self._publish_sql = (
            f"INSERT INTO files ({columns}) SELECT {columns} FROM temp.{TABLE} "
            "WHERE seq <= ? ORDER BY seq"
        )
        self._forget_sql = f"DELETE FROM temp.{TABLE} WHERE seq <= ?"
        self._plain_sql, self._plain_values, self._plain_row_values = _plain_statement(into, plan)
        self.staged = 0
        self.published = 0
        with self._tx("BEGIN"):
            conn.execute(f"DROP TABLE IF EXISTS temp.{TABLE}")
            # seq: the rowid (no AUTOINCREMENT: rows are only added, and deleted from the front)
            conn.execute(f"CREATE TEMP TABLE {TABLE} (seq INTEGER PRIMARY KEY, {columns})")

    def _tx(self, begin: str) -> _Transaction:
        return _Transaction(self._conn, begin)

    def stage(self, rows: Iterable[FileRow | tuple[Any, ...] | PlainRows | PlainBlob]) -> int:
        """Insert rows (``FileRow``, the tuple of its fields, a ``PlainRows`` or ``PlainBlob``)
        after those staged before, in order; they stay invisible until published. Returns
        how many."""
        plan, run_id, session_id = self.plan, self.run_id, self.session_id
        tuple_at, change_at = plan.tuple_at, plan.change_at
        conn = self._conn
        count = 0
        general: list[tuple[Any, ...]] = []
        with self._tx("BEGIN"):
            for row in rows:
                kind = type(row)
                if kind is PlainRows or kind is PlainBlob:
                    if general:
                        conn.executemany(self._stage_sql, general)
                        count += len(general)
                        general = []
                    plain = self._plain_params(row)  # type: ignore[arg-type]
                    conn.executemany(self._plain_sql, plain)
                    count += len(plain)
                    continue
                general.append(
                    row_params(
                        row if type(row) is tuple else _as_tuple(row),  # type: ignore[arg-type]
                        tuple_at,
                        change_at,
                        run_id,
                        session_id,
                    )
                )
            if general:
                conn.executemany(self._stage_sql, general)
                count += len(general)
        self.staged += count
        return count

    def _plain_params(self, rows: PlainRows | PlainBlob) -> list[tuple[Any, ...]]:
        values, session_id, run_id = self._plain_values, self.session_id, self.run_id
        if type(rows) is PlainBlob:
            part = rows.part
            return [
                values(head, part, record, offset, session_id, run_id)
                for head, (record, offset) in zip(rows.heads(), rows.placed, strict=True)
            ]
        row_values = self._plain_row_values
        return [row_values(r, session_id, run_id) for r in rows]

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


PLACED = ("part", "record", "offset")
"""The position columns, bound from the arguments of a plain row's ``values`` (a
``PlainBlob`` carries them beside its row heads)."""


def _plain_statement(
    into: str, plan: StagingPlan
) -> tuple[str, Callable[..., tuple[Any, ...]], Callable[..., tuple[Any, ...]]]:
    """The INSERT of plain rows and the function making one row's parameters from the row's
    fields up to the checksum (a row head) and its position, and the same from a whole row:
    session, run, parent, name and the checksum (as ``bytearray``) first, then the other
    values, then part, record and offset."""
    columns = [c.strip().strip('"') for c in plan.columns.split(",")]
    quoted = [c.strip() for c in plan.columns.split(",")]
    fields = dict(zip(columns[4:], plan.tuple_at, strict=True))
    blobs = [c for c in PLAIN_BLOBS if c in fields]
    rest = [c for c in columns[4:] if c not in PLAIN_NULLS and c not in blobs and c not in PLACED]
    nulls = [c for c in columns[4:] if c in PLAIN_NULLS]
    order = [*columns[:4], *blobs, *rest, *PLACED, *nulls]
    names = {c: q for c, q in zip(columns, quoted, strict=True)}
    marks = ["?"] * (4 + len(blobs) + len(rest) + len(PLACED)) + ["NULL"] * len(nulls)
    sql = f"{into}({', '.join(names[c] for c in order)}) VALUES ({', '.join(marks)})"
    (checksum_at,) = [fields[c] for c in blobs]
    pick = itemgetter(*(fields[c] for c in rest))

    def values(
        row: tuple[Any, ...], part: int, record: int, offset: int, session_id: int, run_id: int
    ) -> tuple[Any, ...]:
        parent, name = split_path(normalize(row[0]))
        return (
            session_id,
            run_id,
            bytearray(parent),
            bytearray(name),
            bytearray(row[checksum_at]),
            *pick(row),
            part,
            record,
            offset,
        )

    part_at, record_at, offset_at = (fields[c] for c in PLACED)

    def row_values(row: tuple[Any, ...], session_id: int, run_id: int) -> tuple[Any, ...]:
        return values(row, row[part_at], row[record_at], row[offset_at], session_id, run_id)

    return sql, values, row_values


def first_line(exc: BaseException) -> str:
    """An error's first line (SQLite's message), for a one-line ``CatalogError``."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]


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
            return "error", first_line(exc)

    try:
        serve_stdio(handle)
    finally:
        if staging is not None:
            staging.close()
        conn.close()


if __name__ == "__main__":
    # run from the package's module, not ``__main__``: the ``PlainRows`` the parent pickles
    # are that module's class
    from engine.catalog import row_staging

    row_staging._serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
