"""PYSCSI's CDB field tables behind the ``CdbLayout`` interface (encode/decode by name).

PYSCSI 2.1.0 (``pyscsi.pyscsi.scsi_cdb_*``) describes each command as a ``_cdb_bits`` table
(field -> [mask, byte]) and encodes it with ``utils.converter.encode_dict``. We use those
tables, but not PYSCSI's command objects or its device path, because:

- ``SCSICommand.__init__`` stores the CDB buffer on the *class* (``SCSICommand._cdb``), so
  building two commands of different lengths from two threads races;
- ``encode_dict`` silently skips unknown field names and XORs values wider than their mask
  into neighbouring fields; ``PyscsiLayout.encode`` rejects both (``CdbError``);
- its SG_IO path drops CHECK CONDITION (shared/STYLE.md), so commands go through our
  transports and ``drivers.errors.raise_for_result``.

Each layout here is checked by an encode -> decode -> same bytes round trip
(tests/drivers/test_driver_cdbs.py).
"""

from __future__ import annotations

from typing import Any

from pyscsi.pyscsi.scsi_cdb_exchangemedium import ExchangeMedium
from pyscsi.pyscsi.scsi_cdb_initelementstatus import InitializeElementStatus
from pyscsi.pyscsi.scsi_cdb_initelementstatuswithrange import InitializeElementStatusWithRange
from pyscsi.pyscsi.scsi_cdb_inquiry import Inquiry
from pyscsi.pyscsi.scsi_cdb_modesense6 import ModeSelect6, ModeSense6
from pyscsi.pyscsi.scsi_cdb_modesense10 import ModeSelect10, ModeSense10
from pyscsi.pyscsi.scsi_cdb_movemedium import MoveMedium
from pyscsi.pyscsi.scsi_cdb_positiontoelement import PositionToElement
from pyscsi.pyscsi.scsi_cdb_preventallow_mediumremoval import PreventAllowMediumRemoval
from pyscsi.pyscsi.scsi_cdb_readelementstatus import ReadElementStatus
from pyscsi.pyscsi.scsi_cdb_report_luns import ReportLuns
from pyscsi.pyscsi.scsi_cdb_testunitready import TestUnitReady
from pyscsi.utils.converter import decode_bits, encode_dict

from drivers.cdb import CdbError
from hwsim.opcodes import SmcOpcode, SpcOpcode

OPCODE_FIELD = "opcode"


def _width(mask: int) -> tuple[int, int]:
    """(shift, width) of a contiguous bit mask."""
    shift = (mask & -mask).bit_length() - 1
    return shift, (mask >> shift).bit_length()


class PyscsiLayout:
    """A CDB layout read from a PYSCSI command class's ``_cdb_bits`` table."""

    def __init__(self, name: str, command: type, opcode: int, length: int) -> None:
        self.name = name
        self.command = command
        self.opcode = int(opcode)
        self.length = length
        table: dict[str, Any] = dict(command._cdb_bits)  # type: ignore[attr-defined]
        table.pop(OPCODE_FIELD, None)
        self.table = table
        self.fields = tuple(table)

    def __repr__(self) -> str:
        return f"PyscsiLayout({self.name!r}, {self.command.__name__}, 0x{self.opcode:02X})"

    def encode(self, **values: int | bool) -> bytes:
        """Build the CDB; fields not given are zero. Unknown names and overflows raise."""
        unknown = sorted(set(values) - set(self.table))
        if unknown:
            raise CdbError(
                f"{self.name}: unknown field(s) {', '.join(unknown)}; "
                f"fields are {', '.join(self.fields)}"
            )
        checked: dict[str, int] = {}
        for name, raw in values.items():
            _, width = _width(self.table[name][0])
            value = int(raw)
            if not 0 <= value < 1 << width:
                raise CdbError(f"{self.name}: {name}={raw!r} does not fit in 0..{(1 << width) - 1}")
            checked[name] = value
        cdb = bytearray(self.length)
        cdb[0] = self.opcode
        encode_dict(checked, self.table, cdb)
        return bytes(cdb)

    def decode(self, cdb: bytes | bytearray | memoryview) -> dict[str, int]:
        """Every field of ``cdb`` by name."""
        cdb = bytes(cdb)
        if len(cdb) != self.length:
            raise CdbError(f"{self.name}: CDB is {len(cdb)} bytes, expected {self.length}")
        if cdb[0] != self.opcode:
            raise CdbError(
                f"{self.name}: operation code 0x{cdb[0]:02X}, expected 0x{self.opcode:02X}"
            )
        out: dict[str, Any] = {}
        decode_bits(cdb, self.table, out)
        return {k: int(v) for k, v in out.items()}


