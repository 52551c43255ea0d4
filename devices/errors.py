"""Device-level errors of TapeDrive and TapeLibrary: one sentence naming the device and what to do.

SCSI-level failures keep their own types (drivers/errors.py ``ScsiError``: the sentence names
the device, the command, the sense and the advice; ``TransportError``: no status came back).
The classes here are for what only the device layer knows: a barcode not in the library, no
free drive, a cartridge stuck in a named drive, a robot that keeps failing, a door left open,
a drive reset while writing. ``describe()`` gives the one sentence for any of the three
families, so the CLI prints every device error the same way.
"""

from __future__ import annotations

from devices.label import OverwriteRefused
from drivers.errors import ScsiError
from drivers.transport.contract import TransportError


class DeviceError(Exception):
    """Base of device-layer errors. ``device`` names the drive or library, ``code`` is stable."""

    code = "device.error"

    def __init__(self, device: str, sentence: str) -> None:
        super().__init__(sentence)
        self.device = device
        self.sentence = sentence


class DriveNotReady(DeviceError):
    code = "device.drive_not_ready"


class DriveReset(DeviceError):
    """The drive reported a power-on reset or a medium change: its position is unknown."""

    code = "device.drive_reset"


class LabelOverwriteRefused(DeviceError, OverwriteRefused):
    """Labeling would overwrite data; also an ``OverwriteRefused`` for label-level callers."""

    code = "device.label_overwrite_refused"


class LibraryConfigError(DeviceError):
    """A drive given to the library matches none of its drive elements (by serial)."""

    code = "device.library_config"


class UnknownDrive(DeviceError):
    code = "device.unknown_drive"


class DriveDown(DeviceError):
    code = "device.drive_down"


class DriveOccupied(DeviceError):
    code = "device.drive_occupied"


class DriveEmpty(DeviceError):
    code = "device.drive_empty"


class NoFreeDrive(DeviceError):
    code = "device.no_free_drive"


class MediumNotInLibrary(DeviceError):
    code = "device.medium_not_in_library"


class MediumInUse(DeviceError):
    code = "device.medium_in_use"


class NoFreeSlot(DeviceError):
    code = "device.no_free_slot"


class CartridgeStuck(DeviceError):
    code = "device.cartridge_stuck"


class RobotFailure(DeviceError):
    code = "device.robot_failure"


class DoorOpen(DeviceError):
    code = "device.door_open"


class NoCleaningCartridge(DeviceError):
    code = "device.no_cleaning_cartridge"


class CleaningMediaExpired(DeviceError):
    code = "device.cleaning_media_expired"


class CleaningFailed(DeviceError):
    code = "device.cleaning_failed"


def describe(exc: BaseException) -> str:
    """The one sentence for a device, SCSI or transport error (for the CLI and logs)."""
    if isinstance(exc, DeviceError | ScsiError):
        return exc.sentence
    if isinstance(exc, TransportError):
        return f"{exc.device}: {exc.detail}; check that the device is powered on and connected."
    return str(exc)
