"""CDB layouts of the SPC-4 commands PYSCSI 2.1.0 lacks (see drivers/pyscsi_cdb.py for the
ones it has): REQUEST SENSE, LOG SENSE, READ ATTRIBUTE."""

from __future__ import annotations

from drivers.cdb import CdbLayout, bits, flag, uint
from hwsim.opcodes import SpcOpcode

# SPC-4 6.39 REQUEST SENSE: DESC selects descriptor-format sense
REQUEST_SENSE = CdbLayout(
    "REQUEST SENSE",
    SpcOpcode.REQUEST_SENSE,
    6,
    [flag("desc", 1, 0), uint("allocation_length", 4, 1), uint("control", 5, 1)],
)

# SPC-4 6.8 LOG SENSE: PC bits 7-6 and PAGE CODE bits 5-0 of byte 2
LOG_SENSE = CdbLayout(
    "LOG SENSE",
    SpcOpcode.LOG_SENSE,
    10,
    [
        flag("ppc", 1, 1),
        flag("sp", 1, 0),
        bits("pc", 2, 6, 2),
        bits("page_code", 2, 0, 6),
        uint("subpage_code", 3, 1),
        uint("parameter_pointer", 5, 2),
        uint("allocation_length", 7, 2),
        uint("control", 9, 1),
    ],
)

# SPC-4 6.16 READ ATTRIBUTE (16 bytes, SERVICE ACTION in byte 1 bits 4-0)
READ_ATTRIBUTE = CdbLayout(
    "READ ATTRIBUTE",
    SpcOpcode.READ_ATTRIBUTE,
    16,
    [
        bits("service_action", 1, 0, 5),
        uint("logical_volume_number", 5, 1),
        uint("partition_number", 7, 1),
        uint("first_attribute", 8, 2),
        uint("allocation_length", 10, 4),
        flag("cache", 14, 0),
        uint("control", 15, 1),
    ],
)

LAYOUTS: tuple[CdbLayout, ...] = (REQUEST_SENSE, LOG_SENSE, READ_ATTRIBUTE)
