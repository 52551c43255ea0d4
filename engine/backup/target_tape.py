"""Tape targets: a library (media of a pool, mounted by the robot) and a single drive.

Each session part is one tape file: positioned after the label of a fresh tape or at end of
data of an appendable one, written in variable-block mode (one WRITE = one record = one tape
block), ended by a filemark (shared/DESIGN.md "On-media format").

Choosing a medium (library): the catalog's appendable and scratch media of the pool that are in
the library (``devices.media.choose_for_writing``: appendable first, so tapes fill up before new
ones start), then cartridges the catalog has never seen, by barcode. The labeling policy:
- a scratch medium is (re)labeled with ``force``: the catalog says it holds nothing we keep;
- a cartridge unknown to the catalog is labeled only if it is blank; one holding a label or
  data is passed over (listed in the ``NoWritableMedia`` sentence if nothing else is found),
  since it may belong to another catalog or to someone else;
- an appendable medium must carry its own label (volume id = barcode, the catalog's uuid, the
  session's record size), else it is passed over; then SPACE to end of data.
A medium becomes APPENDABLE when its first part starts (data may be on it from then on), FULL
when a part ends at early warning; files and bytes written are added at the end of each part.

Spanning: ``next_volume`` writes the filemark that ends the part, marks the medium FULL, records
the part's length, returns the cartridge to its slot and mounts the next one of the pool. A
single drive cannot span: ``NoNextVolume``.

Failures while writing (power loss, a drive lost, a medium error) go through tape_loss.py,
which settles the tape's state (SUSPECT, FULL) and gives the job-level error naming the drive,
the tape and the job. After one, nothing more is written to that tape by this session: the
part's length in the catalog is what was flushed.

Threads: called by the write stage's thread (write_record) and the format stage's thread (the
rest), never at the same time (the write stage drains first).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from devices.errors import DeviceError, describe
from devices.media import MediaState, MediaStore, Medium, choose_for_writing
from devices.media_rules import change_state
from devices.tape_drive import TapeDrive
from drivers.errors import MediumError, NotReady, ScsiError
from drivers.transport.contract import TransportError
from engine.backup.tape_loss import DRIVE_WAIT_S, PowerLoss, diagnose
from engine.backup.tape_prepare import MediumRefused, Mounted, prepare
from engine.backup.targets import NoNextVolume, NoWritableMedia, PartRecorder, TargetError
from engine.catalog.files_model import SessionPart

if TYPE_CHECKING:
    from devices.tape_library import TapeLibrary
    from engine.site import Site

ACTOR = "tapir-backup"
WRITE_FAILURES = (ScsiError, DeviceError, TransportError)
LOST_POSITION = (TransportError, DeviceError)
"""After these the drive's position is not trusted: no filemark is written by ``abort``."""
"""What a write, flush or filemark may raise: settled by ``TapeVolumes._failed``."""


def blocks_written(exc: BaseException, count: int) -> int:
    """Blocks of a ``count``-block fixed-mode WRITE that reached the drive before ``exc``:
    the sense's INFORMATION is the residue, the blocks not written (SSC-4 4.2.x). Without a
    valid one none is counted: the part then ends at the last block known written."""
    sense = getattr(exc, "sense", None)
    if sense is None or not sense.valid or sense.information is None:
        return 0
    return min(count, max(0, count - sense.information))


