"""Declarative CDB layouts: a command is a list of named fields, encoded and decoded by one
piece of code (in the manner of python-scsi's scsi_cdb_*.py modules).

A ``Field`` names a big-endian bit range: it starts in byte ``byte``, is ``width`` bits wide,
and its least significant bit sits ``shift`` bits above bit 0 of the last byte it touches.
So READ(6)'s 21-bit LBA is ``Field("lba", byte=1, width=21)`` (byte 1 bits 4-0, bytes 2-3),
and SPACE(6)'s CODE is ``Field("code", byte=1, width=4)``. ``signed`` fields are two's
complement (SPACE counts, SSC-4 7.9). Byte 0 is always the operation code; reserved bits
are whatever no field covers and encode as zero.

``CdbLayout.encode(**fields)`` and ``decode(cdb)`` are inverse; an unknown field name, a value
that does not fit its field, or a CDB of another opcode or length raise ``CdbError``.

``command_name(cdb)`` names a CDB for messages, from the opcode sets hwsim also speaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from hwsim.opcodes import SmcOpcode, SpcOpcode, SscOpcode

BITS_PER_BYTE = 8
OPCODE_BYTE = 0


class CdbError(ValueError):
    """A CDB layout was misused: unknown field, value out of range, wrong opcode or length."""


@dataclass(frozen=True, slots=True)
class Field:
    """One named field of a CDB (see the module docstring for the bit convention)."""

    name: str
    byte: int
    width: int = BITS_PER_BYTE
    shift: int = 0
    signed: bool = False

    @property
    def span(self) -> int:
        """How many bytes the field touches."""
        return (self.shift + self.width + BITS_PER_BYTE - 1) // BITS_PER_BYTE

    @property
    def is_flag(self) -> bool:
        return self.width == 1 and not self.signed

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.shift

    def bit_positions(self) -> set[int]:
        """Absolute bit numbers (0 = MSB of byte 0) this field occupies."""
        last_bit = (self.byte + self.span) * BITS_PER_BYTE - 1 - self.shift
        return set(range(last_bit - self.width + 1, last_bit + 1))

    def limits(self) -> tuple[int, int]:
        if self.signed:
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        return 0, (1 << self.width) - 1


def flag(name: str, byte: int, bit: int) -> Field:
    """A one-bit field: ``bit`` 7 is the most significant bit of ``byte``."""
    return Field(name, byte, 1, bit)


def bits(name: str, byte: int, bit: int, width: int) -> Field:
    """``width`` bits of one byte whose lowest bit is ``bit``."""
    return Field(name, byte, width, bit)


def uint(name: str, byte: int, length: int) -> Field:
    """An unsigned big-endian integer of ``length`` whole bytes."""
    return Field(name, byte, length * BITS_PER_BYTE)


def sint(name: str, byte: int, length: int) -> Field:
    """A signed (two's complement) big-endian integer of ``length`` whole bytes."""
    return Field(name, byte, length * BITS_PER_BYTE, signed=True)


class CdbLayout:
    """The layout of one command's CDB: ``name``, ``opcode``, ``length`` and its fields."""

    def __init__(self, name: str, opcode: int, length: int, fields: Iterable[Field]) -> None:
        self.name = name
        self.opcode = int(opcode)
        self.length = length
        self.fields: dict[str, Field] = {}
        taken = set(range(BITS_PER_BYTE))  # the opcode byte
        for f in fields:
            if f.name in self.fields or f.name == "opcode":
                raise CdbError(f"{name}: field {f.name!r} defined twice")
            if f.width < 1 or f.byte < 1 or f.byte + f.span > length:
                raise CdbError(f"{name}: field {f.name!r} does not fit a {length}-byte CDB")
            occupied = f.bit_positions()
            if occupied & taken:
                raise CdbError(f"{name}: field {f.name!r} overlaps another field")
            taken |= occupied
            self.fields[f.name] = f

    def __repr__(self) -> str:
        return f"CdbLayout({self.name!r}, 0x{self.opcode:02X}, {self.length})"

    def encode(self, **values: int | bool) -> bytes:
        """Build the CDB; fields not given are zero."""
        unknown = sorted(set(values) - set(self.fields))
        if unknown:
            raise CdbError(
                f"{self.name}: unknown field(s) {', '.join(unknown)}; "
                f"fields are {', '.join(self.fields)}"
            )
        cdb = bytearray(self.length)
        cdb[OPCODE_BYTE] = self.opcode
        for name, raw in values.items():
            f = self.fields[name]
            value = int(raw)
            low, high = f.limits()
            if not low <= value <= high:
                raise CdbError(f"{self.name}: {name}={raw!r} does not fit in {low}..{high}")
            value &= (1 << f.width) - 1
            end = f.byte + f.span
            current = int.from_bytes(cdb[f.byte : end], "big")
            current = (current & ~f.mask) | (value << f.shift)
            cdb[f.byte : end] = current.to_bytes(f.span, "big")
        return bytes(cdb)

    def decode(self, cdb: bytes | bytearray | memoryview) -> dict[str, int | bool]:
        """Every field of ``cdb`` by name (flags as bool); reserved bits are ignored."""
        cdb = bytes(cdb)
        if len(cdb) != self.length:
            raise CdbError(f"{self.name}: CDB is {len(cdb)} bytes, expected {self.length}")
        if cdb[OPCODE_BYTE] != self.opcode:
            raise CdbError(
                f"{self.name}: operation code 0x{cdb[0]:02X}, expected 0x{self.opcode:02X}"
            )
        out: dict[str, int | bool] = {}
        for name, f in self.fields.items():
            word = int.from_bytes(cdb[f.byte : f.byte + f.span], "big")
            value = (word & f.mask) >> f.shift
            if f.signed and value >= 1 << (f.width - 1):
                value -= 1 << f.width
            out[name] = bool(value) if f.is_flag else value
        return out


def _pretty(enum_name: str) -> str:
    """READ_6 -> READ(6), WRITE_FILEMARKS_6 -> WRITE FILEMARKS(6)."""
    return re.sub(r"_(\d+)$", r"(\1)", enum_name).replace("_", " ")


def command_name(cdb: bytes | bytearray | memoryview) -> str:
    """A readable name for the command in ``cdb`` ("READ(6)"); hex for unknown opcodes.

    Where command sets reuse an opcode (2Bh: LOCATE(10) for tapes, POSITION TO ELEMENT for
    changers) both names are given; drivers that know the device type pass their own name.
    """
    if not cdb:
        return "empty CDB"
    opcode = cdb[0]
    names = [
        _pretty(e(opcode).name)
        for e in (SpcOpcode, SscOpcode, SmcOpcode)
        if opcode in e._value2member_map_
    ]
    return " / ".join(names) if names else f"opcode 0x{opcode:02X}"
