"""TapeAlert (SSC-4 8.2.4, annex A): the 64 flags of LOG SENSE page 0x2E, by name.

Names follow the TapeAlert specification as drive manuals and sg_logs print them; flags
0x28-0x2E are obsolete (they were changer flags), 0x2F, 0x30 and 0x3C-0x40 reserved.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from drivers.spc_data import LogPage

TAPEALERT_FLAGS = 64
FLAG_SET = 0x01
OBSOLETE = range(0x28, 0x2F)


class TapeAlertFlag(enum.IntEnum):
    """TapeAlert flags 1..64 (SSC-4 annex A); 0x28-0x2E are obsolete changer flags."""

    READ_WARNING = 0x01
    WRITE_WARNING = 0x02
    HARD_ERROR = 0x03
    MEDIA = 0x04
    READ_FAILURE = 0x05
    WRITE_FAILURE = 0x06
    MEDIA_LIFE = 0x07
    NOT_DATA_GRADE = 0x08
    WRITE_PROTECT = 0x09
    NO_REMOVAL = 0x0A
    CLEANING_MEDIA = 0x0B
    UNSUPPORTED_FORMAT = 0x0C
    RECOVERABLE_MECHANICAL_CARTRIDGE_FAILURE = 0x0D
    UNRECOVERABLE_MECHANICAL_CARTRIDGE_FAILURE = 0x0E
    MEMORY_CHIP_IN_CARTRIDGE_FAILURE = 0x0F
    FORCED_EJECT = 0x10
    READ_ONLY_FORMAT = 0x11
    TAPE_DIRECTORY_CORRUPTED_ON_LOAD = 0x12
    NEARING_MEDIA_LIFE = 0x13
    CLEAN_NOW = 0x14
    CLEAN_PERIODIC = 0x15
    EXPIRED_CLEANING_MEDIA = 0x16
    INVALID_CLEANING_TAPE = 0x17
    RETENSION_REQUESTED = 0x18
    DUAL_PORT_INTERFACE_ERROR = 0x19
    COOLING_FAN_FAILURE = 0x1A
    POWER_SUPPLY_FAILURE = 0x1B
    POWER_CONSUMPTION = 0x1C
    DRIVE_MAINTENANCE = 0x1D
    HARDWARE_A = 0x1E
    HARDWARE_B = 0x1F
    INTERFACE = 0x20
    EJECT_MEDIA = 0x21
    MICROCODE_UPDATE_FAIL = 0x22
    DRIVE_HUMIDITY = 0x23
    DRIVE_TEMPERATURE = 0x24
    DRIVE_VOLTAGE = 0x25
    PREDICTIVE_FAILURE = 0x26
    DIAGNOSTICS_REQUIRED = 0x27
    LOST_STATISTICS = 0x31
    TAPE_DIRECTORY_INVALID_AT_UNLOAD = 0x32
    TAPE_SYSTEM_AREA_WRITE_FAILURE = 0x33
    TAPE_SYSTEM_AREA_READ_FAILURE = 0x34
    NO_START_OF_DATA = 0x35
    LOADING_FAILURE = 0x36
    UNRECOVERABLE_UNLOAD_FAILURE = 0x37
    AUTOMATION_INTERFACE_FAILURE = 0x38
    FIRMWARE_FAILURE = 0x39
    WORM_MEDIUM_INTEGRITY_CHECK_FAILED = 0x3A
    WORM_MEDIUM_OVERWRITE_ATTEMPTED = 0x3B

    @property
    def label(self) -> str:
        """ "Clean now", "Hardware A", "WORM medium overwrite attempted"."""
        words = [w if w == "WORM" or len(w) == 1 else w.lower() for w in self.name.split("_")]
        return " ".join(words)[0].upper() + " ".join(words)[1:]


def flag_name(number: int) -> str:
    """The flag's name, or "Obsolete (28h)" / "Reserved (3Ch)" as sg_logs prints them."""
    try:
        return TapeAlertFlag(number).label
    except ValueError:
        kind = "Obsolete" if number in OBSOLETE else "Reserved"
        return f"{kind} ({number:02X}h)"


@dataclass(frozen=True, slots=True)
class TapeAlerts:
    """The flags set in a TapeAlert page read (reading it clears most of them)."""

    active: frozenset[int]

    def __contains__(self, flag: object) -> bool:
        return flag in self.active

    def names(self) -> list[str]:
        return [flag_name(n) for n in sorted(self.active)]


def parse_tapealert(page: LogPage) -> TapeAlerts:
    """SSC-4 8.2.4: parameter code = flag number, value bit 0 = set."""
    return TapeAlerts(
        frozenset(
            p.code
            for p in page.parameters
            if 1 <= p.code <= TAPEALERT_FLAGS and p.value and p.value[0] & FLAG_SET
        )
    )
