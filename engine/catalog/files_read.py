"""The catalog reads of a point in time (engine/restore/asof.py: ``tapir ls``, restore) and of
``tapir browse``, written once as SQL text and run by either of two drivers:

- SQLAlchemy (``FilesStore``: any database, ``sa.text``), or
- ``sqlite3`` itself (engine/catalog/sqlite_reads.py: a SQLite catalog at head), so that
  ``tapir ls`` and ``tapir browse`` need not import SQLAlchemy, which costs more CPU than their
  queries on a catalog of a million files (issue 5: a browse answers in under 1 s).

Both take the same text: ``:name`` parameters, a list (``IN``) spelled out as ``:p0, :p1, ...``,
every column quoted (``offset`` is an SQL keyword). Values come back as the driver gives them
and go through one conversion here: ``bytes`` for blobs (PostgreSQL's driver gives a
memoryview), aware UTC datetimes for times (SQLite stores text; engine/catalog/schema.py
``UtcDateTime``), ``Change`` for the change column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from engine.catalog.files_model import (
    ROW_FIELDS,
    BackupRun,
    Change,
    FileRow,
    FileVersion,
    join_path,
    normalize,
    split_path,
)
from engine.jobs.states import SUCCESS_STATUSES

Query = Callable[[str, Mapping[str, Any]], list[Sequence[Any]]]
"""Runs one SQL text with its parameters; returns the rows as tuples."""

_SUCCESS = frozenset(s.value for s in SUCCESS_STATUSES)
ROW_COLUMNS = ", ".join(['f."run_id"', 'f."parent"', 'f."name"', *(f'f."{c}"' for c in ROW_FIELDS)])
"""``FileRow`` as columns: run_id, parent, name, then its fields in order (``file_row``)."""
ROW_WIDTH = 3 + len(ROW_FIELDS)
assert ROW_FIELDS[-1] == "change", "file_row() builds FileRow positionally"

BACKUP_RUNS = (
    'SELECT r."id", r."job_id", j."name", r."number", r."base_run_id", r."ended_at", r."status" '
    'FROM "runs" r JOIN "jobs" j ON j."id" = r."job_id" '
    'WHERE r."level" IS NOT NULL AND r."started_at" IS NOT NULL'
)
LISTED_JOIN = (
    'JOIN "runs" r ON r."id" = f."run_id" AND (r."files_upto" IS NULL OR f."id" <= r."files_upto")'
)
"""``files f`` joined with its run ``r``, the rows the catalog lists only: schema.LISTED
(the same rule in SQLAlchemy) says which and why."""
DROP_UNLISTED = (
    'DELETE FROM "files" WHERE "id" > (SELECT "files_upto" FROM "runs" WHERE "id" = :run) '
    'AND +"run_id" = :run'
)
"""Delete the run's rows no checkpoint covered (a backup that failed or died after its last
one): they could never be listed. ``+`` keeps SQLite on the id range above the bound (a few
rows) rather than the run's index (all its rows)."""
VERSIONS = (
    f'SELECT {ROW_COLUMNS}, r."job_id", r."number", r."ended_at", f."session_id" '
    f'FROM "files" f {LISTED_JOIN} '
    'WHERE f."parent" = :parent AND f."name" = :name{job} '
    'ORDER BY r."started_at", f."id"'
)


