"""Running a media plan (plan.py): one mount per volume, one LOCATE per run of members, each
member read with the format reader and handed to the extractor.

Members close to the previous one (``READ_THROUGH_RECORDS``) are reached by reading on, the rest
by LOCATE, so a restore of a whole session streams while one file at the end of a tape costs one
LOCATE and a record or two. The member found at a position must be the one the catalog expects
(session source + member name = the row's path), else it is refused: catalog and medium
disagree. Per-file problems become ``FileResult``s, a medium error while reading a member too
(with the volume and block; the next member is reached by LOCATE); other device failures
propagate (job level).

The sink is an ``Extractor`` (restore) or anything with its ``write`` (verify's checker).

Tape volumes are mounted through the library that holds them and returned to their slot
afterwards (a cartridge found in a drive is left there); disk volumes are opened as files.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from devices.tape_drive import TapeDrive
from drivers.errors import MediumError
from engine.catalog.files_model import shown as shown_path
from engine.format.members import Member
from engine.format.reader import ArchiveReader, Entry, FormatError
from engine.restore.extract import ChecksumMismatch, FileResult, Outcome
from engine.restore.plan import (
    DISK,
    Plan,
    PlanError,
    SessionInfo,
    Step,
    VolumePlan,
    disk_volume_path,
)
from engine.restore.safepath import UnsafePath, components
from engine.restore.select import is_link_member
from engine.restore.sources import DiskSource, TapeSource

if TYPE_CHECKING:
    from devices.media import MediaStore
    from engine.restore.copies import CopyFallback
    from engine.site import Site

READ_THROUGH_RECORDS = 4
"""Read on instead of LOCATE when the next member is at most this many records ahead (a
LOCATE costs a command and, on a real drive, a reposition of up to seconds)."""
VARIABLE_BLOCKS = 0
MEDIUM_ERROR = "restore.medium_error"
"""A member the drive could not read (MEDIUM ERROR): reported for that file; the next
member is reached by LOCATE, so one bad spot costs one file, not the job."""
POSITION_MISMATCH = "restore.position_mismatch"
STOP_POLL_MEMBERS = 32
STOP_POLL_S = 1.0
"""A stop request (the job manager's cancel) is polled between members, at most once every
this many members or this many seconds, whichever comes first: one catalog read per poll."""


class StopRequested(Exception):
    """Raised between two members when ``PlanRunner.should_stop`` says so: every member
    finished so far is complete on disk (extract.py renames a member in place only once it is
    whole), none is half-written."""


class MemberSink(Protocol):
    """Where ``PlanRunner`` hands each member: ``Extractor`` writes it, verify's ``Checker``
    only hashes it. Returns the outcome; raises ``ChecksumMismatch``, ``UnsafePath`` or
    ``OSError`` for that one file."""

    def write(
        self,
        rel: bytes,
        member: Member,
        chunks: Iterator[tuple[int, memoryview]],
        *,
        checksum: bytes | None,
        session: int,
        link_source: bytes | None = None,
    ) -> Outcome: ...


class TapeMounts:
    """Cartridges this restore mounted, one drive per library at a time."""

    def __init__(self, site: Site, store: MediaStore) -> None:
        self.site, self.store = site, store
        self.mounted: dict[str, tuple[str, TapeDrive, bool]] = {}  # library -> (barcode, ...)
        self.drives: dict[str, str] = {}
        """library -> the drive to mount in (the job manager's reservation); else any free."""

    def _library_of(self, barcode: str) -> str:
        for spec in self.site.config.libraries:
            if self.site.library(spec.name, store=self.store).inventory().find(barcode):
                return spec.name
        raise PlanError(f"{barcode} is in no configured library; import it, then restore again.")

    def tape(self, barcode: str, library: str | None = None) -> TapeDrive:
        name = library or self._library_of(barcode)
        lib = self.site.library(name, store=self.store)
        held = self.mounted.get(name)
        if held is not None and held[0] == barcode:
            return held[1]
        if held is not None:
            self._release(name)
        inventory = lib.inventory()
        where = inventory.find(barcode)
        was_loaded = where is not None and where.drive is not None
        reserved = None if was_loaded else self.drives.get(name)
        element = inventory.drive(reserved) if reserved is not None else None
        if element is not None and element.full:  # ours by reservation: what it holds goes home
            lib.unmount(reserved)
        tape = lib.mount(barcode, reserved)
        tape.set_block_size(VARIABLE_BLOCKS)
        self.mounted[name] = (barcode, tape, was_loaded)
        return tape

    def _release(self, name: str) -> None:
        _barcode, tape, was_loaded = self.mounted.pop(name)
        if not was_loaded:
            self.site.library(name, store=self.store).unmount(tape.name)

    def release_all(self) -> None:
        for name in list(self.mounted):
            self._release(name)


class PlanRunner:
    def __init__(
        self,
        site: Site,
        store: MediaStore,
        extractor: MemberSink,
        report: Callable[[FileResult], None],
    ) -> None:
        self.site = site
        self.mounts = TapeMounts(site, store)
        self.extractor = extractor
        self.report = report
        self.located: list[tuple[str, int, int]] = []
        self.records_read = 0
        self.bytes = 0
        self.should_stop: Callable[[], bool] | None = None
        """Polled between members (``STOP_POLL_MEMBERS`` / ``STOP_POLL_S``): True raises
        ``StopRequested``."""
        self._since_poll = 0
        self._polled_at = time.monotonic()
        self.copies: CopyFallback | None = None
        """Members copy 1 could not read are read from another copy when set
        (engine/restore/copies.py), after every volume of the plan."""

    def run(self, plan: Plan) -> None:
        try:
            for volume in plan.volumes:
                self._volume(volume)
            if self.copies is not None:
                self.copies.read_pending(self)
        finally:
            self.mounts.release_all()

    def _poll_stop(self) -> None:
        """Between two members: ask ``should_stop`` cheaply (module constants)."""
        if self.should_stop is None:
            return
        self._since_poll += 1
        now = time.monotonic()
        if self._since_poll < STOP_POLL_MEMBERS and now - self._polled_at < STOP_POLL_S:
            return
        self._since_poll, self._polled_at = 0, now
        if self.should_stop():
            raise StopRequested

    def _open(self, volume: VolumePlan, info: SessionInfo) -> TapeSource | DiskSource:
        """A source on ``volume`` for members of session ``info``; a member continued on the
        next part mounts that part's volume (``TapeMounts`` keeps one drive per library)."""
        if volume.kind == DISK:

            def next_disk(seq: int) -> tuple[Path, str, int]:
                part = info.part(seq + 1)
                return disk_volume_path(info, part.volume), part.volume, part.first_record

            return DiskSource(
                disk_volume_path(info, volume.volume),
                volume.volume,
                info.record_size,
                next_disk,
                session=info.session_id,
            )
        library = volume.where.library if volume.where else None
        tape = self.mounts.tape(volume.volume, library)

        def next_tape(seq: int) -> TapeSource | None:
            part = info.part(seq + 1)
            nxt = TapeSource(
                self.mounts.tape(part.volume),
                part.volume,
                info.record_size,
                next_tape,
                session=info.session_id,
            )
            nxt.locate(part.first_record)
            return nxt

        return TapeSource(tape, volume.volume, info.record_size, next_tape, session=info.session_id)

    def _volume(self, volume: VolumePlan) -> None:
        """Read ``volume``'s steps in order; a volume with none is only reached through a
        member continued onto it (plan.py) and is not mounted for itself."""
        source: TapeSource | DiskSource | None = None
        reader: ArchiveReader | None = None
        last: Entry | None = None
        try:
            for step in volume.steps:
                self._poll_stop()
                if (
                    source is None
                    or source.volume != volume.volume  # a member continued on the next volume
                    or source.session != step.session.session_id
                ):
                    if source is not None:
                        self._account(source)
                    source = self._open(volume, step.session)
                    reader = last = None
                want = (step.part.seq - 1, step.record, step.offset)
                try:
                    entry = None
                    if (
                        reader is not None
                        and last is not None
                        and last.volume == want[0]
                        and 0 <= step.record - last.record <= READ_THROUGH_RECORDS
                    ):
                        entry = self._read_on(reader, want)
                    if entry is None:
                        source.locate(step.block)
                        reader = ArchiveReader(
                            source, record=step.record, offset=step.offset, volume=want[0]
                        )
                        entry = reader.next()
                    last = entry
                    assert reader is not None
                    self._member(step, entry, reader)
                except MediumError as exc:  # this member only: the next one is LOCATEd
                    reader = last = None
                    self._unreadable(step, source, exc)
        finally:
            if source is not None:
                self._account(source)

    def _unreadable(self, step: Step, source: TapeSource | DiskSource, exc: MediumError) -> None:
        """A medium error while reading one member: that file fails with the volume and the
        block, the others go on (issue 7). The drive recorded the error (freeze rules)."""
        block = step.block
        if isinstance(source, TapeSource):
            with contextlib.suppress(Exception):
                block = source.tape.position()
        failure = (
            f"medium error reading {source.volume} at block {block} (the member starts at "
            f"block {step.block}): the medium could not be read: {exc.sentence}"
        )
        if self.copies is not None and self.copies.defer(step, failure):
            return
        why = f"{failure}; restore it from another copy (tapir copy makes one)"
        self.report(FileResult(shown_path(step.chosen.row.path), Outcome.FAILED, why, MEDIUM_ERROR))

    def _account(self, source: TapeSource | DiskSource) -> None:
        self.located += source.located
        source.located = []
        self.records_read += source.records_read
        source.records_read = 0
        source.close()

    @staticmethod
    def _read_on(reader: ArchiveReader, want: tuple[int, int, int]) -> Entry | None:
        while (entry := reader.next()) is not None:
            at = (entry.volume, entry.record, entry.offset)
            if at == want:
                return entry
            if at > want:
                return None
        return None

    def _member(self, step: Step, entry: Entry | None, reader: ArchiveReader) -> None:
        chosen = step.chosen
        row, src = chosen.row, chosen.source
        shown = shown_path(row.path)
        rel = row.path.lstrip(b"/")
        session = step.session
        try:
            components(rel)
            if entry is not None and entry.member.name not in (b".", b"./", b""):
                components(entry.member.name)  # the archive's own name: crafted media too
        except UnsafePath as exc:
            self.report(FileResult(shown, Outcome.FAILED, str(exc), exc.code))
            return
        expected = src.path
        found = None
        if entry is not None:
            name = entry.member.name
            found = session.source.rstrip(b"/") + b"/" + name
            single = expected == session.source and name == os.path.basename(session.source)
            if name in (b".", b"") or single:  # the source itself (a file: by its base name)
                found = session.source
        if entry is None or found != expected:
            name = os.fsdecode(entry.member.name) if entry is not None else "no member"
            self.report(
                FileResult(
                    shown,
                    Outcome.FAILED,
                    f"the medium holds {name!r} at block {step.block}, not this file; catalog "
                    "and medium disagree (rebuild the catalog from the medium)",
                    POSITION_MISMATCH,
                )
            )
            return
        member = entry.member
        link_source = None
        if chosen.data_from is None and is_link_member(row):
            link_source = member.linkname
        try:
            outcome = self.extractor.write(
                rel,
                member,
                reader.chunks(),
                checksum=src.checksum,
                session=session.session_id,
                link_source=link_source,
            )
        except ChecksumMismatch as exc:
            self.report(FileResult(shown, Outcome.FAILED, str(exc), exc.code))
            return
        except UnsafePath as exc:
            self.report(FileResult(shown, Outcome.FAILED, str(exc), exc.code))
            return
        except (OSError, FormatError) as exc:
            with contextlib.suppress(Exception):
                for _ in reader.chunks():
                    pass
            if isinstance(exc, FormatError):
                raise
            why = exc.strerror or str(exc)
            code = getattr(exc, "code", "restore.os_error")
            self.report(FileResult(shown, Outcome.FAILED, why, code))
            return
        if outcome is Outcome.RESTORED:
            self.bytes += member.size if member.kind.value == "f" else 0
        if outcome is Outcome.RESTORED and row.exception_category is not None:
            self.report(
                FileResult(
                    shown,
                    Outcome.WARNING,
                    f"restored as stored, but it was {row.exception_category.replace('_', ' ')} "
                    f"at backup: "
                    f"{row.exception_sentence or ''}".rstrip(": "),
                    f"restore.{row.exception_category}",
                )
            )
            return
        self.report(FileResult(shown, outcome))