class TapeVolumes:
    """The ``SessionVolumes`` of a tape session (targets.py)."""

    def __init__(
        self,
        source: LibraryTarget | DriveTarget,
        record_size: int,
        parts: PartRecorder,
        session: str,
    ) -> None:
        self.source = source
        self.store = source.store
        self.record_size = record_size
        self.parts = parts
        self.session = session
        self.note = f"{source.note}, session {session}" if source.note else f"session {session}"
        self.used: list[str] = []
        self.notes: list[str] = []
        """Problems that did not stop the session (a cartridge left in its drive)."""
        self.lost: BaseException | None = None
        """The failure that ended writing to the current tape (nothing more is written)."""
        self.current = self._start(1)

    @property
    def volume(self) -> str:
        return self.current.barcode

    @property
    def device(self) -> str:
        return self.current.tape.name

    def _start(self, seq: int) -> Mounted:
        mounted = self.source.acquire(self.record_size, exclude=self.used)
        self.used.append(mounted.barcode)
        mounted.tape.session_note = self.note
        medium = self.store.get_medium(mounted.barcode)
        if medium is not None and medium.state is MediaState.SCRATCH:
            change_state(
                self.store,
                mounted.barcode,
                MediaState.APPENDABLE,
                reason=f"Session {self.session} started on it.",
                actor=ACTOR,
            )
        self.parts.part_started(
            SessionPart(seq, mounted.barcode, mounted.tape_file, mounted.first_record)
        )
        return mounted

    def write_record(self, record: memoryview) -> bool:
        return self.write_records(record, 1)

    def write_records(self, span: memoryview, count: int) -> bool:
        """``count`` fixed blocks (one record each) in one WRITE, or in as few as the drive's
        path takes (``TapeDrive.records_per_command``)."""
        cur = self.current
        size = len(span) // count
        step = cur.tape.records_per_command(size, count)
        for first in range(0, count, step):
            n = min(step, count - first)
            try:
                cur.tape.write_record(span[first * size : (first + n) * size])
            except WRITE_FAILURES as exc:
                cur.records += blocks_written(exc, n)
                raise self._failed(exc) from exc
            cur.records += n
            cur.bytes += n * size
        return cur.tape.early_warning

    def next_volume(self, volume_seq: int) -> None:
        self._end(full=True)
        self.current = self._start(volume_seq + 1)

    def flush(self) -> None:
        """WRITE FILEMARKS 0 (SSC-4 6.8): the drive's buffer is on tape when it returns."""
        cur = self.current
        try:
            cur.tape.flush()
        except WRITE_FAILURES as exc:
            raise self._failed(exc) from exc
        cur.flushed = cur.records

    def finish(self) -> None:
        self._end(full=self.current.tape.early_warning)

    def _failed(self, exc: BaseException) -> BaseException:
        """The job-level error for a failed write (tape_loss.py); writing to this tape ends."""
        cur = self.current
        self.lost = exc
        found = diagnose(
            exc, cur.tape, cur.barcode, self.store, self.note, wait_s=self.source.drive_wait_s
        )
        if not isinstance(exc, MediumError) and not isinstance(found, PowerLoss):
            self.source.failed_drives.add(cur.tape.name)  # the next run uses another drive
        return found if found is not None else exc

    def _end(self, *, full: bool) -> None:
        cur = self.current
        try:
            cur.tape.write_filemarks(1)
        except WRITE_FAILURES as exc:
            raise self._failed(exc) from exc
        cur.flushed = cur.records
        medium = self.store.get_medium(cur.barcode)
        if medium is not None:
            medium = dataclasses.replace(
                medium,
                files_written=medium.files_written + 1,
                bytes_written=medium.bytes_written + cur.bytes,
            )
            self.store.update_medium(medium)
            if full and medium.state is not MediaState.FULL:
                change_state(
                    self.store,
                    cur.barcode,
                    MediaState.FULL,
                    reason=f"Early warning reached during session {self.session}.",
                    actor=ACTOR,
                )
        self.parts.part_ended(len(self.used), cur.records)
        try:
            self.source.release(cur)
        except WRITE_FAILURES as exc:  # the part is on tape and recorded: a warning only
            self.notes.append(
                f"{cur.barcode} could not be returned from drive {cur.tape.name}: {describe(exc)}"
            )

    def abort(self) -> None:
        """After a failure: end the partial tape file with a filemark if the drive still
        answers and still knows its position (so the next session does not run into it; never
        after a reset, which left the drive at the beginning of the tape), then release the
        cartridge. The part's length is what reached the tape."""
        cur = self.current
        if not isinstance(self.lost, LOST_POSITION) and cur.tape.writing:
            with contextlib.suppress(Exception):
                cur.tape.write_filemarks(1)
                cur.flushed = cur.records
        with contextlib.suppress(Exception):
            self.parts.part_ended(len(self.used), cur.flushed)
        with contextlib.suppress(Exception):
            self.source.release(cur)


