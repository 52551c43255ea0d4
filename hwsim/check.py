"""Sense keys, the conditions hwsim reports, and the ``CheckCondition`` handlers raise.

Handlers never assemble sense bytes; they raise ``CheckCondition`` naming a ``Condition``
(SPC-4 4.5.6 and annex D ASC/ASCQ assignments) and ``sense.build_sense`` encodes it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SenseKey(enum.IntEnum):
    """SPC-4 table 28. All 16 values are named, so any nibble maps to a member.

    The one definition: ``drivers.sense`` decodes with it too.
    """

    NO_SENSE = 0x0
    RECOVERED_ERROR = 0x1
    NOT_READY = 0x2
    MEDIUM_ERROR = 0x3
    HARDWARE_ERROR = 0x4
    ILLEGAL_REQUEST = 0x5
    UNIT_ATTENTION = 0x6
    DATA_PROTECT = 0x7
    BLANK_CHECK = 0x8
    VENDOR_SPECIFIC = 0x9
    COPY_ABORTED = 0xA
    ABORTED_COMMAND = 0xB
    EQUAL = 0xC  # obsolete since SPC-3
    VOLUME_OVERFLOW = 0xD
    MISCOMPARE = 0xE
    COMPLETED = 0xF

    @property
    def label(self) -> str:
        """The key as written in the standard: "MEDIUM ERROR"."""
        return self.name.replace("_", " ")


class Condition(enum.Enum):
    """(sense key, ASC, ASCQ) triples that hwsim devices report, named as in SPC-4 annex D."""

    NO_ADDITIONAL_SENSE = (SenseKey.NO_SENSE, 0x00, 0x00)
    FILEMARK_DETECTED = (SenseKey.NO_SENSE, 0x00, 0x01)
    END_OF_PARTITION_MEDIUM_DETECTED = (SenseKey.NO_SENSE, 0x00, 0x02)
    BEGINNING_OF_PARTITION_MEDIUM_DETECTED = (SenseKey.NO_SENSE, 0x00, 0x04)
    END_OF_DATA_DETECTED = (SenseKey.BLANK_CHECK, 0x00, 0x05)
    # NOT READY
    BECOMING_READY = (SenseKey.NOT_READY, 0x04, 0x01)
    NOT_READY_INIT_REQUIRED = (SenseKey.NOT_READY, 0x04, 0x02)
    NOT_READY_MANUAL_INTERVENTION = (SenseKey.NOT_READY, 0x04, 0x03)
    NOT_READY_OFFLINE = (SenseKey.NOT_READY, 0x04, 0x12)
    # vendor-specific, reported by IBM, Dell, Spectra and Exabyte libraries for an open door
    NOT_READY_DOOR_OPEN = (SenseKey.NOT_READY, 0x04, 0x83)
    MEDIUM_NOT_PRESENT = (SenseKey.NOT_READY, 0x3A, 0x00)
    CLEANING_CARTRIDGE_INSTALLED = (SenseKey.NOT_READY, 0x30, 0x03)
    # MEDIUM ERROR
    WRITE_ERROR = (SenseKey.MEDIUM_ERROR, 0x0C, 0x00)
    UNRECOVERED_READ_ERROR = (SenseKey.MEDIUM_ERROR, 0x11, 0x00)
    END_OF_DATA_NOT_FOUND = (SenseKey.MEDIUM_ERROR, 0x14, 0x03)
    CANNOT_READ_MEDIUM_INCOMPATIBLE = (SenseKey.MEDIUM_ERROR, 0x30, 0x00)
    MEDIUM_FORMAT_CORRUPTED = (SenseKey.MEDIUM_ERROR, 0x31, 0x00)
    # HARDWARE ERROR
    MECHANICAL_POSITIONING_ERROR = (SenseKey.HARDWARE_ERROR, 0x15, 0x01)
    INTERNAL_TARGET_FAILURE = (SenseKey.HARDWARE_ERROR, 0x44, 0x00)
    MEDIA_LOAD_OR_EJECT_FAILED = (SenseKey.HARDWARE_ERROR, 0x53, 0x00)
    # ILLEGAL REQUEST
    PARAMETER_LIST_LENGTH_ERROR = (SenseKey.ILLEGAL_REQUEST, 0x1A, 0x00)
    INVALID_COMMAND_OPERATION_CODE = (SenseKey.ILLEGAL_REQUEST, 0x20, 0x00)
    LBA_OUT_OF_RANGE = (SenseKey.ILLEGAL_REQUEST, 0x21, 0x00)
    INVALID_ELEMENT_ADDRESS = (SenseKey.ILLEGAL_REQUEST, 0x21, 0x01)
    INVALID_FIELD_IN_CDB = (SenseKey.ILLEGAL_REQUEST, 0x24, 0x00)
    LOGICAL_UNIT_NOT_SUPPORTED = (SenseKey.ILLEGAL_REQUEST, 0x25, 0x00)
    INVALID_FIELD_IN_PARAMETER_LIST = (SenseKey.ILLEGAL_REQUEST, 0x26, 0x00)
    SAVING_PARAMETERS_NOT_SUPPORTED = (SenseKey.ILLEGAL_REQUEST, 0x39, 0x00)
    MEDIUM_DESTINATION_ELEMENT_FULL = (SenseKey.ILLEGAL_REQUEST, 0x3B, 0x0D)
    MEDIUM_SOURCE_ELEMENT_EMPTY = (SenseKey.ILLEGAL_REQUEST, 0x3B, 0x0E)
    MEDIUM_REMOVAL_PREVENTED = (SenseKey.ILLEGAL_REQUEST, 0x53, 0x02)
    # vendor-specific, IBM TS3xxx libraries: MOVE MEDIUM from a drive that has not unloaded
    SOURCE_DRIVE_NOT_UNLOADED = (SenseKey.ILLEGAL_REQUEST, 0x3B, 0x83)
    INCOMPATIBLE_MEDIUM_INSTALLED = (SenseKey.ILLEGAL_REQUEST, 0x30, 0x00)
    SEQUENTIAL_POSITIONING_ERROR = (SenseKey.MEDIUM_ERROR, 0x3B, 0x00)
    # UNIT ATTENTION
    NOT_READY_TO_READY_MEDIUM_CHANGED = (SenseKey.UNIT_ATTENTION, 0x28, 0x00)
    IMPORT_EXPORT_ELEMENT_ACCESSED = (SenseKey.UNIT_ATTENTION, 0x28, 0x01)
    POWER_ON_RESET = (SenseKey.UNIT_ATTENTION, 0x29, 0x00)
    MODE_PARAMETERS_CHANGED = (SenseKey.UNIT_ATTENTION, 0x2A, 0x01)
    # DATA PROTECT
    WRITE_PROTECTED = (SenseKey.DATA_PROTECT, 0x27, 0x00)
    WORM_MEDIUM_OVERWRITE_ATTEMPTED = (SenseKey.DATA_PROTECT, 0x30, 0x0C)
    CANNOT_WRITE_INCOMPATIBLE_FORMAT = (SenseKey.DATA_PROTECT, 0x30, 0x05)
    # VOLUME OVERFLOW
    PHYSICAL_END_OF_MEDIUM = (SenseKey.VOLUME_OVERFLOW, 0x00, 0x02)
    # RECOVERED / informational
    CLEANING_REQUESTED = (SenseKey.NO_SENSE, 0x00, 0x17)
    FAILURE_PREDICTION_THRESHOLD_EXCEEDED = (SenseKey.RECOVERED_ERROR, 0x5D, 0x00)

    @property
    def key(self) -> SenseKey:
        return self.value[0]

    @property
    def asc(self) -> int:
        return self.value[1]

    @property
    def ascq(self) -> int:
        return self.value[2]


@dataclass(frozen=True, slots=True)
class FieldPointer:
    """SPC-4 4.5.2.4.2 sense-key specific field pointer for ILLEGAL REQUEST.

    ``in_cdb`` is the C/D bit: True when the bad field is in the CDB, False when in the
    parameter list. ``bit`` is None when the whole byte is at fault.
    """

    byte: int
    bit: int | None = None
    in_cdb: bool = True


class CheckCondition(Exception):
    """A command ends in CHECK CONDITION with this sense.

    ``information`` is the signed INFORMATION field (residue for READ/WRITE/SPACE, SSC-3 4.2);
    ``data`` carries the bytes already transferred in when the condition ends a read
    (filemark, ILI). ``deferred`` marks an error about an earlier, already-acknowledged
    command (buffered write that failed on flush).
    """

    def __init__(
        self,
        condition: Condition,
        *,
        information: int | None = None,
        filemark: bool = False,
        eom: bool = False,
        ili: bool = False,
        field: FieldPointer | None = None,
        data: bytes | memoryview = b"",
        deferred: bool = False,
    ) -> None:
        super().__init__(condition.name)
        self.condition = condition
        self.information = information
        self.filemark = filemark
        self.eom = eom
        self.ili = ili
        self.field = field
        self.data = data
        self.deferred = deferred


def invalid_cdb_field(byte: int, bit: int | None = None) -> CheckCondition:
    """ILLEGAL REQUEST 24/00 pointing at the offending CDB byte (and bit)."""
    return CheckCondition(Condition.INVALID_FIELD_IN_CDB, field=FieldPointer(byte, bit))


def invalid_parameter_field(byte: int, bit: int | None = None) -> CheckCondition:
    """ILLEGAL REQUEST 26/00 pointing at the offending parameter-list byte."""
    return CheckCondition(
        Condition.INVALID_FIELD_IN_PARAMETER_LIST, field=FieldPointer(byte, bit, in_cdb=False)
    )
