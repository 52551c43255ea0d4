"""TapeDrive: records in, records out, filemarks, positions and the volume label, over SscDriver.

What this layer adds to drivers/ssc.py (shared/DESIGN.md "Devices"):
- sense turned into events (devices/events.py): filemark, end of data, early warning, power-on
  reset, medium changed, cleaning requested, TapeAlert actions;
- unit attentions consumed in one place (``_call``): a command that does not depend on the
  position is sent again; one that does (READ, WRITE, WRITE FILEMARKS, SPACE) raises
  ``DriveReset``, since the drive is back at BOT. A power-on reset while a write session is
  open (data written since load or the last rewind) is a power loss: the medium becomes
  suspect through devices.media_rules;
- medium errors recorded through ``media_rules.record_error`` when a ``MediaStore`` is given
  (freeze after repeated errors, drive down after several tapes), and TapeAlert read after
  every error;
- the label at BOT (devices/label.py): read, and write with the overwrite policy.
Threads: one TapeDrive is used by one thread at a time (a job owns its drive). ``status()``
never raises for device problems: it reports them in ``DriveState.error``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

from devices import events as ev
from devices.drive_media import record_known, register_label
from devices.drive_values import RECORD_KINDS, DriveState, RecordKind, RecordRead
from devices.errors import DriveNotReady, DriveReset, LabelOverwriteRefused, describe
from devices.label import (
    Label,
    OverwriteRefused,
    VolumeStart,
    check_may_label,
    encode_label,
    inspect_volume_start,
)
from devices.media import ErrorKind, MediaError, MediaStore, utc_now
from devices.media_rules import DEFAULT_RULES, ErrorRules
from devices.tapealert_actions import AlertAction, TapeAlertAction, actions_for
from drivers.errors import MediumError, NotReady, ScsiError, UnitAttention
from drivers.sense import Sense
from drivers.spc import DEFAULT_TIMEOUT_S
from drivers.ssc import SscDriver
from drivers.ssc_data import SpaceCode, WriteResult
from drivers.tapealert import TapeAlertFlag, flag_name
from drivers.transport.contract import Transport, TransportError

T = TypeVar("T")

ACTOR = "tapir-devices"
READY_POLLS = 90
READY_DELAY_S = 2.0  # 90 x 2 s: an LTO load and thread takes 15-60 s
MAX_ATTENTIONS = 8  # more unit attentions in a row than any drive queues
LABEL_READ_LEN = 1 << 20  # the label record is 256 KiB by default; its JSON is at the start
ASC_MEDIUM_CHANGED, ASC_POWER_ON = 0x28, 0x29
ASC_NO_MEDIUM = 0x3A
BECOMING_READY = {(0x04, 0x00), (0x04, 0x01)}
NEEDS_LOAD = (0x04, 0x02)
CLEANING_FLAGS = frozenset({TapeAlertFlag.CLEAN_NOW, TapeAlertFlag.CLEAN_PERIODIC})
CLEANING_ACTIONS = frozenset({AlertAction.CLEAN_NOW, AlertAction.CLEAN_PERIODIC})


class TapeDrive:
    """One tape drive. The barcode comes from cartridge memory (MAM 0x0806), else from
    ``loaded_barcode``, which the library sets at mount."""

    def __init__(
        self,
        name: str,
        transport: Transport,
        *,
        events: ev.EventSink | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        store: MediaStore | None = None,
        rules: ErrorRules = DEFAULT_RULES,
        sleep: Callable[[float], None] = time.sleep,
        ready_polls: int = READY_POLLS,
        ready_delay_s: float = READY_DELAY_S,
    ) -> None:
        self.name = name
        self.driver = SscDriver(transport, timeout_s=timeout_s)
        self.store = store
        self.rules = rules
        self.sleep = sleep
        self.ready_polls = ready_polls
        self.ready_delay_s = ready_delay_s
        self._emit = events or ev.ignore
        self._serial: str | None = None
        self.loaded_barcode: str | None = None
        self.early_warning = False
        self.cleaning_needed = False
        self.alert_flags: set[int] = set()
        self._mam_barcode: str | None = None
        self._mam_read = False
        self._session_barcode: str | None = None  # set while a write session is open
        self._block_size: int | None = None
        self.session_note: str | None = None
        """Who is writing (e.g. ``job 3, session tapir-j3-r1-s3``), set by the writer; it goes
        into the medium's history if power is lost while writing."""
        self.flushed_block: int | None = None
        """The position after the last flush (WRITE FILEMARKS, including 0) of this mount:
        every block before it is on tape. Recorded with a power loss."""

    # --- identity ------------------------------------------------------------------------

    @property
    def serial(self) -> str:
        """VPD 0x80 unit serial number, read once."""
        if self._serial is None:
            self._serial = self._call(self.driver.serial_number)
        return self._serial

    @property
    def barcode(self) -> str | None:
        """The loaded cartridge's barcode: MAM 0x0806, else the library's, else None."""
        if not self._mam_read:  # once per mount: a drive without MAM refuses every time
            self._mam_read = True
            with contextlib.suppress(ScsiError, TransportError, DriveNotReady):
                self._mam_barcode = self._call(self.driver.cartridge_memory).barcode
        return self._mam_barcode or self.loaded_barcode

    @property
    def writing(self) -> bool:
        """A write session is open: data was written since load or the last rewind."""
        return self._session_barcode is not None

    # --- the one command path --------------------------------------------------------------

    def _call(self, fn: Callable[..., T], *args: object, repeatable: bool = True) -> T:
        """Run a driver call, consuming unit attentions; note a cleaning request."""
        try:
            for _ in range(MAX_ATTENTIONS):
                try:
                    return fn(*args)
                except UnitAttention as exc:
                    self._attention(exc.sense)
                    if not repeatable:
                        raise DriveReset(self.name, self._reset_sentence(exc.sense)) from exc
            raise DriveNotReady(
                self.name, f"{self.name}: keeps reporting unit attentions; check the drive."
            )
        finally:
            self._note_cleaning_request()

    def _attention(self, sense: Sense) -> None:
        if sense.asc == ASC_POWER_ON:
            barcode = self._session_barcode
            self._forget_position()
            self._emit(ev.PowerOnReset(self.name, while_writing=barcode is not None))
            if barcode is not None:
                note = f" ({self.session_note})" if self.session_note else ""
                detail = f"power-on reset while writing{note}"
                self._record(barcode, ErrorKind.POWER_LOSS, detail, block=self.flushed_block)
        elif sense.asc == ASC_MEDIUM_CHANGED:
            self._forget_position()
            self._mam_barcode, self._mam_read = None, False
            self.alert_flags.clear()
            self._emit(ev.MediumChanged(self.name, asc=sense.asc, ascq=sense.ascq or 0))

    def _reset_sentence(self, sense: Sense) -> str:
        what = "powered on or reset" if sense.asc == ASC_POWER_ON else "given a new medium"
        return (
            f"{self.name} was {what} ({sense.describe()}): the tape position is lost; "
            "rewind or locate before reading or writing again."
        )

    def _forget_position(self) -> None:
        self._session_barcode = None
        self._block_size = None
        self.early_warning = False

    def _note_cleaning_request(self) -> None:
        if self.driver.cleaning_requested and not self.cleaning_needed:
            self.cleaning_needed = True
            self._emit(ev.CleaningRequested(self.name))

    def _io(self, kind: ErrorKind, fn: Callable[..., T], *args: object, repeatable: bool) -> T:
        """A medium access: medium errors are recorded, TapeAlert is read after any error."""
        try:
            return self._call(fn, *args, repeatable=repeatable)
        except MediumError as exc:
            if self.barcode is not None:
                self._record(self.barcode, kind, exc.sentence, block=self._position_or_none())
            self._tapealerts_after_error()
            raise
        except ScsiError:
            self._tapealerts_after_error()
            raise

    def _record(self, barcode: str, kind: ErrorKind, detail: str, block: int | None = None) -> None:
        if self.store is None:
            return
        error = MediaError(barcode, self.name, kind, utc_now(), block, detail)
        outcome = record_known(self.store, error, self.rules)
        if outcome is not None:
            change = outcome.medium_change
            self._emit(ev.MediaErrorRecorded(self.name, barcode=barcode, kind=kind, change=change))
            if outcome.drive_down is not None:
                self._emit(ev.DriveMarkedDown(self.name, status=outcome.drive_down))

    def _position_or_none(self) -> int | None:
        with contextlib.suppress(ScsiError, TransportError):
            return self.driver.position().first
        return None

    def _tapealerts_after_error(self) -> None:
        with contextlib.suppress(ScsiError, TransportError, DriveNotReady):
            self.check_tapealerts()

    # --- cartridge and position ------------------------------------------------------------

    def mounted(self, barcode: str | None) -> None:
        """The library placed ``barcode`` in the drive: start a fresh mount state."""
        self.loaded_barcode = barcode
        self._mam_barcode, self._mam_read = None, False
        self._forget_position()
        self.alert_flags.clear()
        self.session_note = None
        self.flushed_block = None

    def wait_ready(self, *, medium_expected: bool = True) -> None:
        """TEST UNIT READY until GOOD: unit attentions consumed, NOT READY 04/01 (and 3A/00
        right after a robot move) waited out for at most ``ready_polls`` checks, an unloaded
        cartridge (04/02) loaded. Raises ``DriveNotReady`` or the drive's ``ScsiError``."""
        last: NotReady | None = None
        loaded = False
        for _ in range(self.ready_polls):
            try:
                self._call(self.driver.test_unit_ready)
                return
            except NotReady as exc:
                last, code = exc, (exc.sense.asc, exc.sense.ascq)
                if code == NEEDS_LOAD and not loaded:
                    self._call(self.driver.load)
                    loaded = True
                    continue
                if code not in BECOMING_READY and not (
                    medium_expected and exc.sense.asc == ASC_NO_MEDIUM
                ):
                    raise
                self.sleep(self.ready_delay_s)
        reason = last.sense.describe() if last is not None else "no answer"
        raise DriveNotReady(
            self.name,
            f"{self.name} did not become ready after {self.ready_polls} checks ({reason}); "
            "check the drive and the cartridge in it.",
        )

    def load(self) -> None:
        """SSC-4 7.2 LOAD: thread the cartridge waiting in the drive, then wait until ready."""
        self._call(self.driver.load)
        self.wait_ready()

    def unload(self) -> None:
        """SSC-4 7.2 UNLOAD: flush, rewind, present the cartridge for removal."""
        self._io(ErrorKind.LOAD, self.driver.unload, repeatable=True)
        self.mounted(None)

    def rewind(self) -> None:
        """SSC-4 7.5 REWIND: flushes; ends the write session (end of data is on tape)."""
        self._io(ErrorKind.POSITION, self.driver.rewind, repeatable=True)
        self._session_barcode = None
        self.early_warning = False

    def locate(self, block: int) -> None:
        self._io(ErrorKind.POSITION, self.driver.locate, block, repeatable=True)

    def position(self) -> int:
        """SSC-4 7.3 READ POSITION: the logical object number of the next read or write."""
        return self._call(self.driver.position).first

    def space_to_end_of_data(self) -> None:
        """SPACE to end of data: where the next session is appended."""
        self._io(ErrorKind.POSITION, self.driver.space_to_end_of_data, repeatable=True)

    def space_filemarks(self, count: int) -> None:
        """SPACE over ``count`` filemarks (negative: toward the beginning)."""
        self._io(ErrorKind.POSITION, self.driver.space, count, SpaceCode.FILEMARKS, repeatable=True)

    def set_block_size(self, n: int) -> None:
        """0 selects variable-block mode (one WRITE = one record), else fixed ``n``-byte blocks."""
        self._call(self.driver.set_block_size, n)
        self._block_size = n

    def set_compression(self, on: bool) -> None:
        self._call(self.driver.set_compression, on)

    @property
    def max_transfer(self) -> int | None:
        """Bytes one command may move on this drive's path (``Transport.max_transfer``)."""
        return getattr(self.driver.transport, "max_transfer", None)

    def label_read_len(self) -> int:
        """What a variable-block READ of the first record asks for: ``LABEL_READ_LEN``, or
        less on a path that moves less per command (the label's JSON is at the start of its
        record; a longer record comes back truncated, which the label check allows)."""
        limit = self.max_transfer
        return LABEL_READ_LEN if limit is None else min(LABEL_READ_LEN, limit)

    def records_per_command(self, record_size: int, wanted: int) -> int:
        """How many of ``wanted`` records of ``record_size`` one fixed-block READ or WRITE may
        carry on this drive's path (at least one: a record is never split)."""
        limit = self.max_transfer
        return wanted if limit is None else max(1, min(wanted, limit // record_size))

    def block_size(self) -> int:
        if self._block_size is None:
            self._block_size = self._call(self.driver.mode).block_size
        return self._block_size

    # --- data ----------------------------------------------------------------------------

    def write_record(self, data: bytes | memoryview) -> None:
        """Write one record (fixed mode: whole blocks). At early warning the data WAS written:
        ``early_warning`` turns True and an ``EarlyWarning`` event is sent once per mount.
        Raises VolumeOverflow (not written), DataProtect, MediumError, DriveReset."""
        self._open_session()
        size = self.block_size()
        call = (self.driver.write_fixed, data, size) if size else (self.driver.write, data)
        self._after_write(self._io(ErrorKind.WRITE, *call, repeatable=False))

    def write_filemarks(self, n: int = 1) -> None:
        """SSC-4 6.8 WRITE FILEMARKS; returns once the buffer is on tape."""
        self._open_session()
        self._after_write(
            self._io(ErrorKind.WRITE, self.driver.write_filemarks, n, repeatable=False)
        )
        self.flushed_block = self._position_or_none()

    def flush(self) -> None:
        """WRITE FILEMARKS 0: on return every record written so far is on the tape."""
        self._io(ErrorKind.WRITE, self.driver.flush, repeatable=False)
        self.flushed_block = self._position_or_none()

    def _open_session(self) -> None:
        if self._session_barcode is None:
            self._session_barcode = self.barcode or "?"

    def _after_write(self, result: WriteResult) -> None:
        if result.early_warning and not self.early_warning:
            self.early_warning = True
            self._emit(ev.EarlyWarning(self.name, barcode=self.barcode))

    def read_record(self, max_len: int, into: memoryview | None = None) -> RecordRead:
        """Read one record of at most ``max_len`` bytes (fixed mode: as many whole blocks).
        ``into`` (fixed mode): a buffer of at least that size to read into, reused by the
        caller; the data is then a view of it (a restore reads into a few such buffers)."""
        size = self.block_size()
        blocks = max(1, max_len // size) if size else 0
        call: tuple[Any, ...]
        call = (self.driver.read_fixed, blocks, size, into) if size else (self.driver.read, max_len)
        result = self._io(ErrorKind.READ, *call, repeatable=False)
        kind = RECORD_KINDS[result.kind]
        if kind is RecordKind.FILEMARK:
            self._emit(ev.FilemarkRead(self.name))
        elif kind is RecordKind.END_OF_DATA:
            self._emit(ev.EndOfData(self.name))
        return RecordRead(kind, result.data, truncated=result.ili and result.residue < 0)

    # --- label ---------------------------------------------------------------------------

    def read_label(self) -> VolumeStart:
        """Rewind, read the first record and classify it (tapir label, blank, foreign, ...);
        the tape is left rewound."""
        self.rewind()
        size = self.block_size()
        record = self.read_record(size or self.label_read_len())
        self.rewind()
        return inspect_volume_start(record.data if record.kind is RecordKind.DATA else None)

    def write_label(self, label: Label, *, force: bool = False) -> None:
        """Write ``label`` at BOT followed by a filemark. Refuses to overwrite anything but a
        blank tape without ``force`` (``LabelOverwriteRefused``). With a store, the medium is
        registered as scratch in the label's pool, or returned to scratch when relabeled."""
        start = self.read_label()
        try:
            check_may_label(start, volume=label.volume_id, force=force)
        except OverwriteRefused as exc:
            raise LabelOverwriteRefused(self.name, f"{self.name}: {exc}") from exc
        self.write_record(encode_label(label))
        self.write_filemarks(1)
        if self.store is not None:
            register_label(self.store, label, drive=self.name, actor=ACTOR)
        self._emit(ev.Labeled(self.name, volume_id=label.volume_id, forced=force))

    # --- TapeAlert and status -----------------------------------------------------------------

    def check_tapealerts(self) -> list[TapeAlertAction]:
        """Read TapeAlert (LOG SENSE 0x2E; reading clears most flags) and turn the set flags
        into actions; a cleaning flag sets ``cleaning_needed``. Sends ``TapeAlertRaised``."""
        flags = set(self._call(self.driver.tapealerts).active)
        self.alert_flags |= flags
        actions = actions_for(flags)
        wanted = {a.action for a in actions}
        if wanted & CLEANING_ACTIONS and not self.cleaning_needed:
            self.cleaning_needed = True
            self._emit(ev.CleaningRequested(self.name))
        if actions:
            raised = ev.TapeAlertRaised(
                self.name, actions=tuple(actions), flags=tuple(sorted(flags))
            )
            self._emit(raised)
        return actions

    def cleaned(self) -> None:
        """The library cleaned the drive: forget the cleaning request."""
        self.cleaning_needed = False
        self.driver.cleaning_requested = False
        self.alert_flags -= CLEANING_FLAGS

    def answers(self) -> bool:
        """Whether the drive answers at all: TEST UNIT READY gets a status, ready or not. A
        powered-off or unplugged drive (a transport error: no device behind the address) is
        not one to offer a job; unit attentions are consumed as for any command."""
        try:
            self._call(self.driver.test_unit_ready)
        except TransportError:
            return False
        except (ScsiError, DriveNotReady):
            pass
        return True

    def status(self) -> DriveState:
        """Identity, readiness, loaded barcode, position, block size, TapeAlert flags."""
        found: dict[str, Any] = {"serial": self._serial}
        try:
            inquiry = self.driver.inquiry()
            found.update(serial=self.serial, vendor=inquiry.vendor, model=inquiry.product)
            found["revision"] = inquiry.revision
            try:
                self._call(self.driver.test_unit_ready)
                found.update(ready=True, barcode=self.barcode, position=self.position())
                found["block_size"] = self.block_size()
            except NotReady as exc:
                found["not_ready_reason"] = exc.sense.describe()
            self.check_tapealerts()
        except (ScsiError, TransportError, DriveNotReady) as exc:
            found["error"] = describe(exc)
        flags = tuple(sorted(self.alert_flags))
        return DriveState(
            self.name,
            **found,
            tapealert_flags=flags,
            tapealerts=tuple(flag_name(f) for f in flags),
            cleaning_needed=self.cleaning_needed,
            early_warning=self.early_warning,
        )
