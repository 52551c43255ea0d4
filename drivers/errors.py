"""The one mapping from SCSI status + sense to exceptions, shared by every transport and driver.

Transports return CHECK CONDITION as a result (drivers/transport/contract.py); drivers call
``raise_for_result`` on every result, so no path swallows a CHECK CONDITION. The exception
class follows the sense key (SPC-4 4.5.6) or, without sense, the status (SAM-5 5.3); its
message is one sentence naming the device, the command, what the device said and what to do.

Every ``ScsiError`` carries structured fields (``device``, ``cdb``, ``command``, ``status``,
``sense``, ``result``), a stable ``code`` and a ``transient`` hint (retrying may succeed).
Tape drivers catch ``NoSense``/``BlankCheck``/``VolumeOverflow`` as signals (filemark, end of
data, end of medium, SSC-4 4.2.5) and read ``result`` for the data that did arrive.
"""

from __future__ import annotations

from typing import ClassVar

from drivers.cdb import command_name
from drivers.sense import Sense, SenseKey, parse_sense
from drivers.transport.contract import ScsiResult, ScsiStatus

COMMAND_TERMINATED = 0x22
"""SCSI-2 status, obsolete since SAM-2; old devices still use it like CHECK CONDITION."""


class ScsiError(Exception):
    """A command completed with a status other than GOOD (or with unusable sense)."""

    code: ClassVar[str] = "scsi.error"
    advice: ClassVar[str] = "Retry the command; if it fails again, check the device."
    transient: ClassVar[bool] = False

    def __init__(
        self,
        device: str,
        cdb: bytes,
        *,
        status: int,
        sense: Sense | None = None,
        result: ScsiResult | None = None,
        command: str | None = None,
        advice: str | None = None,
    ) -> None:
        self.device = device
        self.cdb = bytes(cdb)
        self.opcode = self.cdb[0] if self.cdb else None
        self.command = command or command_name(self.cdb)
        self.status = status
        self.sense = sense
        self.result = result
        self.sentence = f"{device}: {self.command} failed: {self.what()}."
        todo = advice if advice is not None else self.advice
        if todo:
            self.sentence += f" {todo}"
        super().__init__(self.sentence)

    def what(self) -> str:
        """What the device reported, without the device and command."""
        if self.sense is not None:
            return self.sense.describe()
        try:
            return f"status {ScsiStatus(self.status).name.replace('_', ' ')}"
        except ValueError:
            return f"status 0x{self.status:02X}"


# --- CHECK CONDITION, one class per sense key (SPC-4 table 28) -------------------------------


class SenseError(ScsiError):
    """CHECK CONDITION with parseable sense; ``sense`` is never None here."""

    sense: Sense
    key: ClassVar[SenseKey | None] = None


class NoSense(SenseError):
    """NO SENSE with a flag or ASC worth reporting: filemark, EOM early warning, ILI."""

    code = "scsi.no_sense"
    advice = ""
    key = SenseKey.NO_SENSE


class RecoveredError(SenseError):
    code = "scsi.recovered_error"
    advice = "The device recovered by itself; no action is needed unless this repeats."
    key = SenseKey.RECOVERED_ERROR


class NotReady(SenseError):
    code = "scsi.not_ready"
    advice = "Wait until the device is ready, then retry."
    key = SenseKey.NOT_READY
    transient = True


class MediumError(SenseError):
    code = "scsi.medium_error"
    advice = "The cartridge may be damaged: retry once, then mark it suspect and use another."
    key = SenseKey.MEDIUM_ERROR


class HardwareError(SenseError):
    code = "scsi.hardware_error"
    advice = "Check the device and its TapeAlert flags; call for service if this persists."
    key = SenseKey.HARDWARE_ERROR


class IllegalRequest(SenseError):
    code = "scsi.illegal_request"
    advice = "The device refused the command as sent; report this message as a bug."
    key = SenseKey.ILLEGAL_REQUEST


class UnitAttention(SenseError):
    code = "scsi.unit_attention"
    advice = "The device was reset or its medium changed; re-read its state and retry."
    key = SenseKey.UNIT_ATTENTION
    transient = True


