"""The media plan (issue 5 "Media plan"): the needed volumes, one mount each, members ordered
by position, and where each volume is before anything moves.

A step is one member to read: its session part's volume and the absolute block to LOCATE to
(the part's ``first_record`` + the member's record; on disk the record index in the volume
file), the byte offset of its header inside that record, and the chosen row it restores.
Volumes are ordered by their first step's session and position, steps within a volume by
(block, offset), so a tape is read forward once.

A file split across volumes (docs/tapir-format.md "Multi-volume") is read from its first
header on; the reader asks for the next part when the data runs out. Its continuation volumes
are in the plan too (so ``--plan`` names every tape), with no steps of their own unless other
members start there: the last member of a part that is not the session's last is a regular
file continued on the next part, and on the parts after it as long as no member starts in
them (the writer splits only inside a regular file's data, and switches volume right there).
When a part happened to end exactly at that file's end, the next volume is listed but never
mounted.

Where a volume is: each configured library's inventory (slot N, drive D, I/E slot N), else the
disk mount path holding its volume file, else "outside the library" (import it first).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devices.disk import VOLUME_SUFFIX
from devices.library_inventory import ElementKind
from engine.catalog.files_model import FileRow, SessionPart
from engine.catalog.files_store import FilesStore
from engine.restore.select import Chosen

if TYPE_CHECKING:
    from engine.site import Site

TAPE, DISK = "tape", "disk"


class PlanError(LookupError):
    code = "restore.plan"


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: int
    target: str
    source: bytes
    record_size: int
    parts: tuple[SessionPart, ...]
    kind: str
    """``tape`` or ``disk`` (the target is a directory)."""
    copy: int = 1
    """1: what the backup wrote; 2, ...: a copy (engine/restore/copies.py), same records."""

    def part(self, seq: int) -> SessionPart:
        for p in self.parts:
            if p.seq == seq:
                return p
        raise PlanError(f"Session {self.session_id} has no part {seq} in the catalog.")


@dataclass(slots=True)
class Step:
    chosen: Chosen
    session: SessionInfo
    part: SessionPart
    block: int
    """Absolute position to LOCATE to (tape block / record index of the volume file)."""
    record: int
    offset: int


@dataclass(slots=True)
class Where:
    kind: str
    """slot, drive, ie, disk, outside."""
    library: str | None = None
    number: int | None = None
    drive: str | None = None
    path: str | None = None

    def describe(self) -> str:
        if self.kind == "slot":
            return f"library {self.library} slot {self.number}"
        if self.kind == "drive":
            return f"library {self.library} drive {self.drive}"
        if self.kind == "ie":
            return f"library {self.library} I/E slot {self.number} (loaded from there)"
        if self.kind == "disk":
            return f"disk volume {self.path}"
        if self.path is not None:
            return f"missing: no volume file {self.path} (put it back there first)"
        return "outside the library (import it first)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "library": self.library,
            "number": self.number,
            "drive": self.drive,
            "path": self.path,
        }


@dataclass(slots=True)
class VolumePlan:
    volume: str
    kind: str
    steps: list[Step] = field(default_factory=list)
    where: Where | None = None
    continues: list[str] = field(default_factory=list)
    """Files whose data continues onto this volume from the one before (shown paths)."""
    order: tuple[int, int] = (0, 0)
    """(session, part) of the earliest part this volume is needed for: the plan's order."""
    session: SessionInfo | None = None
    """The session of that part."""
    copies: list[str] = field(default_factory=list)
    """Other copies of what is read here: ``copy 2 on VOLUME`` (engine/restore/copies.py)."""


@dataclass(slots=True)
class Plan:
    volumes: list[VolumePlan] = field(default_factory=list)
    instead: dict[int, str] = field(default_factory=dict)
    """Sessions read from another copy because copy 1 cannot be (engine/restore/copies.py):
    session id -> why, for the per-file warning."""

    @property
    def steps(self) -> int:
        return sum(len(v.steps) for v in self.volumes)

    def lines(self) -> list[str]:
        """What ``tapir restore --plan`` prints."""
        out = [f"{len(self.volumes)} volume(s), {self.steps} member(s) to read:"]
        for n, v in enumerate(self.volumes, 1):
            where = v.where.describe() if v.where else "unknown"
            what = []
            if v.steps:
                first, last = v.steps[0], v.steps[-1]
                what.append(f"{len(v.steps)} member(s), blocks {first.block}..{last.block}")
            if v.continues:
                shown = ", ".join(v.continues[:3]) + (", ..." if len(v.continues) > 3 else "")
                what.append(f"continues {shown}")
            if v.copies:
                what.append("also " + ", ".join(v.copies))
            copy = f", copy {v.session.copy}" if v.session and v.session.copy > 1 else ""
            out.append(f"  {n}. {v.volume} ({v.kind}{copy}): {where}; {'; '.join(what)}")
        return out

    def to_dict(self) -> list[dict[str, Any]]:
        return [
            {
                "volume": v.volume,
                "kind": v.kind,
                "where": v.where.to_dict() if v.where else None,
                "members": len(v.steps),
                "first_block": v.steps[0].block if v.steps else None,
                "last_block": v.steps[-1].block if v.steps else None,
                "continues": list(v.continues),
                "copy": v.session.copy if v.session else 1,
                "copies": list(v.copies),
            }
            for v in self.volumes
        ]


