"""Operation codes hwsim answers, one enum per command set (SPC-4, SSC-4, SMC-3).

Codes overlap between sets (0x2B is LOCATE(10) for a tape drive and POSITION TO ELEMENT for
a changer), so each device table is keyed by the enums of the sets its device type speaks.
"""

from __future__ import annotations

import enum


class SpcOpcode(enum.IntEnum):
    TEST_UNIT_READY = 0x00
    REQUEST_SENSE = 0x03
    INQUIRY = 0x12
    MODE_SELECT_6 = 0x15
    MODE_SENSE_6 = 0x1A
    PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1E
    LOG_SELECT = 0x4C
    LOG_SENSE = 0x4D
    MODE_SELECT_10 = 0x55
    MODE_SENSE_10 = 0x5A
    READ_ATTRIBUTE = 0x8C
    WRITE_ATTRIBUTE = 0x8D
    REPORT_LUNS = 0xA0


class SscOpcode(enum.IntEnum):
    REWIND = 0x01
    READ_BLOCK_LIMITS = 0x05
    READ_6 = 0x08
    WRITE_6 = 0x0A
    WRITE_FILEMARKS_6 = 0x10
    SPACE_6 = 0x11
    ERASE_6 = 0x19
    LOAD_UNLOAD = 0x1B
    LOCATE_10 = 0x2B
    READ_POSITION = 0x34
    REPORT_DENSITY_SUPPORT = 0x44
    SPACE_16 = 0x91
    LOCATE_16 = 0x92


class SmcOpcode(enum.IntEnum):
    INITIALIZE_ELEMENT_STATUS = 0x07
    POSITION_TO_ELEMENT = 0x2B
    INITIALIZE_ELEMENT_STATUS_WITH_RANGE = 0x37
    MOVE_MEDIUM = 0xA5
    EXCHANGE_MEDIUM = 0xA6
    READ_ELEMENT_STATUS = 0xB8


class PeripheralType(enum.IntEnum):
    """SPC-4 table 141 peripheral device type."""

    SEQUENTIAL_ACCESS = 0x01
    MEDIUM_CHANGER = 0x08