class DataProtect(SenseError):
    code = "scsi.data_protect"
    advice = "The cartridge cannot be written: use another cartridge."
    key = SenseKey.DATA_PROTECT


class BlankCheck(SenseError):
    code = "scsi.blank_check"
    advice = "There is no data there (end of data or a blank cartridge)."
    key = SenseKey.BLANK_CHECK


class VendorSpecific(SenseError):
    code = "scsi.vendor_specific"
    advice = "The device reported a vendor-specific condition; see its documentation."
    key = SenseKey.VENDOR_SPECIFIC


class CopyAborted(SenseError):
    code = "scsi.copy_aborted"
    key = SenseKey.COPY_ABORTED


class AbortedCommand(SenseError):
    code = "scsi.aborted_command"
    advice = "The device aborted the command; retry it."
    key = SenseKey.ABORTED_COMMAND
    transient = True


class VolumeOverflow(SenseError):
    code = "scsi.volume_overflow"
    advice = "The cartridge is full: continue on another cartridge."
    key = SenseKey.VOLUME_OVERFLOW


class Miscompare(SenseError):
    code = "scsi.miscompare"
    advice = "The data on the medium does not match what was compared."
    key = SenseKey.MISCOMPARE


class OtherSenseKey(SenseError):
    """Sense keys with no class of their own (EQUAL, COMPLETED)."""

    code = "scsi.other_sense_key"


class UnreadableSense(ScsiError):
    """CHECK CONDITION whose sense is missing or in no known format (``sense`` is None)."""

    code = "scsi.unreadable_sense"
    advice = "The device gave no usable sense data; retry, and check the device if it repeats."

    def what(self) -> str:
        raw = self.result.sense if self.result is not None else b""
        shown = bytes(raw[:18]).hex(" ") if raw else "none"
        return f"CHECK CONDITION without usable sense (sense bytes: {shown})"


# --- statuses other than CHECK CONDITION (SAM-5 table 33) ------------------------------------


class StatusError(ScsiError):
    """A non-GOOD status without sense."""


class DeviceBusy(StatusError):
    code = "scsi.busy"
    advice = "The device is busy; retry shortly."
    transient = True


class ReservationConflict(StatusError):
    code = "scsi.reservation_conflict"
    advice = "Another host or process holds a reservation on the device: release it or wait."


class TaskSetFull(StatusError):
    code = "scsi.task_set_full"
    advice = "The device's command queue is full; retry shortly."
    transient = True


class AcaActive(StatusError):
    code = "scsi.aca_active"
    advice = "The device is handling an earlier error (ACA); retry after it is cleared."
    transient = True


class TaskAborted(StatusError):
    code = "scsi.task_aborted"
    advice = "The command was aborted by another initiator's action; retry it."
    transient = True


class UnexpectedStatus(StatusError):
    code = "scsi.unexpected_status"


SENSE_KEY_ERRORS: dict[SenseKey, type[SenseError]] = {
    cls.key: cls
    for cls in (
        NoSense,
        RecoveredError,
        NotReady,
        MediumError,
        HardwareError,
        IllegalRequest,
        UnitAttention,
        DataProtect,
        BlankCheck,
        VendorSpecific,
        CopyAborted,
        AbortedCommand,
        VolumeOverflow,
        Miscompare,
    )
    if cls.key is not None
}

STATUS_ERRORS: dict[int, type[StatusError]] = {
    ScsiStatus.BUSY: DeviceBusy,
    ScsiStatus.RESERVATION_CONFLICT: ReservationConflict,
    ScsiStatus.TASK_SET_FULL: TaskSetFull,
    ScsiStatus.ACA_ACTIVE: AcaActive,
    ScsiStatus.TASK_ABORTED: TaskAborted,
}

_OK_STATUSES = frozenset({ScsiStatus.GOOD, ScsiStatus.CONDITION_MET})
_SENSE_STATUSES = frozenset({ScsiStatus.CHECK_CONDITION, COMMAND_TERMINATED})

