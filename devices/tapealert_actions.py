"""TapeAlert flags (SSC-4 8.2.4, annex A) turned into what the host should do about them.

A drive reports up to 64 flags; a backup host needs five decisions (issue 3): clean the
drive now, clean it soon, treat the loaded cartridge as suspect, treat the drive as failing,
replace the cleaning cartridge. ``actions_for`` groups the set flags by action and keeps
the flag numbers and names, so an event or a status line can say which flags led there.
Flags outside the table (read/write warnings, "cleaning media" while a CLN is in, lost
statistics, ...) are informational: they show in the drive status but call for no action.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from drivers.tapealert import TapeAlertFlag as F
from drivers.tapealert import flag_name


class AlertAction(StrEnum):
    CLEAN_NOW = "clean-now"
    CLEAN_PERIODIC = "clean-periodic"
    MEDIA_SUSPECT = "media-suspect"
    DRIVE_FAILURE = "drive-failure"
    REPLACE_CLEANING_MEDIA = "replace-cleaning-media"


ACTION_FLAGS: dict[AlertAction, frozenset[int]] = {
    AlertAction.CLEAN_NOW: frozenset({F.CLEAN_NOW}),
    AlertAction.CLEAN_PERIODIC: frozenset({F.CLEAN_PERIODIC}),
    AlertAction.REPLACE_CLEANING_MEDIA: frozenset(
        {F.EXPIRED_CLEANING_MEDIA, F.INVALID_CLEANING_TAPE}
    ),
    AlertAction.MEDIA_SUSPECT: frozenset(
        {
            F.MEDIA,
            F.READ_FAILURE,
            F.WRITE_FAILURE,
            F.MEDIA_LIFE,
            F.NOT_DATA_GRADE,
            F.WRITE_PROTECT,
            F.UNSUPPORTED_FORMAT,
            F.RECOVERABLE_MECHANICAL_CARTRIDGE_FAILURE,
            F.UNRECOVERABLE_MECHANICAL_CARTRIDGE_FAILURE,
            F.MEMORY_CHIP_IN_CARTRIDGE_FAILURE,
            F.FORCED_EJECT,
            F.READ_ONLY_FORMAT,
            F.TAPE_DIRECTORY_CORRUPTED_ON_LOAD,
            F.NEARING_MEDIA_LIFE,
            F.TAPE_DIRECTORY_INVALID_AT_UNLOAD,
            F.TAPE_SYSTEM_AREA_WRITE_FAILURE,
            F.TAPE_SYSTEM_AREA_READ_FAILURE,
            F.NO_START_OF_DATA,
            F.WORM_MEDIUM_INTEGRITY_CHECK_FAILED,
            F.WORM_MEDIUM_OVERWRITE_ATTEMPTED,
        }
    ),
    AlertAction.DRIVE_FAILURE: frozenset(
        {
            F.HARD_ERROR,
            F.DUAL_PORT_INTERFACE_ERROR,
            F.COOLING_FAN_FAILURE,
            F.POWER_SUPPLY_FAILURE,
            F.POWER_CONSUMPTION,
            F.DRIVE_MAINTENANCE,
            F.HARDWARE_A,
            F.HARDWARE_B,
            F.INTERFACE,
            F.EJECT_MEDIA,
            F.MICROCODE_UPDATE_FAIL,
            F.DRIVE_HUMIDITY,
            F.DRIVE_TEMPERATURE,
            F.DRIVE_VOLTAGE,
            F.PREDICTIVE_FAILURE,
            F.DIAGNOSTICS_REQUIRED,
            F.LOADING_FAILURE,
            F.UNRECOVERABLE_UNLOAD_FAILURE,
            F.AUTOMATION_INTERFACE_FAILURE,
            F.FIRMWARE_FAILURE,
        }
    ),
}
"""Which flags call for which action; a flag belongs to at most one action."""


@dataclass(frozen=True)
class TapeAlertAction:
    """One action with the flags (numbers, ascending) and their names that call for it."""

    action: AlertAction
    flags: tuple[int, ...]
    names: tuple[str, ...]

    def describe(self) -> str:
        listed = ", ".join(f"{n} ({f:02X}h)" for f, n in zip(self.flags, self.names, strict=True))
        return f"{self.action.value}: {listed}"


def actions_for(flags: Iterable[int]) -> list[TapeAlertAction]:
    """The actions the set ``flags`` call for, in ``AlertAction`` order."""
    active = set(flags)
    found = []
    for action in AlertAction:
        hit = sorted(active & ACTION_FLAGS[action])
        if hit:
            found.append(TapeAlertAction(action, tuple(hit), tuple(flag_name(f) for f in hit)))
    return found
