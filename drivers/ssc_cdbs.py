"""CDB layouts of the SSC-4 tape commands (PYSCSI 2.1.0 has none), in drivers.cdb's style.

Each layout names its section of SSC-4; tests/drivers/test_driver_cdbs.py round-trips all.
"""

from __future__ import annotations

from drivers.cdb import CdbLayout, bits, flag, sint, uint
from hwsim.opcodes import SscOpcode

# SSC-4 7.5 REWIND
REWIND = CdbLayout("REWIND", SscOpcode.REWIND, 6, [flag("immed", 1, 0), uint("control", 5, 1)])

# SSC-4 7.6 READ BLOCK LIMITS (MLOI: report the maximum logical object identifier instead)
READ_BLOCK_LIMITS = CdbLayout(
    "READ BLOCK LIMITS",
    SscOpcode.READ_BLOCK_LIMITS,
    6,
    [flag("mloi", 1, 0), uint("control", 5, 1)],
)

# SSC-4 6.4 READ(6): transfer length counts bytes (variable) or blocks (FIXED=1)
READ_6 = CdbLayout(
    "READ(6)",
    SscOpcode.READ_6,
    6,
    [
        flag("sili", 1, 1),
        flag("fixed", 1, 0),
        uint("transfer_length", 2, 3),
        uint("control", 5, 1),
    ],
)

# SSC-4 6.9 WRITE(6)
WRITE_6 = CdbLayout(
    "WRITE(6)",
    SscOpcode.WRITE_6,
    6,
    [flag("fixed", 1, 0), uint("transfer_length", 2, 3), uint("control", 5, 1)],
)

# SSC-4 6.8 WRITE FILEMARKS(6): a count of 0 flushes the buffer (with IMMED=0)
WRITE_FILEMARKS_6 = CdbLayout(
    "WRITE FILEMARKS(6)",
    SscOpcode.WRITE_FILEMARKS_6,
    6,
    [
        flag("wsmk", 1, 1),
        flag("immed", 1, 0),
        uint("count", 2, 3),
        uint("control", 5, 1),
    ],
)

# SSC-4 6.6 SPACE(6): CODE 0 blocks, 1 filemarks, 3 end of data; signed 24-bit count
SPACE_6 = CdbLayout(
    "SPACE(6)",
    SscOpcode.SPACE_6,
    6,
    [bits("code", 1, 0, 4), sint("count", 2, 3), uint("control", 5, 1)],
)

# SSC-4 7.9 SPACE(16): signed 64-bit count, parameter length 0
SPACE_16 = CdbLayout(
    "SPACE(16)",
    SscOpcode.SPACE_16,
    16,
    [
        bits("code", 1, 0, 4),
        sint("count", 4, 8),
        uint("parameter_length", 12, 2),
        uint("control", 15, 1),
    ],
)

# SSC-4 6.2 ERASE(6)
ERASE_6 = CdbLayout(
    "ERASE(6)",
    SscOpcode.ERASE_6,
    6,
    [flag("immed", 1, 1), flag("long", 1, 0), uint("control", 5, 1)],
)

# SSC-4 7.2 LOAD UNLOAD
LOAD_UNLOAD = CdbLayout(
    "LOAD UNLOAD",
    SscOpcode.LOAD_UNLOAD,
    6,
    [
        flag("immed", 1, 0),
        flag("hold", 4, 3),
        flag("eot", 4, 2),
        flag("reten", 4, 1),
        flag("load", 4, 0),
        uint("control", 5, 1),
    ],
)

# SSC-4 6.3 LOCATE(10)
LOCATE_10 = CdbLayout(
    "LOCATE(10)",
    SscOpcode.LOCATE_10,
    10,
    [
        flag("bt", 1, 2),
        flag("cp", 1, 1),
        flag("immed", 1, 0),
        uint("block_address", 3, 4),
        uint("partition", 8, 1),
        uint("control", 9, 1),
    ],
)

# SSC-4 7.4 LOCATE(16): DEST_TYPE 0 logical object, 1 logical file, 3 end of data
LOCATE_16 = CdbLayout(
    "LOCATE(16)",
    SscOpcode.LOCATE_16,
    16,
    [
        bits("dest_type", 1, 3, 3),
        flag("cp", 1, 1),
        flag("immed", 1, 0),
        bits("bam", 2, 0, 1),
        uint("partition", 3, 1),
        uint("logical_identifier", 4, 8),
        uint("control", 15, 1),
    ],
)

# SSC-4 7.3 READ POSITION: SERVICE ACTION 00 short, 06 long, 08 extended
READ_POSITION = CdbLayout(
    "READ POSITION",
    SscOpcode.READ_POSITION,
    10,
    [bits("service_action", 1, 0, 5), uint("allocation_length", 7, 2), uint("control", 9, 1)],
)

# SSC-4 7.7 REPORT DENSITY SUPPORT: MEDIA=1 reports the mounted medium's densities
REPORT_DENSITY_SUPPORT = CdbLayout(
    "REPORT DENSITY SUPPORT",
    SscOpcode.REPORT_DENSITY_SUPPORT,
    10,
    [
        flag("medium_type", 1, 1),
        flag("media", 1, 0),
        uint("allocation_length", 7, 2),
        uint("control", 9, 1),
    ],
)

LAYOUTS: tuple[CdbLayout, ...] = (
    REWIND,
    READ_BLOCK_LIMITS,
    READ_6,
    WRITE_6,
    WRITE_FILEMARKS_6,
    SPACE_6,
    SPACE_16,
    ERASE_6,
    LOAD_UNLOAD,
    LOCATE_10,
    LOCATE_16,
    READ_POSITION,
    REPORT_DENSITY_SUPPORT,
)