# Advice for conditions more specific than their sense key: (key, ASC, ASCQ or None for any).
ADVICE: dict[tuple[SenseKey, int, int | None], str] = {
    (SenseKey.NOT_READY, 0x3A, None): "Load a cartridge into the drive.",
    (SenseKey.NOT_READY, 0x04, 0x01): "The device is becoming ready; retry in a few seconds.",
    (SenseKey.NOT_READY, 0x04, 0x03): "Manual intervention is needed: check the device panel.",
    (SenseKey.NOT_READY, 0x04, 0x12): "The device is offline: bring it online at its panel.",
    (SenseKey.NOT_READY, 0x04, 0x18): "Close the library door.",
    (SenseKey.NOT_READY, 0x04, 0x83): "Close the library door.",  # vendor: IBM, Dell, Spectra
    (SenseKey.NOT_READY, 0x30, 0x03): "A cleaning cartridge is loaded: unload it when done.",
    (SenseKey.MEDIUM_ERROR, 0x14, 0x03): (
        "The tape has no valid end of data (power loss?): rewrite it from the beginning."
    ),
    (SenseKey.MEDIUM_ERROR, 0x30, None): "The cartridge format is not readable by this drive.",
    (SenseKey.DATA_PROTECT, 0x27, None): (
        "The cartridge is write-protected: slide its write-protect tab or use another."
    ),
    (SenseKey.DATA_PROTECT, 0x30, 0x0C): (
        "The cartridge is WORM and cannot be overwritten: use another cartridge."
    ),
    (SenseKey.ILLEGAL_REQUEST, 0x3B, 0x0D): "The destination is full: choose an empty element.",
    (SenseKey.ILLEGAL_REQUEST, 0x3B, 0x0E): "The source is empty: refresh the inventory.",
    (SenseKey.ILLEGAL_REQUEST, 0x53, 0x02): "Medium removal is prevented: allow removal first.",
    (SenseKey.ILLEGAL_REQUEST, 0x3B, 0x83): (  # vendor: IBM, as hwsim reports it
        "The drive still holds the cartridge threaded: unload the drive first."
    ),
    (SenseKey.ILLEGAL_REQUEST, 0x21, 0x01): "Check the element address against the inventory.",
    (SenseKey.ILLEGAL_REQUEST, 0x30, 0x00): "This cartridge type is not usable in this drive.",
    (SenseKey.UNIT_ATTENTION, 0x28, None): "The medium may have changed: re-read its state.",
    (SenseKey.UNIT_ATTENTION, 0x29, None): "The device was reset or powered on: re-read its state.",
    (SenseKey.NO_SENSE, 0x00, 0x17): "The drive asks for cleaning: load a cleaning cartridge.",
}


def advice_for(sense: Sense) -> str | None:
    """The most specific advice for this sense, or None to use the exception's default."""
    if sense.asc is None:
        return None
    return ADVICE.get((sense.key, sense.asc, sense.ascq)) or ADVICE.get(
        (sense.key, sense.asc, None)
    )


def error_for_result(
    result: ScsiResult, device: str, cdb: bytes, *, command: str | None = None
) -> ScsiError | None:
    """The exception ``result`` calls for, or None when the command succeeded."""
    status = result.status
    if status in _OK_STATUSES:
        return None
    common = {"status": status, "result": result, "command": command}
    if status in _SENSE_STATUSES:
        sense = parse_sense(result.sense)
        if sense is None:
            return UnreadableSense(device, cdb, **common)
        cls = SENSE_KEY_ERRORS.get(sense.key, OtherSenseKey)
        return cls(device, cdb, sense=sense, advice=advice_for(sense), **common)
    return STATUS_ERRORS.get(status, UnexpectedStatus)(device, cdb, **common)


def raise_for_result(
    result: ScsiResult, device: str, cdb: bytes, *, command: str | None = None
) -> None:
    """Raise the ``ScsiError`` subclass for ``result`` unless it is GOOD or CONDITION MET.

    ``device`` names the device in the message ("/dev/sg3", "hwsim:drive0"); ``command``
    overrides the name derived from the opcode when the driver knows better.
    """
    error = error_for_result(result, device, cdb, command=command)
    if error is not None:
        raise error
