"""``FilesStore``: sessions, their volume parts, and the file records of each run.

Checkpoints only: the backup pipeline calls ``add_files`` after the drive flushed the records
holding those members (WRITE FILEMARKS / a synchronizing flush), one transaction per batch, so
the catalog never lists a file a power loss could have eaten (shared/DESIGN.md "Catalog").

Incremental chains: an incremental or differential run stores only what it archived (changed,
new, and the directories, links and special files it always stores), the files it skipped
(rows without a position, with their exception) and the files it found deleted (rows with
``change = deleted``, recorded by the pipeline through ``engine/catalog/base_view.py``). Its
``base_run_id`` names the run it compared against. The tree *as of* run N is therefore the
chain N, base(N), base(base(N)), ... down to a full: for each path the row of the newest run in
the chain wins, and a winning deletion means the path was gone. Every lookup below resolves
chains this way, one indexed query per directory (``ix_files_run_parent_name``).

The reads of points in time and ``tapir browse`` (backup runs, session sources, directory
listings, versions) are SQL text in files_read.py, run here through SQLAlchemy and by
sqlite_reads.py through sqlite3 alone (``tapir ls`` without importing SQLAlchemy).

Each method is one transaction on its own connection: safe from several threads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.catalog.db import Catalog
from engine.catalog.files_model import (
    ROW_FIELDS,
    BackupRun,
    Change,
    FileRow,
    FileVersion,
    SessionPart,
    child_range,
    normalize,
    row_params,
    split_path,
)
from engine.catalog.files_read import DROP_UNLISTED, FilesReader, file_row, resolve
from engine.catalog.schema import LISTED_FILES, files, runs, session_parts, sessions
from engine.jobs.states import SUCCESS_STATUSES

if TYPE_CHECKING:  # imported by the methods for backups: tapir ls and browse need none of them
    from engine.backup.levels import PreviousRecord, RunSummary


class UnknownSession(LookupError):
    code = "files.unknown_session"


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


_SUCCESS = [s.value for s in SUCCESS_STATUSES]
_ROW_COLUMNS = [files.c.run_id, files.c.parent, files.c.name, *(files.c[f] for f in ROW_FIELDS)]
"""files_read.ROW_COLUMNS as SQLAlchemy columns: rows of both go through file_row."""


def _params(run_id: int, session_id: int, row: FileRow) -> dict[str, Any]:
    parent, name = split_path(normalize(row.path))
    values = {f: getattr(row, f) for f in ROW_FIELDS}
    if row.change is not None:
        values["change"] = row.change.value
    return {"session_id": session_id, "run_id": run_id, "parent": parent, "name": name, **values}


_KEYS = ("session_id", "run_id", "parent", "name")
_FIELD_AT = {f.name: i for i, f in enumerate(dataclasses.fields(FileRow))}
"""Index of each FileRow field in a row tuple (``add_files`` takes ``FileRow(*tuple)`` rows
as tuples too: the backup's small-files path builds no objects)."""


@dataclass(frozen=True, slots=True)
class _Insert:
    sql: str
    fields: Callable[[FileRow], tuple[Any, ...]]
    """The FileRow fields in the statement's parameter order (after ``_KEYS``)."""
    change_at: int
    tuple_at: tuple[int, ...]
    """Where each of those fields is in a row tuple."""


@cache
def _insert_sql(dialect: sa.Dialect) -> _Insert | None:
    """The INSERT compiled once per dialect with positional parameters, or None when the
    driver takes named ones. ``add_files`` hands tuples straight to the driver's
    ``executemany``: per-row SQLAlchemy parameter processing cost more than SQLite's insert
    itself (bench/catalog_scale.py); every column here is a plain int, str or bytes."""
    keys = [*_KEYS, *ROW_FIELDS]
    compiled = sa.insert(files).compile(dialect=dialect, column_keys=keys)
    order = compiled.positiontup
    if order is None or tuple(order[: len(_KEYS)]) != _KEYS:
        return None
    fields = tuple(order[len(_KEYS) :])
    return _Insert(
        str(compiled),
        attrgetter(*fields),
        fields.index("change"),
        tuple(_FIELD_AT[f] for f in fields),
    )


def _positional(insert: _Insert, run_id: int, session_id: int, row: FileRow) -> tuple[Any, ...]:
    if type(row) is tuple:
        return _positional_tuple(insert, run_id, session_id, row)
    parent, name = split_path(normalize(row.path))
    values = insert.fields(row)
    at = insert.change_at
    if values[at] is not None:
        values = (*values[:at], values[at].value, *values[at + 1 :])
    return (session_id, run_id, parent, name, *values)


def _positional_tuple(
    insert: _Insert, run_id: int, session_id: int, row: tuple[Any, ...]
) -> tuple[Any, ...]:
    """``_positional`` of a row given as the tuple of FileRow's fields in order."""
    return row_params(row, insert.tuple_at, insert.change_at, run_id, session_id)


class FilesStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._session_runs: dict[int, int] = {}
        self.reads = FilesReader(self._text)
        """The reads of points in time and browse (engine/catalog/files_read.py)."""

    def _text(self, sql: str, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        with self.catalog.read() as conn:
            return list(conn.execute(sa.text(sql), params).all())

    # -- sessions ------------------------------------------------------------------------

    def open_session(
        self,
        run_id: int,
        target: str,
        source: bytes | str,
        *,
        record_size: int,
        now: datetime | None = None,
    ) -> int:
        """A session of ``run_id`` writing ``source`` (the backed-up root) to ``target``."""
        with self.catalog.write() as conn:
            session_id: int = conn.execute(
                sa.insert(sessions).values(
                    run_id=run_id,
                    target=target,
                    source=normalize(source),
                    record_size=record_size,
                    started_at=_now(now),
                    files=0,
                    bytes=0,
                )
            ).inserted_primary_key[0]
        self._session_runs[session_id] = run_id
        return session_id

    def add_part(self, session_id: int, part: SessionPart) -> None:
        """The session starts (or, after spanning, continues) on ``part.volume``."""
        with self.catalog.write() as conn:
            conn.execute(
                sa.insert(session_parts).values(
                    session_id=session_id,
                    seq=part.seq,
                    volume=part.volume,
                    tape_file=part.tape_file,
                    first_record=part.first_record,
                    record_count=part.record_count,
                )
            )

    def close_part(self, session_id: int, seq: int, record_count: int) -> None:
        with self.catalog.write() as conn:
            conn.execute(
                sa.update(session_parts)
                .where(session_parts.c.session_id == session_id, session_parts.c.seq == seq)
                .values(record_count=record_count)
            )

    def end_session(
        self, session_id: int, *, files: int, bytes: int, now: datetime | None = None
    ) -> None:
        with self.catalog.write() as conn:
            conn.execute(
                sa.update(sessions)
                .where(sessions.c.id == session_id)
                .values(ended_at=_now(now), files=files, bytes=bytes)
            )

    def parts(self, session_id: int) -> list[SessionPart]:
        t = session_parts
        query = sa.select(t).where(t.c.session_id == session_id).order_by(t.c.seq)
        with self.catalog.read() as conn:
            return [
                SessionPart(r.seq, r.volume, r.tape_file, r.first_record, r.record_count)
                for r in conn.execute(query)
            ]

    def sessions(self, run_id: int) -> list[sa.Row[Any]]:
        query = sa.select(sessions).where(sessions.c.run_id == run_id).order_by(sessions.c.id)
        with self.catalog.read() as conn:
            return list(conn.execute(query))

    # -- writing file records ------------------------------------------------------------

    def _run_of(self, conn: sa.Connection, session_id: int) -> int:
        run_id = self._session_runs.get(session_id)
        if run_id is None:
            run_id = conn.execute(
                sa.select(sessions.c.run_id).where(sessions.c.id == session_id)
            ).scalar()
            if run_id is None:
                raise UnknownSession(f"Session {session_id} is not in the catalog.")
            self._session_runs[session_id] = run_id
        return run_id

    def add_files(self, session_id: int, rows: Iterable[FileRow | tuple[Any, ...]]) -> int:
        """Record one checkpoint's batch in one transaction; returns how many rows (each a
        ``FileRow`` or the tuple of its fields in order).

        Call only after the drive flushed every record these members occupy.
        """
        with self.catalog.write() as conn:
            run_id = self._run_of(conn, session_id)
            bound = sa.select(runs.c.files_upto).where(runs.c.id == run_id)
            bounded = conn.execute(bound).scalar() is not None  # a staging wrote this run
            if bounded:  # what it left unlisted goes, or the new bound below would list it
                conn.execute(sa.text(DROP_UNLISTED), {"run": run_id})
            insert = _insert_sql(conn.dialect)
            if insert is None:  # named parameters (psycopg2): through SQLAlchemy
                params: list[Any] = [
                    _params(run_id, session_id, FileRow(*row) if type(row) is tuple else row)
                    for row in rows
                ]
                if params:
                    conn.execute(sa.insert(files), params)
            else:
                params = [_positional(insert, run_id, session_id, row) for row in rows]
                if params:
                    conn.exec_driver_sql(insert.sql, params)
            if bounded and params:  # these rows are listed at once
                top = sa.select(sa.func.max(files.c.id)).scalar_subquery()
                conn.execute(sa.update(runs).where(runs.c.id == run_id).values(files_upto=top))
        return len(params)

    # -- run-level lookups ---------------------------------------------------------------

    def _select(self, *where: sa.ColumnElement[bool]) -> sa.Select[Any]:
        return sa.select(*_ROW_COLUMNS).select_from(LISTED_FILES).where(*where)

    def _rows(self, query: sa.Select[Any]) -> list[FileRow]:
        with self.catalog.read() as conn:
            return [file_row(r) for r in conn.execute(query)]

    def exceptions(self, run_id: int) -> list[FileRow]:
        """Files of the run that did not go in clean (in use, skipped, corrupted), by path.
        Sorted here, not by the query: asked to order by path, SQLite walks every row of the
        run through the (run, parent, name) index instead of the few the partial index of
        exceptions holds (migration 0006; measured, 100,000 rows: 15 ms against 0.03 ms)."""
        query = self._select(files.c.run_id == run_id, files.c.exception_category.is_not(None))
        with self.catalog.read() as conn:
            found = sorted(conn.execute(query), key=lambda r: (bytes(r[1]), bytes(r[2])))
        return [file_row(r) for r in found]

    def changes(self, run_id: int) -> list[FileRow]:
        """Files the run found added, changed or deleted against its previous run, by path."""
        wanted = [Change.ADDED.value, Change.CHANGED.value, Change.DELETED.value]
        query = self._select(files.c.run_id == run_id, files.c.change.in_(wanted))
        return self._rows(query.order_by(files.c.parent, files.c.name))

    def count(self, run_id: int) -> int:
        query = sa.select(sa.func.count()).select_from(LISTED_FILES).where(files.c.run_id == run_id)
        with self.catalog.read() as conn:
            return int(conn.execute(query).scalar() or 0)

    # -- chains and points in time -------------------------------------------------------

    def chain(self, run_id: int) -> list[int]:
        """``run_id``, its base, its base's base, ... (newest first)."""
        return self.reads.chain(run_id)

    def runs_as_of(self, as_of: datetime, job_id: int | None = None) -> list[int]:
        """Per job, the newest run that completed (with or without exceptions) by ``as_of``."""
        query = (
            sa.select(runs.c.id, runs.c.job_id)
            .where(
                runs.c.status.in_(_SUCCESS),
                runs.c.started_at.is_not(None),
                runs.c.ended_at <= as_of,
            )
            .order_by(runs.c.ended_at, runs.c.id)
        )
        if job_id is not None:
            query = query.where(runs.c.job_id == job_id)
        latest: dict[int, int] = {}
        with self.catalog.read() as conn:
            for r in conn.execute(query):
                latest[r.job_id] = r.id
        return list(latest.values())

    def backup_runs(self) -> list[BackupRun]:
        """files_read.FilesReader.backup_runs."""
        return self.reads.backup_runs()

    def session_sources(self, run_ids: Iterable[int]) -> list[tuple[int, bytes]]:
        """files_read.FilesReader.session_sources."""
        return self.reads.session_sources(run_ids)

    def _directory(self, chain: Sequence[int], directory: bytes) -> dict[bytes, FileRow]:
        return self.reads.directory(chain, directory)

    def list_directory(
        self, directory: bytes | str, run_id: int, *, chain: Sequence[int] | None = None
    ) -> list[FileRow]:
        """files_read.FilesReader.list_directory."""
        return self.reads.list_directory(directory, run_id, chain=chain)

    def list_directory_as_of(
        self, directory: bytes | str, as_of: datetime, job_id: int | None = None
    ) -> list[FileRow]:
        """``tapir ls DIR --as-of``: every job's newest completed run by ``as_of``, merged
        (when two jobs hold the same path, the later run wins)."""
        merged: dict[bytes, FileRow] = {}
        for run_id in self.runs_as_of(as_of, job_id):  # oldest run first
            for row in self.list_directory(directory, run_id):
                merged[row.path] = row
        return sorted(merged.values(), key=lambda r: r.path)

    def lookup(
        self, path: bytes | str, run_id: int, *, chain: Sequence[int] | None = None
    ) -> FileRow | None:
        """One path as of ``run_id`` (``chain``: its chain, when the caller has it)."""
        parent, name = split_path(normalize(path))
        chain = chain if chain is not None else self.chain(run_id)
        query = self._select(
            files.c.run_id.in_(chain), files.c.parent == parent, files.c.name == name
        )
        return next(iter(resolve(self._rows(query), chain).values()), None)

    def versions(self, path: bytes | str, job_id: int | None = None) -> list[FileVersion]:
        """files_read.FilesReader.versions."""
        return self.reads.versions(path, job_id)

    # -- the previous run, for engine/backup/levels.py -----------------------------------

    def run_summaries(self, job_id: int) -> list[RunSummary]:
        """The job's started backup runs as ``levels.choose_base`` wants them."""
        from engine.backup.levels import Level, RunSummary  # the backup side only

        query = sa.select(runs).where(
            runs.c.job_id == job_id, runs.c.level.is_not(None), runs.c.started_ns.is_not(None)
        )
        with self.catalog.read() as conn:
            return [
                RunSummary(r.id, Level(r.level), r.started_ns, r.status in _SUCCESS)
                for r in conn.execute(query.order_by(runs.c.number))
            ]

    def previous_directory(self, run_id: int, directory: bytes | str) -> dict[bytes, FileRow]:
        """``name -> row`` of ``directory`` as of ``run_id``: one query per directory."""
        found = self._directory(self.chain(run_id), normalize(directory))
        return {row.name: row for row in found.values()}

    def descendants(
        self, run_id: int, directory: bytes | str, *, chain: Sequence[int] | None = None
    ) -> list[FileRow]:
        """Everything below ``directory`` as of ``run_id`` (not the directory itself;
        ``chain``: ``run_id``'s chain, when the caller has it)."""
        directory = normalize(directory)
        chain = chain if chain is not None else self.chain(run_id)
        low, high = child_range(directory)
        below = sa.or_(
            files.c.parent == directory, sa.and_(files.c.parent >= low, files.c.parent < high)
        )
        rows = self._rows(self._select(files.c.run_id.in_(chain), below))
        return sorted(resolve(rows, chain).values(), key=lambda r: r.path)

    def previous_map(self, run_id: int, root: bytes | str) -> dict[bytes, PreviousRecord]:
        """The whole tree under ``root`` as of ``run_id``, ``path -> record``, in memory.

        The bulk alternative to ``base_view.BaseView``'s per-directory queries; bench/
        catalog_scale.py measures both (memory grows with the tree here).
        """
        from engine.catalog.base_view import previous_record  # the backup side (module doc)

        root = normalize(root)
        found = {r.path: previous_record(r) for r in self.descendants(run_id, root)}
        top = self.lookup(root, run_id)
        if top is not None:
            found[root] = previous_record(top)
        return found

    # -- what a session stored, for verify (engine/verify) ---------------------------------

    def stored(self, session_id: int) -> list[FileRow]:
        """Every row of the session with a member on media, in media order."""
        query = self._select(files.c.session_id == session_id, files.c.record.is_not(None))
        return self._rows(query.order_by(files.c.part, files.c.record, files.c.offset))
