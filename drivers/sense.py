"""The one sense parser: fixed (SPC-4 4.5.3) and descriptor (SPC-4 4.5.2) sense -> ``Sense``.

``parse_sense(raw)`` never raises: whatever a device (or a broken bridge) returns becomes a
``Sense`` or, when not even a response code is there, ``None``. It tolerates what real
tape drives and changers do:

- 18-byte sense only, or truncated sense (fields beyond the bytes received are absent:
  ``asc``/``ascq`` are then ``None``); fixed-format fields are read from the bytes received,
  since devices often misstate the ADDITIONAL SENSE LENGTH;
- an ADDITIONAL SENSE LENGTH larger than the buffer (descriptors are read as far as they go);
- INFORMATION present with VALID = 0 (kept in ``information``, with ``valid`` False);
- EOM reported with ASC/ASCQ 00/00, BLANK CHECK with the EOM bit (flags are reported as
  given; interpreting them is the SSC driver's job, SSC-4 4.2.5).

INFORMATION is signed (SSC-4 residues are negative after a SPACE or READ overshoot):
4 bytes in fixed format, 8 bytes in the information descriptor.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.asc_table import asc_name
from hwsim.check import SenseKey  # the one definition of the sense keys

RESPONSE_CODE_MASK = 0x7F
FIXED_CURRENT = 0x70
FIXED_DEFERRED = 0x71
DESCRIPTOR_CURRENT = 0x72
DESCRIPTOR_DEFERRED = 0x73

VALID = 0x80
FILEMARK = 0x80
EOM = 0x40
ILI = 0x20
SENSE_KEY_MASK = 0x0F

# SPC-4 4.5.2.4 sense-key specific field (3 bytes)
SKSV = 0x80
SKS_CD = 0x40
SKS_BPV = 0x08
SKS_BIT_POINTER = 0x07
PROGRESS_DENOMINATOR = 0x10000

# Fixed format byte offsets (SPC-4 table 48)
_F_FLAGS = 2
_F_INFORMATION = 3
_F_ADDITIONAL_LENGTH = 7
_F_COMMAND_SPECIFIC = 8
_F_ASC = 12
_F_ASCQ = 13
_F_FRU = 14
_F_SKS = 15

# Descriptor format (SPC-4 table 27) and descriptor types (SPC-4 table 29)
_D_HEADER_LEN = 8
_D_KEY = 1
_D_ASC = 2
_D_ASCQ = 3
_D_ADDITIONAL_LENGTH = 7
DESC_INFORMATION = 0x00
DESC_COMMAND_SPECIFIC = 0x01
DESC_SENSE_KEY_SPECIFIC = 0x02
DESC_FRU = 0x03
DESC_STREAM_COMMANDS = 0x04
DESC_BLOCK_COMMANDS = 0x05


@dataclass(frozen=True, slots=True)
class FieldPointer:
    """SPC-4 4.5.2.4.2: which CDB or parameter-list byte (and bit) ILLEGAL REQUEST blames."""

    byte: int
    bit: int | None = None
    in_cdb: bool = True


@dataclass(frozen=True, slots=True)
class Sense:
    """One decoded sense. Frozen: it is evidence of what the device said.

    ``asc``/``ascq`` are None only when the sense was cut before byte 12 (fixed) or 2/3
    (descriptor). ``information`` is the signed INFORMATION field; ``valid`` is the VALID bit.
    ``progress`` is a fraction in [0, 1) from the progress indication (NOT READY, NO SENSE).
    """

    response_code: int
    key: SenseKey
    asc: int | None = None
    ascq: int | None = None
    descriptor_format: bool = False
    deferred: bool = False
    valid: bool = False
    information: int | None = None
    command_specific: int | None = None
    filemark: bool = False
    eom: bool = False
    ili: bool = False
    fru: int = 0
    field_pointer: FieldPointer | None = None
    progress: float | None = None
    retry_count: int | None = None
    sense_key_specific: bytes | None = None
    raw: bytes = b""

    @property
    def name(self) -> str:
        """The ASC/ASCQ name from SPC-4 annex D, or hex when unassigned."""
        if self.asc is None:
            return "NO ASC/ASCQ (sense truncated)"
        return asc_name(self.asc, 0 if self.ascq is None else self.ascq)

    @property
    def code(self) -> str:
        """ "11/00" style, as drive manuals and sg3_utils print it."""
        if self.asc is None:
            return "--/--"
        return f"{self.asc:02X}/{(self.ascq or 0):02X}"

    def matches(self, key: int, asc: int, ascq: int | None = None) -> bool:
        """True for this key and ASC (and ASCQ when given)."""
        return self.key == key and self.asc == asc and (ascq is None or self.ascq == ascq)

    def describe(self) -> str:
        """One line: "MEDIUM ERROR: UNRECOVERED READ ERROR (11/00), information 42"."""
        parts = [f"{self.key.label}: {self.name} ({self.code})"]
        flags = [
            n for n, on in (("FILEMARK", self.filemark), ("EOM", self.eom), ("ILI", self.ili)) if on
        ]
        if flags:
            parts.append(" ".join(flags))
        if self.information is not None:
            parts.append(f"information {self.information}" + ("" if self.valid else " (not valid)"))
        if self.field_pointer is not None:
            fp = self.field_pointer
            where = "CDB" if fp.in_cdb else "parameter list"
            bit = f" bit {fp.bit}" if fp.bit is not None else ""
            parts.append(f"{where} byte {fp.byte}{bit}")
        if self.progress is not None:
            parts.append(f"progress {self.progress:.0%}")
        text = ", ".join(parts)
        return f"deferred error: {text}" if self.deferred else text

    def __str__(self) -> str:
        return self.describe()


def _signed(chunk: bytes) -> int:
    return int.from_bytes(chunk, "big", signed=True)


def _sense_key_specific(key: SenseKey, sks: bytes) -> dict[str, object]:
    """SPC-4 4.5.2.4: decode the 3 SKS bytes by sense key; empty unless SKSV is set."""
    if len(sks) < 3 or not sks[0] & SKSV:
        return {}
    out: dict[str, object] = {"sense_key_specific": bytes(sks[:3])}
    value = int.from_bytes(sks[1:3], "big")
    if key == SenseKey.ILLEGAL_REQUEST:
        bit = sks[0] & SKS_BIT_POINTER if sks[0] & SKS_BPV else None
        out["field_pointer"] = FieldPointer(value, bit, bool(sks[0] & SKS_CD))
    elif key in (SenseKey.NO_SENSE, SenseKey.NOT_READY):
        out["progress"] = value / PROGRESS_DENOMINATOR
    elif key in (SenseKey.RECOVERED_ERROR, SenseKey.MEDIUM_ERROR, SenseKey.HARDWARE_ERROR):
        out["retry_count"] = value
    return out


def _parse_fixed(raw: bytes, code: int) -> Sense:
    """SPC-4 4.5.3: fields are read from the bytes received, whatever byte 7 claims."""
    n = len(raw)
    fields: dict[str, object] = {}
    key = SenseKey(raw[_F_FLAGS] & SENSE_KEY_MASK) if n > _F_FLAGS else SenseKey.NO_SENSE
    if n > _F_FLAGS:
        flags = raw[_F_FLAGS]
        fields.update(filemark=bool(flags & FILEMARK), eom=bool(flags & EOM), ili=bool(flags & ILI))
    valid = bool(raw[0] & VALID)
    if n >= _F_INFORMATION + 4:
        info = _signed(raw[_F_INFORMATION : _F_INFORMATION + 4])
        # VALID = 0 with a non-zero field: some drives forget the bit; keep the value.
        if valid or info:
            fields["information"] = info
    else:
        valid = False
    if n >= _F_COMMAND_SPECIFIC + 4:
        fields["command_specific"] = int.from_bytes(raw[_F_COMMAND_SPECIFIC:_F_ASC], "big")
    if n > _F_ASC:
        fields["asc"] = raw[_F_ASC]
        fields["ascq"] = raw[_F_ASCQ] if n > _F_ASCQ else 0
    if n > _F_FRU:
        fields["fru"] = raw[_F_FRU]
    fields.update(_sense_key_specific(key, raw[_F_SKS : _F_SKS + 3]))
    return Sense(
        response_code=code,
        key=key,
        deferred=code == FIXED_DEFERRED,
        valid=valid,
        raw=bytes(raw),
        **fields,  # type: ignore[arg-type]
    )


def _descriptors(raw: bytes) -> list[tuple[int, bytes]]:
    """Split the descriptor list, stopping where the buffer or the stated length ends."""
    end = min(len(raw), _D_HEADER_LEN + raw[_D_ADDITIONAL_LENGTH]) if len(raw) > 7 else 0
    out: list[tuple[int, bytes]] = []
    at = _D_HEADER_LEN
    while at + 2 <= end:
        length = raw[at + 1]
        out.append((raw[at], raw[at : min(at + 2 + length, end)]))
        at += 2 + length
    return out


def _parse_descriptor(raw: bytes, code: int) -> Sense:
    """SPC-4 4.5.2: header, then typed descriptors (information, SKS, stream, ...)."""
    n = len(raw)
    key = SenseKey(raw[_D_KEY] & SENSE_KEY_MASK) if n > _D_KEY else SenseKey.NO_SENSE
    fields: dict[str, object] = {}
    if n > _D_ASC:
        fields["asc"] = raw[_D_ASC]
        fields["ascq"] = raw[_D_ASCQ] if n > _D_ASCQ else 0
    valid = False
    for kind, body in _descriptors(raw):
        if kind == DESC_INFORMATION and len(body) >= 12:
            valid = bool(body[2] & VALID)
            info = _signed(body[4:12])
            if valid or info:
                fields["information"] = info
        elif kind == DESC_COMMAND_SPECIFIC and len(body) >= 12:
            fields["command_specific"] = int.from_bytes(body[4:12], "big")
        elif kind == DESC_SENSE_KEY_SPECIFIC and len(body) >= 7:
            fields.update(_sense_key_specific(key, body[4:7]))
        elif kind == DESC_FRU and len(body) >= 4:
            fields["fru"] = body[3]
        elif kind == DESC_STREAM_COMMANDS and len(body) >= 4:
            flags = body[3]
            fields.update(
                filemark=bool(flags & FILEMARK), eom=bool(flags & EOM), ili=bool(flags & ILI)
            )
        elif kind == DESC_BLOCK_COMMANDS and len(body) >= 4:
            fields["ili"] = bool(body[3] & ILI)
    return Sense(
        response_code=code,
        key=key,
        descriptor_format=True,
        deferred=code == DESCRIPTOR_DEFERRED,
        valid=valid,
        raw=bytes(raw),
        **fields,  # type: ignore[arg-type]
    )


def parse_sense(raw: bytes | bytearray | memoryview | None) -> Sense | None:
    """Decode sense bytes; ``None`` when there is no sense (empty, or an unknown format).

    Never raises. Response codes other than 70h-73h (SPC-4 4.5.1: 74h-7Eh reserved,
    7Fh vendor specific, anything else is not sense data) give ``None``.
    """
    if not raw:
        return None
    data = bytes(raw)
    code = data[0] & RESPONSE_CODE_MASK
    if code in (FIXED_CURRENT, FIXED_DEFERRED):
        return _parse_fixed(data, code)
    if code in (DESCRIPTOR_CURRENT, DESCRIPTOR_DEFERRED):
        return _parse_descriptor(data, code)
    return None
