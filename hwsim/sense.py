"""The one sense builder: fixed (SPC-4 4.5.3) or descriptor (SPC-4 4.5.2) format.

Fixed format is what most tape drives return by default; descriptor format is selected per
device (D_SENSE in the control mode page). The INFORMATION field is signed (SSC-3 residues can
be negative) and written two's-complement in 4 bytes (fixed) or 8 bytes (descriptor).
"""

from __future__ import annotations

import struct

from hwsim.check import CheckCondition

FIXED_CURRENT = 0x70
FIXED_DEFERRED = 0x71
DESCRIPTOR_CURRENT = 0x72
DESCRIPTOR_DEFERRED = 0x73

_VALID = 0x80
_FILEMARK = 0x80
_EOM = 0x40
_ILI = 0x20
_SKSV = 0x80
_CD = 0x40
_BPV = 0x08

_DESC_INFORMATION = 0x00
_DESC_SENSE_KEY_SPECIFIC = 0x02
_DESC_STREAM_COMMANDS = 0x04

FIXED_SENSE_LEN = 18


def _sense_key_specific(cc: CheckCondition) -> bytes:
    if cc.field is None:
        return b"\x00\x00\x00"
    flags = _SKSV | (_CD if cc.field.in_cdb else 0)
    if cc.field.bit is not None:
        flags |= _BPV | (cc.field.bit & 0x07)
    return bytes([flags]) + struct.pack(">H", cc.field.byte)


def build_sense(cc: CheckCondition, *, descriptor: bool = False) -> bytes:
    """Encode ``cc`` as sense bytes in the requested format."""
    cond = cc.condition
    if not descriptor:
        info = cc.information
        if info is not None and not -(1 << 31) <= info < 1 << 31:
            # SPC-4 4.5.3: a value the 4-byte field cannot hold is reported with VALID = 0
            # (a SPACE(16) residue can need 8 bytes; descriptor sense carries it whole).
            info = None
        head = (FIXED_DEFERRED if cc.deferred else FIXED_CURRENT) | (
            _VALID if info is not None else 0
        )
        flags = (
            (_FILEMARK if cc.filemark else 0)
            | (_EOM if cc.eom else 0)
            | (_ILI if cc.ili else 0)
            | int(cond.key)
        )
        info_bytes = struct.pack(">i", info) if info is not None else b"\x00" * 4
        return (
            bytes([head, 0, flags])
            + info_bytes
            + bytes([FIXED_SENSE_LEN - 8])
            + b"\x00" * 4
            + bytes([cond.asc, cond.ascq, 0])
            + _sense_key_specific(cc)
        )
    descriptors = b""
    if cc.information is not None:
        descriptors += bytes([_DESC_INFORMATION, 0x0A, _VALID, 0]) + struct.pack(
            ">q", cc.information
        )
    if cc.filemark or cc.eom or cc.ili:
        stream = (
            (_FILEMARK if cc.filemark else 0) | (_EOM if cc.eom else 0) | (_ILI if cc.ili else 0)
        )
        descriptors += bytes([_DESC_STREAM_COMMANDS, 0x02, 0, stream])
    if cc.field is not None:
        descriptors += (
            bytes([_DESC_SENSE_KEY_SPECIFIC, 0x06, 0, 0]) + _sense_key_specific(cc) + b"\x00"
        )
    head = DESCRIPTOR_DEFERRED if cc.deferred else DESCRIPTOR_CURRENT
    return (
        bytes([head, int(cond.key), cond.asc, cond.ascq, 0, 0, 0, len(descriptors)]) + descriptors
    )