# --- SPC-4 ---------------------------------------------------------------------------------
TEST_UNIT_READY = PyscsiLayout("TEST UNIT READY", TestUnitReady, SpcOpcode.TEST_UNIT_READY, 6)
INQUIRY = PyscsiLayout("INQUIRY", Inquiry, SpcOpcode.INQUIRY, 6)
MODE_SENSE_6 = PyscsiLayout("MODE SENSE(6)", ModeSense6, SpcOpcode.MODE_SENSE_6, 6)
MODE_SENSE_10 = PyscsiLayout("MODE SENSE(10)", ModeSense10, SpcOpcode.MODE_SENSE_10, 10)
MODE_SELECT_6 = PyscsiLayout("MODE SELECT(6)", ModeSelect6, SpcOpcode.MODE_SELECT_6, 6)
MODE_SELECT_10 = PyscsiLayout("MODE SELECT(10)", ModeSelect10, SpcOpcode.MODE_SELECT_10, 10)
REPORT_LUNS = PyscsiLayout("REPORT LUNS", ReportLuns, SpcOpcode.REPORT_LUNS, 12)
PREVENT_ALLOW = PyscsiLayout(
    "PREVENT ALLOW MEDIUM REMOVAL",
    PreventAllowMediumRemoval,
    SpcOpcode.PREVENT_ALLOW_MEDIUM_REMOVAL,
    6,
)

# --- SMC-3 ---------------------------------------------------------------------------------
# PYSCSI masks ELEMENT TYPE CODE with 0x07 where SMC-3 6.11 gives it bits 3..0; every type
# code (0..4) fits in three bits, so the narrower field loses nothing.
READ_ELEMENT_STATUS = PyscsiLayout(
    "READ ELEMENT STATUS", ReadElementStatus, SmcOpcode.READ_ELEMENT_STATUS, 12
)
MOVE_MEDIUM = PyscsiLayout("MOVE MEDIUM", MoveMedium, SmcOpcode.MOVE_MEDIUM, 12)
EXCHANGE_MEDIUM = PyscsiLayout("EXCHANGE MEDIUM", ExchangeMedium, SmcOpcode.EXCHANGE_MEDIUM, 12)
INITIALIZE_ELEMENT_STATUS = PyscsiLayout(
    "INITIALIZE ELEMENT STATUS", InitializeElementStatus, SmcOpcode.INITIALIZE_ELEMENT_STATUS, 6
)
INITIALIZE_ELEMENT_STATUS_WITH_RANGE = PyscsiLayout(
    "INITIALIZE ELEMENT STATUS WITH RANGE",
    InitializeElementStatusWithRange,
    SmcOpcode.INITIALIZE_ELEMENT_STATUS_WITH_RANGE,
    10,
)
POSITION_TO_ELEMENT = PyscsiLayout(
    "POSITION TO ELEMENT", PositionToElement, SmcOpcode.POSITION_TO_ELEMENT, 10
)

ALL_LAYOUTS: tuple[PyscsiLayout, ...] = (
    TEST_UNIT_READY,
    INQUIRY,
    MODE_SENSE_6,
    MODE_SENSE_10,
    MODE_SELECT_6,
    MODE_SELECT_10,
    REPORT_LUNS,
    PREVENT_ALLOW,
    READ_ELEMENT_STATUS,
    MOVE_MEDIUM,
    EXCHANGE_MEDIUM,
    INITIALIZE_ELEMENT_STATUS,
    INITIALIZE_ELEMENT_STATUS_WITH_RANGE,
    POSITION_TO_ELEMENT,
)
