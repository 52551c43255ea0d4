"""READ ATTRIBUTE and WRITE ATTRIBUTE: the cartridge memory (MAM), SPC-4 6.16, 6.38, 7.4.

Attributes are (identifier, format, length, read-only) per SPC-4 7.4.2; values come from the
cartridge (``Cartridge.mam``) and the medium. Host-type attributes (0x0800..0x0808) may be
written; device and medium attributes are read-only. ASCII values are left-aligned and
space-padded, TEXT values zero-padded (SPC-4 7.4.1).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hwsim.check import CheckCondition, Condition, invalid_cdb_field, invalid_parameter_field
from hwsim.device import Command

if TYPE_CHECKING:
    from hwsim.cartridge import Cartridge
    from hwsim.ssc import SimTapeDrive

BINARY, ASCII, TEXT = 0x00, 0x01, 0x02
READ_ONLY = 0x80
SA_VALUES, SA_LIST, SA_VOLUMES, SA_PARTITIONS, SA_SUPPORTED = 0x00, 0x01, 0x02, 0x03, 0x05
MIB = 1 << 20
MAM_CAPACITY = 16 * 1024  # LTO-8 cartridge memory
MEDIUM_TYPE_DATA, MEDIUM_TYPE_CLEANING, MEDIUM_TYPE_WORM = 0x00, 0x01, 0x80
ATTR_BARCODE = 0x0806
ATTR_LAST_WRITTEN = 0x0804


@dataclass(frozen=True)
class Attribute:
    ident: int
    fmt: int
    length: int
    read_only: bool
    value: Callable[[SimTapeDrive, Cartridge], int | str | None]


def _capacity(drive: SimTapeDrive, cart: Cartridge, remaining: bool) -> int:
    used = cart.medium.data_end if cart.medium is not None and remaining else 0
    return (cart.capacity - used) // MIB


def _medium_type(cart: Cartridge) -> int:
    if cart.cleaning:
        return MEDIUM_TYPE_CLEANING
    return MEDIUM_TYPE_WORM if cart.worm else MEDIUM_TYPE_DATA


def _host(ident: int, fmt: int, length: int) -> Attribute:
    def value(drive: SimTapeDrive, cart: Cartridge) -> str | None:
        stored = cart.mam.host_attributes.get(ident)
        if stored is None and ident == ATTR_BARCODE:
            return cart.barcode
        if stored is None and ident == ATTR_LAST_WRITTEN:
            return cart.mam.last_written or None
        return stored

    return Attribute(ident, fmt, length, False, value)


ATTRIBUTES: dict[int, Attribute] = {
    a.ident: a
    for a in (
        Attribute(0x0000, BINARY, 8, True, lambda d, c: _capacity(d, c, True)),
        Attribute(0x0001, BINARY, 8, True, lambda d, c: _capacity(d, c, False)),
        Attribute(0x0002, BINARY, 8, True, lambda d, c: d.tapealert.as_u64()),
        Attribute(0x0003, BINARY, 8, True, lambda d, c: c.mam.load_count),
        Attribute(0x0004, BINARY, 8, True, lambda d, c: MAM_CAPACITY // 2),
        Attribute(0x0005, ASCII, 8, True, lambda d, c: "LTO-CVE"),
        Attribute(0x0006, BINARY, 1, True, lambda d, c: c.media_type.density_code),
        Attribute(0x0007, BINARY, 2, True, lambda d, c: c.mam.initialization_count),
        Attribute(0x020A, ASCII, 40, True, lambda d, c: c.mam.last_drive or None),
        Attribute(0x0220, BINARY, 8, True, lambda d, c: c.mam.bytes_written // MIB),
        Attribute(0x0221, BINARY, 8, True, lambda d, c: c.mam.bytes_read // MIB),
        Attribute(0x0222, BINARY, 8, True, lambda d, c: c.mam.bytes_written_last_load // MIB),
        Attribute(0x0223, BINARY, 8, True, lambda d, c: c.mam.bytes_read_last_load // MIB),
        Attribute(0x0400, ASCII, 8, True, lambda d, c: c.mam.manufacturer),
        Attribute(0x0401, ASCII, 32, True, lambda d, c: c.mam.medium_serial),
        Attribute(0x0405, BINARY, 1, True, lambda d, c: c.media_type.density_code),
        Attribute(0x0406, ASCII, 8, True, lambda d, c: c.mam.manufacture_date),
        Attribute(0x0407, BINARY, 8, True, lambda d, c: MAM_CAPACITY),
        Attribute(0x0408, BINARY, 1, True, lambda d, c: _medium_type(c)),
        Attribute(0x0409, BINARY, 2, True, lambda d, c: c.cleaning_uses_left or 0),
        _host(0x0800, ASCII, 8),
        _host(0x0801, ASCII, 32),
        _host(0x0802, ASCII, 8),
        _host(0x0803, TEXT, 160),
        _host(ATTR_LAST_WRITTEN, ASCII, 12),
        _host(0x0805, BINARY, 1),
        _host(ATTR_BARCODE, ASCII, 32),
        _host(0x0807, TEXT, 80),
        _host(0x0808, TEXT, 160),
    )
}


def _encode_value(attr: Attribute, value: int | str) -> bytes:
    if attr.fmt == BINARY:
        return int(value).to_bytes(attr.length, "big")
    raw = str(value).encode("utf-8" if attr.fmt == TEXT else "ascii", "replace")[: attr.length]
    return raw.ljust(attr.length, b" " if attr.fmt == ASCII else b"\x00")


def encode_attribute(attr: Attribute, value: int | str) -> bytes:
    flags = (READ_ONLY if attr.read_only else 0) | attr.fmt
    body = _encode_value(attr, value)
    return struct.pack(">HBH", attr.ident, flags, len(body)) + body


def _cartridge(drive: SimTapeDrive) -> Cartridge:
    from hwsim.ssc import LoadState

    if drive.cartridge is None:
        raise CheckCondition(Condition.MEDIUM_NOT_PRESENT)
    if drive.state is LoadState.LOADING:
        raise CheckCondition(Condition.BECOMING_READY)
    return drive.cartridge


def _check_address(cmd: Command) -> None:
    if cmd.cdb[5]:
        raise invalid_cdb_field(5)
    if cmd.cdb[7]:
        raise invalid_cdb_field(7)


def read_attribute(drive: SimTapeDrive, cmd: Command) -> bytes:
    """SPC-4 6.16 READ ATTRIBUTE: values (00), list (01), volumes, partitions, supported."""
    cmd.need_cdb_len(16)
    action = cmd.cdb[1] & 0x1F
    alloc = cmd.u32(10)
    first = cmd.u16(8)
    cart = _cartridge(drive)
    if action in (SA_VOLUMES, SA_PARTITIONS):
        return Command.fit(struct.pack(">HBB", 2, 0, 1), alloc)
    _check_address(cmd)
    present = {
        ident: value
        for ident, attr in ATTRIBUTES.items()
        if ident >= first and (value := attr.value(drive, cart)) is not None
    }
    if action == SA_VALUES:
        body = b"".join(encode_attribute(ATTRIBUTES[i], v) for i, v in present.items())
    elif action == SA_LIST:
        body = b"".join(struct.pack(">H", i) for i in present)
    elif action == SA_SUPPORTED:
        body = b"".join(struct.pack(">H", i) for i in ATTRIBUTES if i >= first)
    else:
        raise invalid_cdb_field(1, 4)
    return Command.fit(struct.pack(">I", len(body)) + body, alloc)


def write_attribute(drive: SimTapeDrive, cmd: Command) -> None:
    """SPC-4 6.38 WRITE ATTRIBUTE: host-type attributes only; length 0 deletes one."""
    cmd.need_cdb_len(16)
    cart = _cartridge(drive)
    _check_address(cmd)
    length = cmd.u32(10)
    params = bytes(cmd.data_out[:length])
    if len(params) < length or (length and length < 4):
        raise CheckCondition(Condition.PARAMETER_LIST_LENGTH_ERROR)
    if cart.write_protected:
        raise CheckCondition(Condition.WRITE_PROTECTED)
    updates: dict[int, str | None] = {}
    offset = 4
    end = min(length, 4 + int.from_bytes(params[0:4], "big")) if length else 0
    while offset < end:
        if offset + 5 > end:
            raise CheckCondition(Condition.PARAMETER_LIST_LENGTH_ERROR)
        ident, flags, size = struct.unpack_from(">HBH", params, offset)
        attr = ATTRIBUTES.get(ident)
        if attr is None or attr.read_only:
            raise invalid_parameter_field(offset)
        if (flags & 0x03) != attr.fmt:
            raise invalid_parameter_field(offset + 2)
        if size > attr.length or offset + 5 + size > end:
            raise invalid_parameter_field(offset + 3)
        raw = params[offset + 5 : offset + 5 + size]
        if size == 0:
            updates[ident] = None
        elif attr.fmt == BINARY:
            updates[ident] = str(int.from_bytes(raw, "big"))
        else:
            updates[ident] = raw.rstrip(b"\x00 ").decode("utf-8", "replace")
        offset += 5 + size
    for ident, value in updates.items():
        if value is None:
            cart.mam.host_attributes.pop(ident, None)
        else:
            cart.mam.host_attributes[ident] = value
    cart.save_mam()