def in_list(prefix: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """``:p0, :p1, ...`` and their parameters: an ``IN`` list both drivers take."""
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{name}" for name in params), params


def utc(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite: ``YYYY-MM-DD HH:MM:SS.ffffff`` text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


def _bytes(value: Any) -> Any:
    return value if value is None or type(value) is bytes else bytes(value)


def file_row(r: Sequence[Any]) -> FileRow:
    """A row of ``ROW_COLUMNS`` as a ``FileRow`` (per row of a whole tree: kept lean)."""
    change = r[-1]
    found = FileRow(
        join_path(_bytes(r[1]), _bytes(r[2])),
        *r[3:-1],
        Change(change) if change is not None else None,
        r[0],
    )
    found.link_target = _bytes(found.link_target)  # the blobs
    found.checksum = _bytes(found.checksum)
    return found


def resolve(rows: Iterable[FileRow], chain: Sequence[int]) -> dict[bytes, FileRow]:
    """Newest run of ``chain`` (newest first) wins per path; deletions remove the path."""
    rank = {run_id: i for i, run_id in enumerate(chain)}
    best: dict[bytes, FileRow] = {}
    for r in rows:
        kept = best.get(r.path)
        if kept is None or rank[r.run_id] < rank[kept.run_id]:  # type: ignore[index]
            best[r.path] = r
    return {p: r for p, r in best.items() if r.change is not Change.DELETED}


class FileReads(Protocol):
    """What a point in time (engine/restore/asof.py) reads: ``FilesReader`` or ``FilesStore``."""

    def backup_runs(self) -> list[BackupRun]: ...

    def session_sources(self, run_ids: Iterable[int]) -> list[tuple[int, bytes]]: ...

    def list_directory(
        self, directory: bytes | str, run_id: int, *, chain: Sequence[int] | None = None
    ) -> list[FileRow]: ...

    def versions(self, path: bytes | str, job_id: int | None = None) -> list[FileVersion]: ...


class FilesReader:
    """The reads above over one ``Query``. Each call is one query (one transaction)."""

    def __init__(self, query: Query) -> None:
        self.query = query

    def backup_runs(self) -> list[BackupRun]:
        """Every started backup run (a run with a level), newest end first (unended last).

        One query over ``runs`` (one row per backup, thousands at most): points in time
        (engine/restore/asof.py) resolve chains from it in memory, not with a query per link.
        """
        found = [
            BackupRun(r[0], r[1], r[2], r[3], r[4], utc(r[5]), r[6] in _SUCCESS)
            for r in self.query(BACKUP_RUNS, {})
        ]
        never = datetime.min.replace(tzinfo=UTC)
        found.sort(key=lambda r: (r.ended_at or never, r.id), reverse=True)
        return found

    def session_sources(self, run_ids: Iterable[int]) -> list[tuple[int, bytes]]:
        """(run, backed-up source) of each session of ``run_ids``: where backups are rooted."""
        listed, params = in_list("r", run_ids)
        if not params:
            return []
        sql = f'SELECT "run_id", "source" FROM "sessions" WHERE "run_id" IN ({listed})'
        return [(r[0], bytes(r[1])) for r in self.query(sql, params)]

    def directory(self, chain: Sequence[int], directory: bytes) -> dict[bytes, FileRow]:
        """``path -> row`` of the entries of ``directory`` in ``chain`` (newest run first)."""
        listed, params = in_list("r", chain)
        sql = (
            f'SELECT {ROW_COLUMNS} FROM "files" f {LISTED_JOIN} '
            f'WHERE f."run_id" IN ({listed}) AND f."parent" = :parent'
        )
        rows = self.query(sql, {**params, "parent": directory})
        return resolve((file_row(r) for r in rows), chain)

    def chain(self, run_id: int) -> list[int]:
        """``run_id``, its base, its base's base, ... (newest first)."""
        found: list[int] = []
        current: int | None = run_id
        while current is not None and current not in found:
            found.append(current)
            rows = self.query('SELECT "base_run_id" FROM "runs" WHERE "id" = :id', {"id": current})
            current = rows[0][0] if rows else None
        return found

    def list_directory(
        self, directory: bytes | str, run_id: int, *, chain: Sequence[int] | None = None
    ) -> list[FileRow]:
        """The entries of ``directory`` as of ``run_id`` (its chain resolved), by name.
        ``chain``: ``run_id``'s chain when the caller already has it (saves a query a link)."""
        chain = chain if chain is not None else self.chain(run_id)
        found = self.directory(chain, normalize(directory))
        return sorted(found.values(), key=lambda r: r.path)

    def versions(self, path: bytes | str, job_id: int | None = None) -> list[FileVersion]:
        """Every row any run recorded for ``path`` (deletions included), oldest first."""
        parent, name = split_path(normalize(path))
        params: dict[str, Any] = {"parent": parent, "name": name}
        job = ""
        if job_id is not None:
            job, params["job"] = ' AND r."job_id" = :job', job_id
        return [
            FileVersion(file_row(r[:ROW_WIDTH]), r[ROW_WIDTH], r[ROW_WIDTH + 1], utc(r[-2]), r[-1])
            for r in self.query(VERSIONS.format(job=job), params)
        ]