def session_info(files: FilesStore, session_id: int) -> SessionInfo:
    import sqlalchemy as sa

    from engine.catalog.schema import sessions

    with files.catalog.read() as conn:
        row = conn.execute(sa.select(sessions).where(sessions.c.id == session_id)).first()
    if row is None:
        raise PlanError(f"Session {session_id} is not in the catalog.")
    target = str(row.target)
    kind = DISK if target.startswith("/") and not target.startswith("/dev/") else TAPE
    return SessionInfo(
        session_id,
        target,
        bytes(row.source),
        int(row.record_size),
        tuple(files.parts(session_id)),
        kind,
    )


def build_plan(
    files: FilesStore, chosen: Iterable[Chosen], infos: dict[int, SessionInfo] | None = None
) -> Plan:
    """Group the members by volume and order them by position (module docstring). ``infos``:
    sessions to read from another copy (engine/restore/copies.py), by session id."""
    infos = dict(infos or {})
    by_volume: dict[str, VolumePlan] = {}
    spans = _Spans(files)

    def volume_for(name: str, info: SessionInfo, seq: int) -> VolumePlan:
        vol = by_volume.get(name)
        if vol is None:
            vol = by_volume[name] = VolumePlan(name, info.kind, order=(info.session_id, seq))
            vol.session = info
        if (info.session_id, seq) < vol.order:
            vol.order, vol.session = (info.session_id, seq), info
        return vol

    for c in chosen:
        info = infos.get(c.session_id) or infos.setdefault(
            c.session_id, session_info(files, c.session_id)
        )
        src = c.source
        assert src.part is not None and src.record is not None and src.offset is not None
        part = info.part(src.part)
        step = Step(c, info, part, part.first_record + src.record, src.record, src.offset)
        volume_for(part.volume, info, part.seq).steps.append(step)
        for more in spans.continuation(info, src):
            volume_for(more.volume, info, more.seq).continues.append(os.fsdecode(src.path))
    for v in by_volume.values():
        v.steps.sort(key=lambda s: (s.session.session_id, s.part.tape_file, s.block, s.offset))
    return Plan(sorted(by_volume.values(), key=lambda v: v.order))


class _Spans:
    """Which parts a member's data continues onto (module docstring), one query per part."""

    def __init__(self, files: FilesStore) -> None:
        self.files = files
        self._last: dict[tuple[int, int], tuple[int, int] | None] = {}

    def _last_member(self, session_id: int, seq: int) -> tuple[int, int] | None:
        key = (session_id, seq)
        if key not in self._last:
            import sqlalchemy as sa

            from engine.catalog.schema import LISTED_FILES
            from engine.catalog.schema import files as t

            query = (
                sa.select(t.c.record, t.c.offset)
                .select_from(LISTED_FILES)
                .where(t.c.session_id == session_id, t.c.part == seq, t.c.record.is_not(None))
                .order_by(t.c.record.desc(), t.c.offset.desc())
                .limit(1)
            )
            with self.files.catalog.read() as conn:
                found = conn.execute(query).first()
            self._last[key] = (int(found[0]), int(found[1])) if found is not None else None
        return self._last[key]

    def continuation(self, info: SessionInfo, row: FileRow) -> list[SessionPart]:
        """The parts after ``row``'s own that hold the rest of its data (maybe none)."""
        last_seq = info.parts[-1].seq if info.parts else 1
        seq = row.part or 1
        if seq >= last_seq or row.kind != "file" or row.checksum is None or not row.size:
            return []
        if self._last_member(info.session_id, seq) != (row.record, row.offset):
            return []
        found = []
        while seq < last_seq:
            seq += 1
            found.append(info.part(seq))
            if self._last_member(info.session_id, seq) is not None:
                break
        return found


def disk_volume_path(info: SessionInfo, volume: str) -> Path:
    return Path(info.target) / f"{volume}{VOLUME_SUFFIX}"


def locate_volumes(plan: Plan, site: Site) -> None:
    """Fill each volume's ``where`` from the libraries' inventories or the mount path."""
    inventories = []
    for spec in site.config.libraries:
        with contextlib.suppress(Exception):  # an unreachable library cannot hold it for us
            inventories.append((spec.name, site.library(spec.name).inventory()))
    for v in plan.volumes:
        if v.kind == DISK:
            assert v.session is not None
            path = disk_volume_path(v.session, v.volume)
            v.where = Where("disk" if os.path.exists(path) else "outside", path=str(path))
            continue
        v.where = Where("outside")
        for name, inv in inventories:
            e = inv.find(v.volume)
            if e is None:
                continue
            if e.kind is ElementKind.DRIVE:
                v.where = Where("drive", library=name, drive=e.drive, number=e.number)
            elif e.kind is ElementKind.IMPORT_EXPORT:
                v.where = Where("ie", library=name, number=e.number)
            else:
                v.where = Where("slot", library=name, number=e.number)
            break


def check_reachable(plan: Plan) -> None:
    """Refuse, before anything moves, a plan needing a volume no library or mount path holds
    (a tape outside the library, a missing disk volume file). Raises ``PlanError``."""
    missing = [v for v in plan.volumes if v.where is not None and v.where.kind == "outside"]
    if not missing:
        return
    tapes = [v.volume for v in missing if v.kind != DISK]
    files = [v.where.path for v in missing if v.kind == DISK and v.where is not None]
    parts = []
    if tapes:
        parts.append(
            f"{', '.join(tapes)} {'is' if len(tapes) == 1 else 'are'} outside the library: "
            "import it (tapir library import) and restore again"
        )
    if files:
        parts.append(f"volume file {', '.join(str(f) for f in files)} is missing")
    raise PlanError("; ".join(parts) + "; nothing was moved or written.")