class LibraryTarget:
    """Media of ``pool`` in library ``library`` (in ``drive`` only, if given)."""

    def __init__(
        self, site: Site, library: str, store: MediaStore, pool: str, *, drive: str | None = None
    ) -> None:
        self.site = site
        self.library_name = library
        self.store = store
        self.pool = pool
        self.drive = drive.rpartition(":")[2] if drive else None
        self.name = f"{library}:{self.drive}" if self.drive else library
        self.refused: dict[str, str] = {}
        self.note = ""
        """Who writes (``job 3, run 1``), for the media history if a write fails (job.py)."""
        self.drive_wait_s = DRIVE_WAIT_S
        self.failed_drives: set[str] = set()
        """Drives that failed this job: not chosen again by its later runs (job.py)."""
        self.reserved_elsewhere: Callable[[], set[str]] | None = None
        """Media reserved by other jobs (the job manager sets it): never candidates."""
        self.claim_medium: Callable[[str], bool] | None = None
        """Reserves a candidate before it is mounted (the job manager sets it): False means
        another job took it meanwhile, so two jobs spanning at once never share a tape."""

    @property
    def library(self) -> TapeLibrary:
        return self.site.library(self.library_name, store=self.store)

    def candidates(self, exclude: list[str]) -> list[tuple[str, Medium | None]]:
        """Writable media in the library, in the order they are tried (module docstring)."""
        inv = self.library.inventory()
        skip = set(exclude) | set(self.refused)
        if self.reserved_elsewhere is not None:
            skip |= self.reserved_elsewhere()
        present = {e.barcode for e in inv.elements if e.full and e.barcode and not e.cleaning}
        known = [m for m in self.store.list_media(pool=self.pool) if m.barcode in present]
        found: list[tuple[str, Medium | None]] = []
        while (m := choose_for_writing(known, self.pool, exclude=skip)) is not None:
            found.append((m.barcode, m))
            skip.add(m.barcode)
        for barcode in sorted(present - skip):
            if self.store.get_medium(barcode) is None:
                found.append((barcode, None))
        return found

    def check(self) -> None:
        if not self.candidates([]):
            raise self._none_left()

    def _none_left(self) -> NoWritableMedia:
        refused = "".join(f"; {why}" for why in self.refused.values())
        return NoWritableMedia(
            f"Library {self.library_name} holds no appendable or scratch medium of pool "
            f"{self.pool}{refused}; import a tape and label it with tapir media label BARCODE "
            f"--pool {self.pool}.",
            device=self.library_name,
        )

    def open(self, record_size: int, parts: PartRecorder, session: str) -> TapeVolumes:
        return TapeVolumes(self, record_size, parts, session)

    def acquire(self, record_size: int, exclude: list[str]) -> Mounted:
        """Mount and prepare the first usable candidate. Raises ``NoWritableMedia``."""
        library = self.library
        for barcode, medium in self.candidates(exclude):
            if self.claim_medium is not None and not self.claim_medium(barcode):
                continue
            self._unload_leftover(barcode)
            tape = library.mount(barcode, self.drive, avoid=self.failed_drives)
            try:
                tape_file, first = prepare(
                    tape, barcode, medium, pool=self.pool, record_size=record_size
                )
            except MediumRefused as why:
                self.refused[barcode] = str(why)
                library.unmount(tape.name)
                continue
            return Mounted(barcode, tape, tape_file, first)
        raise self._none_left()

    def release(self, mounted: Mounted) -> None:
        self.library.unmount(mounted.tape.name)

    def _unload_leftover(self, barcode: str) -> None:
        """The drive this target is held to (reserved for its job, or named) still holds
        another cartridge, one a failed run could not unload (a drive that lost power): it
        goes back to a slot first, as the drive is this job's now."""
        if self.drive is None:
            return
        element = self.library.inventory(refresh=True).drive(self.drive)
        if element is not None and element.full and element.barcode != barcode:
            self.library.unmount(self.drive)


class DriveTarget:
    """The cartridge in one drive (a standalone drive or an endpoint); no spanning."""

    def __init__(self, site: Site, drive: str, store: MediaStore, *, pool: str | None) -> None:
        self.site = site
        self.store = store
        self.pool = pool or site.config.default_pool
        self.drive_text = drive
        self.name = drive
        self._tape: TapeDrive | None = None
        self.note = ""
        self.drive_wait_s = DRIVE_WAIT_S
        self.failed_drives: set[str] = set()

    @property
    def tape(self) -> TapeDrive:
        if self._tape is None:
            name, transport, _ = self.site.resolve_drive(self.drive_text)
            self._tape = TapeDrive(name, transport, store=self.store)
        return self._tape

    def check(self) -> None:
        try:
            self.tape.wait_ready(medium_expected=False)
        except NotReady as exc:
            raise TargetError(
                f"Drive {self.name} is not ready ({exc.sense.describe()}); load a cartridge.",
                device=self.name,
            ) from exc

    def open(self, record_size: int, parts: PartRecorder, session: str) -> TapeVolumes:
        return TapeVolumes(self, record_size, parts, session)

    def acquire(self, record_size: int, exclude: list[str]) -> Mounted:
        tape = self.tape
        if exclude:
            raise NoNextVolume(
                f"Drive {self.name} reached early warning on {exclude[-1]} and is not in a "
                "library, so the session cannot continue on another tape; back up to a library.",
                device=self.name,
            )
        barcode = tape.barcode
        if barcode is None:
            start = tape.read_label()
            if start.label is None:
                raise TargetError(
                    f"The cartridge in drive {self.name} has no barcode and no tapir label; "
                    "label it first with tapir media label.",
                    device=self.name,
                )
            barcode = start.label.volume_id
        medium = self.store.get_medium(barcode)
        if medium is not None and not medium.writable:
            raise NoWritableMedia(
                f"{barcode} in drive {self.name} is {medium.state.value}; load an appendable "
                "or scratch tape.",
                device=self.name,
            )
        pool = medium.pool if medium is not None else self.pool
        try:
            tape_file, first = prepare(tape, barcode, medium, pool=pool, record_size=record_size)
        except MediumRefused as why:
            raise NoWritableMedia(f"{why}.", device=self.name) from why
        return Mounted(barcode, tape, tape_file, first)

    def release(self, mounted: Mounted) -> None:
        """The cartridge stays in the drive (the operator loaded it)."""
