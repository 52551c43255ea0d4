"""``rebuild_from_media``: the catalog's jobs, runs, sessions, parts and files from the labels
and session indexes on tapes and disk volumes (issue 5 "Without the catalog").

1. Each volume is scanned (media_scan.py): label, tape files, trailers. A volume without a
   tapir label or of a newer format refuses the whole command (``ScanRefused``) before
   anything is written to the catalog.
2. Each session whose trailer is found is catalogued from its index, in one transaction for
   its job, run, session and parts, then the files in batches: the ids on the medium (job,
   run, session) are kept when they are free in this catalog, else new ones are given and the
   report says so; a session already catalogued (a part at the same volume and tape file) is
   left as it is. A session whose index does not parse is refused and reported; the others go
   on.
3. The parts on other volumes come from the trailer's ``volumes`` list: the part on each
   earlier volume is the last tape file there without a trailer (the volume filled up while
   it was written), or the disk volume file of that name. A volume not given is reported:
   files starting there cannot be restored until it is scanned too.
4. Tapes unknown to the catalog are registered read-only (their data is kept; relabel to
   reuse them).

The rows take what the index holds (engine/catalog/index_rows.py): from an index of this
version, the backup's own rows (mode, owner, ctime, inode, device, exception code, change)
and the deletions an incremental or differential run recorded, so every point in time of a
chain restores as before and the next incremental stores only what changed. From an older index
(format version 1 without those keys) mode, owner, ctime and inode stay 0 (restore takes mode
and owner from the member headers; the next incremental stores every file again) and an
incremental chain restores files later deleted.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from devices.media import MediaState, MediaStore, new_medium
from engine.catalog.db import Catalog
from engine.catalog.files_model import FileRow, SessionPart, normalize
from engine.catalog.files_store import FilesStore
from engine.catalog.index_rows import file_row
from engine.catalog.jobs_store import DEFAULT_PRIORITY
from engine.catalog.media_scan import FoundPart, ScanRefused, VolumeScan
from engine.catalog.schema import files as files_table
from engine.catalog.schema import job_transitions, jobs, runs, session_parts, sessions
from engine.format.index import IndexEntry
from engine.jobs.states import CompletionStatus, JobState

BATCH = 10_000
"""File rows per transaction."""


@dataclass
class RebuildReport:
    catalogued: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    files: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class _Ids:
    """Medium ids -> this catalog's, for jobs and runs seen in this rebuild."""

    jobs: dict[int, int] = field(default_factory=dict)
    runs: dict[int, int] = field(default_factory=dict)


def _time(ns: int | None, fallback: datetime) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC) if ns else fallback


def _free(conn: sa.Connection, table: sa.Table, wanted: Any) -> Any:
    """``wanted`` when no row has that id (keep the medium's numbering), else None (new id)."""
    if not isinstance(wanted, int):
        return None
    taken = conn.execute(sa.select(table.c.id).where(table.c.id == wanted)).first()
    return None if taken else wanted


