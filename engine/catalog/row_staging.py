"""``RowStaging``: a backup's file rows inserted into ``files`` as they come, unlisted, and
listed at checkpoints (files_staging.py says why and how).

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

import bisect
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
from engine.catalog.files_read import DROP_UNLISTED
from engine.catalog.head import SQLITE_PRAGMAS
from engine.child_process import serve_stdio

CHECKPOINT_ROWS = 12_000
"""The staging child checkpoints the WAL after this many rows (~500 pages of WAL, under
SQLite's autocheckpoint of 1,000 that another connection's commit would run) and after each
publish."""
BOUND_SQL = 'UPDATE "runs" SET "files_upto" = :upto WHERE "id" = :run'
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
    """One session's rows on ``conn`` (module docstring). One thread at a time. Rows are
    numbered from 1 in the order they were staged; ``publish(upto)`` makes rows 1..upto
    listed (those not yet published)."""

    def __init__(self, conn: Any, session_id: int, run_id: int, plan: StagingPlan) -> None:
        self._conn = conn
        self.session_id, self.run_id, self.plan = session_id, run_id, plan
        self._stage_sql = plan.insert_sql
        self._plain_sql, self._plain_row_values = _plain_statement(plan, session_id, run_id)
        self.staged = 0
        self.published = 0
        self._bounded = False
        """The run's ``files_upto`` is set below this staging's rows (``_start``)."""
        self._ends: list[tuple[int, int]] = []
        """Per stage transaction not wholly published: (number of its last row, its id).
        A transaction's rows have consecutive ids (SQLite gives a new row the largest id + 1,
        and the transaction holds the write lock), so any staged row's id is known."""

    def _tx(self, begin: str) -> _Transaction:
        return _Transaction(self._conn, begin)

    def _start(self) -> None:
        """In the first stage's transaction: drop rows an earlier staging of this run left
        unlisted (it died), then bound the run's listed rows below every row staged from
        now on."""
        conn, run = self._conn, {"run": self.run_id}
        conn.execute(DROP_UNLISTED, run)
        (top,) = conn.execute("SELECT coalesce(max(id), 0) FROM files").fetchone()
        conn.execute(BOUND_SQL, {"upto": top, **run})

    def stage(self, rows: Iterable[FileRow | tuple[Any, ...] | PlainRows | PlainBlob]) -> int:
        """Insert rows (``FileRow``, the tuple of its fields, a ``PlainRows`` or ``PlainBlob``)
        after those staged before, in order, in one transaction; they stay unlisted until
        published. Returns how many."""
        plan, run_id, session_id = self.plan, self.run_id, self.session_id
        tuple_at, change_at = plan.tuple_at, plan.change_at
        conn = self._conn
        count = 0
        general: list[tuple[Any, ...]] = []
        with self._tx("BEGIN IMMEDIATE"):  # a writer: wait for the lock up front (db.py)
            starting = not self._bounded
            if starting:
                self._start()
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
            if count:
                (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
        if starting:  # committed: a failed first stage leaves the next one to start
            self._bounded = True
        if count:
            self.staged += count
            self._ends.append((self.staged, int(last)))
        return count

    def _plain_params(self, rows: PlainRows | PlainBlob) -> Iterable[tuple[Any, ...]]:
        if type(rows) is PlainBlob:  # head + (part, record, offset), in C
            positions = map(add, repeat((rows.part,)), rows.placed)
            return map(add, rows.heads(), positions)
        return map(self._plain_row_values, rows)

    def publish(self, upto: int) -> int:
        """Make staged rows up to number ``upto`` listed: one small transaction, whatever
        their number (call only after the drive flushed their records). Returns how many
        were added."""
        upto = min(upto, self.staged)
        if upto <= self.published:
            return 0
        ends = self._ends
        at = bisect.bisect_left(ends, (upto,))
        end, last = ends[at]
        bound = last - (end - upto)
        with self._tx("BEGIN IMMEDIATE"):
            self._conn.execute(BOUND_SQL, {"upto": bound, "run": self.run_id})
        added = upto - self.published
        self.published = upto
        del ends[: at + 1 if end == upto else at]
        return added

    def close(self) -> None:
        """Delete what was staged and never published (a failure after the last
        checkpoint). Idempotent; the caller closes the connection."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if self.staged > self.published:
            # tidying: rows left unlisted are never read, and the run's next staging or
            # its end (jobs_store) drops them too
            with contextlib.suppress(sqlite3.Error), _Transaction(conn, "BEGIN IMMEDIATE"):
                conn.execute(DROP_UNLISTED, {"run": self.run_id})


PLACED = ("part", "record", "offset")
"""The position columns, bound from the arguments of a plain row's ``values`` (a
``PlainBlob`` carries them beside its row heads)."""


def _plain_statement(
    plan: StagingPlan, session_id: int, run_id: int
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
    sql = f"INSERT INTO files ({names}) VALUES ({', '.join(marks)})"
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
        """The WAL checkpoint of what a stage or publish wrote, after its reply, not in it
        (the backup waits for a publish, and its last one is the backup's tail). Why here:
        the backup process's next catalog write would otherwise checkpoint every row
        staged so far (SQLite's autocheckpoint, ~70 ms per 100,000 rows) on its format
        thread or at its end. Maintenance: a failure is SQLite's to retry at the next commit
        (anyone's), never the backup's."""
        nonlocal checkpointed
        if staging is None:
            return
        published = staging.published > checkpointed[1]
        if published or staging.staged - checkpointed[0] >= CHECKPOINT_ROWS:
            checkpointed = staging.staged, staging.published
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    checkpointed = (0, 0)
    try:
        serve_stdio(handle, checkpoint)
    finally:
        if staging is not None:
            staging.close()  # unpublished rows go
        conn.close()


def main(argv: list[str]) -> None:
    """``python -m engine.catalog.row_staging PATH SESSION RUN`` (engine/child_process.py)."""
    _serve(argv[0], int(argv[1]), int(argv[2]))


if __name__ == "__main__":
    # run from the package's module, not ``__main__``: the ``PlainRows`` the parent pickles
    # are that module's class
    from engine.catalog import row_staging

    row_staging.main(sys.argv[1:])
