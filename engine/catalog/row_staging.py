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

import contextlib
import pickle
import sqlite3
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import repeat
from operator import add, itemgetter
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
STAGED_FIELDS = (
    "parent", "name", "checksum", "kind", "size", "mode", "uid", "gid", "uname", "gname",
    "mtime_ns", "ctime_ns", "inode", "dev", "nlink",
)  # fmt: skip
"""The columns of a plain row bound before its position (part, record, offset), in this
order: a ``PlainBlob``'s row heads are these values (engine/backup/rows.staged_row_head),
the byte strings as ``bytearray``."""


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
    the pickled list of their row heads (``STAGED_FIELDS``), handed through the backup
    process untouched, with the part and each row's (record, offset). Why: the backup
    process then neither unpickles nor re-pickles a row per file, and the staging makes a
    row's parameters as head + position in C (``map``), with no Python call per row."""

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
            "WHERE seq > ? AND seq <= ? ORDER BY seq"
        )
        self._forget_sql = f"DELETE FROM temp.{TABLE} WHERE seq < ?"
        """Published rows go, but the last: a new row's ``seq`` is one more than the largest
        left, so an emptied table would number the next rows from 1 again, and a publish
        would then take rows its checkpoint does not cover."""
        self._plain_sql, self._plain_row_values = _plain_statement(into, plan, session_id, run_id)
        self.staged = 0
        self.published = 0
        self._forgotten = 0
        with self._tx("BEGIN"):
            conn.execute(f"DROP TABLE IF EXISTS temp.{TABLE}")
            # seq: the rowid, numbering rows as ``staged`` counts them (``_forget_sql``)
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
            if self._forgotten < self.published:  # off the publish's path (the backup's tail)
                conn.execute(self._forget_sql, (self.published,))
                self._forgotten = self.published
            for row in rows:
                kind = type(row)
                if kind is PlainRows or kind is PlainBlob:
                    if general:
                        conn.executemany(self._stage_sql, general)
                        count += len(general)
                        general = []
                    conn.executemany(self._plain_sql, self._plain_params(row))  # type: ignore[arg-type]
                    count += row_count((row,))
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

    def _plain_params(self, rows: PlainRows | PlainBlob) -> Iterable[tuple[Any, ...]]:
        if type(rows) is PlainBlob:  # head + (part, record, offset), in C
            positions = map(add, repeat((rows.part,)), rows.placed)
            return map(add, rows.heads(), positions)
        return map(self._plain_row_values, rows)

    def publish(self, upto: int) -> int:
        """Make staged rows up to number ``upto`` part of the catalog, in one transaction
        (call only after the drive flushed their records). Returns how many were added."""
        upto = min(upto, self.staged)
        if upto <= self.published:
            return 0
        with self._tx("BEGIN IMMEDIATE"):  # a writer: wait for the lock up front (db.py)
            added = self._conn.execute(self._publish_sql, (self.published, upto)).rowcount
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
    into: str, plan: StagingPlan, session_id: int, run_id: int
) -> tuple[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
    """The INSERT of plain rows, taking a ``STAGED_FIELDS`` head and the position (session
    and run written in the SQL, as the NULLs), and the function making those parameters
    from a whole row (the tuple of FileRow's fields)."""
    columns = [c.strip().strip('"') for c in plan.columns.split(",")]
    quoted = {c: q.strip() for c, q in zip(columns, plan.columns.split(","), strict=True)}
    fields = dict(zip(columns[4:], plan.tuple_at, strict=True))
    nulls = [c for c in columns[4:] if c in PLAIN_NULLS]
    bound = [*STAGED_FIELDS, *PLACED]
    if sorted(columns) != sorted([*columns[:2], *bound, *nulls]):
        raise ValueError("the catalog's files columns are not those plain rows stage")
    marks = [str(int(session_id)), str(int(run_id))] + ["?"] * len(bound) + ["NULL"] * len(nulls)
    names = ", ".join(quoted[c] for c in [*columns[:2], *bound, *nulls])
    sql = f"{into}({names}) VALUES ({', '.join(marks)})"
    checksum_at = fields["checksum"]
    pick = itemgetter(*(fields[c] for c in STAGED_FIELDS[3:]), *(fields[c] for c in PLACED))

    def row_values(row: tuple[Any, ...]) -> tuple[Any, ...]:
        parent, name = split_path(normalize(row[0]))
        return (bytearray(parent), bytearray(name), bytearray(row[checksum_at]), *pick(row))

    return sql, row_values


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
    conn.execute("PRAGMA wal_autocheckpoint=0")  # ``checkpoint`` below does it
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

    def checkpoint() -> None:
        """After a publish's reply, not in it: the backup waits for the publish, and its
        last one is the backup's tail. Maintenance: a failure is SQLite's to retry at the
        next commit (anyone's), never the backup's."""
        nonlocal checkpointed
        if staging is not None and staging.published > checkpointed:
            checkpointed = staging.published
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    checkpointed = 0
    try:
        serve_stdio(handle, checkpoint)
    finally:
        conn.close()  # the TEMP table goes with it, unpublished rows included


def main(argv: list[str]) -> None:
    """``python -m engine.catalog.row_staging PATH SESSION RUN`` (engine/child_process.py)."""
    _serve(argv[0], int(argv[1]), int(argv[2]))


if __name__ == "__main__":
    # run from the package's module, not ``__main__``: the ``PlainRows`` the parent pickles
    # are that module's class
    from engine.catalog import row_staging

    row_staging.main(sys.argv[1:])
