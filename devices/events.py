"""Typed events of tape drives and libraries (shared/DESIGN.md "Devices": sense turned into events).

TapeDrive and TapeLibrary call an ``events`` callback, synchronously, from the thread that ran
the command, with one of the frozen dataclasses below; the callback must not block for long
nor call back into the device. ``device`` names the drive or library. Events report what
happened; anything the caller must act on is also raised or returned (an event is never the
only signal of a failure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from devices.media import DriveStatus, ErrorKind, StateChange, utc_now
from devices.tapealert_actions import TapeAlertAction


@dataclass(frozen=True)
class DeviceEvent:
    device: str
    at: datetime = field(default_factory=utc_now, kw_only=True)


# --- drive: what the tape said --------------------------------------------------------------


@dataclass(frozen=True)
class FilemarkRead(DeviceEvent):
    position: int | None = None


@dataclass(frozen=True)
class EndOfData(DeviceEvent):
    position: int | None = None


@dataclass(frozen=True)
class EarlyWarning(DeviceEvent):
    """The write crossed early warning (SSC-4 4.2.5): the data was written; close the volume."""

    barcode: str | None = None


@dataclass(frozen=True)
class PowerOnReset(DeviceEvent):
    """UNIT ATTENTION 29/xx: the drive was reset or powered on; position and modes are lost."""

    while_writing: bool = False


@dataclass(frozen=True)
class MediumChanged(DeviceEvent):
    """UNIT ATTENTION 28/xx: a cartridge was loaded (or the I/E station was accessed)."""

    asc: int = 0x28
    ascq: int = 0x00


@dataclass(frozen=True)
class CleaningRequested(DeviceEvent):
    """The drive asked for cleaning (NO SENSE 00/17 or TapeAlert 14h/15h)."""


@dataclass(frozen=True)
class TapeAlertRaised(DeviceEvent):
    actions: tuple[TapeAlertAction, ...] = ()
    flags: tuple[int, ...] = ()


@dataclass(frozen=True)
class MediaErrorRecorded(DeviceEvent):
    """A media error went through devices.media_rules; ``change`` is a freeze or suspect."""

    barcode: str = ""
    kind: ErrorKind = ErrorKind.MEDIUM
    change: StateChange | None = None


@dataclass(frozen=True)
class DriveMarkedDown(DeviceEvent):
    status: DriveStatus | None = None


@dataclass(frozen=True)
class Labeled(DeviceEvent):
    volume_id: str = ""
    forced: bool = False


# --- library: what the robot did --------------------------------------------------------------


@dataclass(frozen=True)
class InventoryRefreshed(DeviceEvent):
    reason: str = ""


@dataclass(frozen=True)
class ChangerAttention(DeviceEvent):
    """UNIT ATTENTION from the changer (28/00 door closed, 28/01 I/E accessed, 29/00 reset)."""

    asc: int = 0
    ascq: int = 0


@dataclass(frozen=True)
class RobotRetry(DeviceEvent):
    """A robot operation failed transiently (HARDWARE ERROR 15/01) and is tried again."""

    attempt: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Moved(DeviceEvent):
    barcode: str | None = None
    source: int = 0
    destination: int = 0


@dataclass(frozen=True)
class Mounted(DeviceEvent):
    barcode: str = ""
    drive: str = ""


@dataclass(frozen=True)
class Unmounted(DeviceEvent):
    barcode: str = ""
    drive: str = ""
    slot: int = 0


@dataclass(frozen=True)
class Cleaned(DeviceEvent):
    drive: str = ""
    barcode: str = ""


@dataclass(frozen=True)
class CleaningMediaRejected(DeviceEvent):
    """A cleaning cartridge was expired or invalid (TapeAlert 16h/17h)."""

    drive: str = ""
    barcode: str = ""


EventSink = Callable[[DeviceEvent], None]


def ignore(event: DeviceEvent) -> None:
    """The default sink."""