class Rebuilder:
    def __init__(self, catalog: Catalog, media: MediaStore | None, actor: str) -> None:
        self.catalog = catalog
        self.files = FilesStore(catalog)
        self.media = media
        self.actor = actor
        self.ids = _Ids()
        self.report = RebuildReport()
        self.scans: dict[str, VolumeScan] = {}
        self._pending: list[tuple[int, dict[str, Any], int]] = []
        """(session id here, session metadata, parts on earlier volumes) to complete."""

    # -- per volume -------------------------------------------------------------------------

    def volume(self, scan: VolumeScan) -> None:
        self.scans[scan.volume] = scan
        if scan.kind != "tape" or self.media is None:
            return
        if self.media.get_medium(scan.volume) is None:
            label = scan.label
            medium, change = new_medium(
                scan.volume,
                label.pool,
                label.media_type,
                actor=self.actor,
                reason="Rebuilt from its sessions on media; relabel it to reuse it.",
                state=MediaState.READ_ONLY,
            )
            self.media.add_medium(dataclasses.replace(medium, volume_uuid=label.uuid), change)

    def session(
        self,
        scan: VolumeScan,
        part: FoundPart,
        header: dict[str, Any],
        entries: Iterator[IndexEntry],
    ) -> None:
        """Catalogue the session whose last part is ``part`` (module docstring)."""
        assert part.trailer is not None
        meta = dict(part.trailer.session or header.get("session") or {})
        where = f"{part.volume} tape file {part.tape_file}"
        if self._known_part(part):
            self.report.skipped.append(f"{where}: session already in the catalog")
            return
        source = normalize(os.fsencode(meta.get("source") or "/"))
        ended = _time(header.get("_index_mtime_ns"), scan.label.created)
        started = _parse(meta.get("started")) or ended
        session_id = self._insert_session(meta, scan, part, source, started, ended)
        count, size, exceptions = 0, 0, 0
        batch: list[FileRow] = []
        try:
            for entry in entries:
                row = file_row(entry, source)
                batch.append(row)
                if entry.deleted is not None:
                    continue  # a deletion row: no file of this session
                count += 1
                size += row.size if row.checksum is not None else 0
                exceptions += row.exception_category is not None
                if len(batch) >= BATCH:
                    self.files.add_files(session_id, batch)
                    batch.clear()
        except ScanRefused:
            self._forget(session_id)  # a damaged index catalogues nothing of its session
            raise
        self.files.add_files(session_id, batch)
        self._finish(session_id, count, size, exceptions)
        self.report.files += count
        earlier = part.trailer.volume
        self._pending.append((session_id, meta, earlier))
        job = meta.get("job")
        self.report.catalogued.append(
            f"{where}: job {self._job_of(session_id)} (job {job} on the medium), session "
            f"{session_id}, {count} files"
        )

    def _forget(self, session_id: int) -> None:
        """Remove a half-catalogued session, and its run and job if they hold nothing else."""
        with self.catalog.write() as conn:
            run_id = conn.execute(
                sa.select(sessions.c.run_id).where(sessions.c.id == session_id)
            ).scalar_one()
            conn.execute(sa.delete(files_table).where(files_table.c.session_id == session_id))
            conn.execute(sa.delete(session_parts).where(session_parts.c.session_id == session_id))
            conn.execute(sa.delete(sessions).where(sessions.c.id == session_id))
            if conn.execute(sa.select(sessions.c.id).where(sessions.c.run_id == run_id)).first():
                return
            job_id = conn.execute(sa.select(runs.c.job_id).where(runs.c.id == run_id)).scalar()
            conn.execute(sa.delete(runs).where(runs.c.id == run_id))
            self.ids.runs = {k: v for k, v in self.ids.runs.items() if v != run_id}
            if conn.execute(sa.select(runs.c.id).where(runs.c.job_id == job_id)).first():
                return
            conn.execute(sa.delete(job_transitions).where(job_transitions.c.job_id == job_id))
            conn.execute(sa.delete(jobs).where(jobs.c.id == job_id))
            self.ids.jobs = {k: v for k, v in self.ids.jobs.items() if v != job_id}

    def _known_part(self, part: FoundPart) -> bool:
        t = session_parts
        query = sa.select(t.c.id).where(t.c.volume == part.volume, t.c.tape_file == part.tape_file)
        with self.catalog.read() as conn:
            return conn.execute(query).first() is not None

    def _job_of(self, session_id: int) -> int:
        query = (
            sa.select(runs.c.job_id)
            .join(sessions, sessions.c.run_id == runs.c.id)
            .where(sessions.c.id == session_id)
        )
        with self.catalog.read() as conn:
            return int(conn.execute(query).scalar_one())

    def _insert_session(
        self,
        meta: dict[str, Any],
        scan: VolumeScan,
        part: FoundPart,
        source: bytes,
        started: datetime,
        ended: datetime,
    ) -> int:
        assert part.trailer is not None
        now = datetime.now(UTC)
        reason = f"Rebuilt from media {scan.volume}."
        target = str(meta.get("target") or (scan.path.parent if scan.path else scan.volume))
        with self.catalog.write() as conn:
            job_id = self.ids.jobs.get(meta.get("job", -1))
            if job_id is None:
                name = meta.get("job_name") or f"{os.fsdecode(source)} -> {target}"
                spec = {"source": os.fsdecode(source), "target": target, "rebuilt": True}
                values = dict(
                    type="backup",
                    name=name,
                    spec=spec,
                    priority=DEFAULT_PRIORITY,
                    source=os.fsdecode(source),
                    state=JobState.ENDED.value,
                    state_reason=reason,
                    state_actor=self.actor,
                    state_since=now,
                    status=CompletionStatus.COMPLETED.value,
                    created_at=started,
                    created_by=self.actor,
                )
                wanted = _free(conn, jobs, meta.get("job"))
                if wanted is not None:
                    values["id"] = wanted
                job_id = conn.execute(sa.insert(jobs).values(**values)).inserted_primary_key[0]
                conn.execute(
                    sa.insert(job_transitions).values(
                        job_id=job_id,
                        old_state=None,
                        new_state=JobState.ENDED.value,
                        status=CompletionStatus.COMPLETED.value,
                        reason=reason,
                        actor=self.actor,
                        at=now,
                    )
                )
                if isinstance(meta.get("job"), int):
                    self.ids.jobs[meta["job"]] = job_id
            run_id = self.ids.runs.get(meta.get("run", -1))
            if run_id is None:
                number = meta.get("run_number")
                used = conn.execute(
                    sa.select(runs.c.id).where(runs.c.job_id == job_id, runs.c.number == number)
                ).first()
                if not isinstance(number, int) or used is not None:
                    last = conn.execute(
                        sa.select(sa.func.max(runs.c.number)).where(runs.c.job_id == job_id)
                    ).scalar()
                    number = (last or 0) + 1
                values = dict(
                    job_id=job_id,
                    number=number,
                    level=meta.get("level") or "full",  # a session alone is a whole tree
                    base_run_id=self._base(conn, meta.get("base_run")),
                    started_at=started,
                    started_ns=_started_ns(meta, started),
                    ended_at=ended,
                    status=CompletionStatus.COMPLETED.value,
                    phase="ended",
                    files=0,
                    bytes=0,
                    exceptions=0,
                    counters={"rebuilt_from": scan.volume},
                )
                wanted = _free(conn, runs, meta.get("run"))
                if wanted is not None:
                    values["id"] = wanted
                run_id = conn.execute(sa.insert(runs).values(**values)).inserted_primary_key[0]
                if isinstance(meta.get("run"), int):
                    self.ids.runs[meta["run"]] = run_id
            values = dict(
                run_id=run_id,
                target=target,
                source=source,
                record_size=scan.label.record_size,
                started_at=started,
                ended_at=ended,
                files=0,
                bytes=0,
            )
            wanted = _free(conn, sessions, meta.get("session"))
            if wanted is not None:
                values["id"] = wanted
            session_id = conn.execute(sa.insert(sessions).values(**values)).inserted_primary_key[0]
        seq = part.trailer.volume + 1
        self.files.add_part(
            session_id,
            SessionPart(seq, part.volume, part.tape_file, part.first_record, part.records),
        )
        return int(session_id)

    def _base(self, conn: sa.Connection, base: Any) -> int | None:
        """The incremental's base run here: rebuilt in this pass, else an earlier rebuild's
        (ids kept), else unknown (the chain stops: the run restores what it stored)."""
        if not isinstance(base, int):
            return None
        if base in self.ids.runs:
            return self.ids.runs[base]
        found = conn.execute(sa.select(runs.c.id).where(runs.c.id == base)).scalar()
        return int(found) if found is not None else None

    def _finish(self, session_id: int, count: int, size: int, exceptions: int) -> None:
        status = (
            CompletionStatus.COMPLETED_WITH_EXCEPTIONS if exceptions else CompletionStatus.COMPLETED
        )
        with self.catalog.write() as conn:
            conn.execute(
                sa.update(sessions)
                .where(sessions.c.id == session_id)
                .values(files=count, bytes=size)
            )
            run_id = conn.execute(
                sa.select(sessions.c.run_id).where(sessions.c.id == session_id)
            ).scalar_one()
            conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(
                    files=runs.c.files + count,
                    bytes=runs.c.bytes + size,
                    exceptions=runs.c.exceptions + exceptions,
                    status=status.value,
                )
            )
            job_id = conn.execute(sa.select(runs.c.job_id).where(runs.c.id == run_id)).scalar()
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(status=status.value))

    # -- parts on other volumes ---------------------------------------------------------------

    def finish(self) -> RebuildReport:
        """Add the parts on earlier volumes of every catalogued session (module docstring)."""
        for session_id, meta, earlier in self._pending:
            volumes = meta.get("volumes") or []
            for index in range(earlier):
                name = volumes[index] if index < len(volumes) else None
                found = self._earlier_part(name)
                if found is None:
                    self.report.problems.append(
                        f"session {session_id}: part {index + 1} is on "
                        f"{name or 'a volume the index does not name'}, which was not given; "
                        "files starting there cannot be restored until it is rebuilt too."
                    )
                    continue
                self.files.add_part(
                    session_id,
                    SessionPart(
                        index + 1, found.volume, found.tape_file, found.first_record, found.records
                    ),
                )
        self._pending.clear()
        return self.report

    def _earlier_part(self, volume: str | None) -> FoundPart | None:
        scan = self.scans.get(volume or "")
        if scan is None:
            return None
        loose = [p for p in scan.parts if p.trailer is None]
        return loose[-1] if loose else None


def _parse(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _started_ns(meta: dict[str, Any], started: datetime) -> int:
    """The run's start as the backup took it (the next incremental's racy-file threshold,
    engine/backup/levels.py), else the session's start (an index older than that key)."""
    found = meta.get("started_ns")
    return found if isinstance(found, int) else int(started.timestamp() * 1e9)
