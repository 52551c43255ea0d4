"""Byte layouts of the changer: READ ELEMENT STATUS data and the SMC mode pages.

Pure encoding: ``smc`` decides what each element reports (``ElementStatus``), this module
lays it out as SMC-3 specifies. Nothing here touches drives or state.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from hwsim.elements import ElementMap, ElementType
from hwsim.spc import ModePage

# SMC-3 6.11.2 element status data header and 6.11.3 element status page header
STATUS_HEADER = struct.Struct(">HHB3s")
PAGE_HEADER = struct.Struct(">BBHB3s")
BASE_DESCRIPTOR_LEN = 12
VOLUME_TAG_LEN = 36  # 32 bytes volume identifier + 2 reserved + 2 volume sequence number
VOLUME_IDENTIFIER_LEN = 32
DEVICE_ID_HEADER_LEN = 4
PVOLTAG = 0x80

# byte 2 flags of an element descriptor (SMC-3 6.11.4 .. 6.11.7)
FLAG_FULL = 0x01
FLAG_IMPEXP = 0x02
FLAG_EXCEPT = 0x04
FLAG_ACCESS = 0x08
FLAG_EXENAB = 0x10
FLAG_INENAB = 0x20
# byte 9
FLAG_SVALID = 0x80

# SMC-3 table 20 medium type
MEDIUM_UNSPECIFIED = 0
MEDIUM_DATA = 1
MEDIUM_CLEANING = 2
MEDIUM_WORM = 4

# SPC-4 7.8.6 designator: ASCII code set, T10 vendor ID based designator type
CODE_SET_ASCII = 0x2
DESIGNATOR_T10_VENDOR_ID = 0x1

# mode pages (SMC-3 7.3)
PAGE_ELEMENT_ADDRESS = 0x1D
PAGE_TRANSPORT_GEOMETRY = 0x1E
PAGE_DEVICE_CAPABILITIES = 0x1F
# device capabilities bit per element type (SMC-3 7.3.2: bit 0 MT, 1 ST, 2 I/E, 3 DT)
CAP_BITS = {
    ElementType.TRANSPORT: 0x1,
    ElementType.STORAGE: 0x2,
    ElementType.IMPORT_EXPORT: 0x4,
    ElementType.DATA_TRANSFER: 0x8,
}


@dataclass(frozen=True, slots=True)
class ElementStatus:
    """What one element reports. ``exception``: (ASC, ASCQ) when the EXCEPT bit is set;
    ``identifier``: a drive's device identifier (DVCID), None for other elements."""

    type: ElementType
    address: int
    barcode: str | None
    access: bool
    exception: tuple[int, int] | None = None
    source: int | None = None
    imported: bool = False
    medium_type: int = MEDIUM_UNSPECIFIED
    identifier: bytes | None = None


def volume_tag(barcode: str | None) -> bytes:
    """SMC-3 7.2.1 volume tag: identifier padded with spaces to 32, reserved, sequence 0.
    An empty element reports all zeros."""
    if barcode is None:
        return bytes(VOLUME_TAG_LEN)
    return barcode.encode("ascii").ljust(VOLUME_IDENTIFIER_LEN)[:VOLUME_IDENTIFIER_LEN] + bytes(4)


def _flags(status: ElementStatus) -> int:
    flags = FLAG_FULL if status.barcode is not None else 0
    if status.exception is not None:
        flags |= FLAG_EXCEPT
    if status.type != ElementType.TRANSPORT and status.access:
        flags |= FLAG_ACCESS
    if status.type == ElementType.IMPORT_EXPORT:
        flags |= FLAG_INENAB | FLAG_EXENAB
        if status.imported:
            flags |= FLAG_IMPEXP
    return flags


def _descriptor(status: ElementStatus, voltag: bool, id_len: int | None) -> bytes:
    asc, ascq = status.exception or (0, 0)
    svalid = status.source is not None and status.barcode is not None
    medium = status.medium_type if status.barcode is not None else MEDIUM_UNSPECIFIED
    out = bytearray(BASE_DESCRIPTOR_LEN)
    struct.pack_into(">H", out, 0, status.address)
    out[2] = _flags(status)
    out[4], out[5] = asc, ascq
    out[9] = (FLAG_SVALID if svalid else 0) | (medium & 0x07)
    struct.pack_into(">H", out, 10, status.source if svalid else 0)
    if voltag:
        out += volume_tag(status.barcode)
    if id_len is not None:
        ident = status.identifier or b""
        out += bytes([CODE_SET_ASCII, DESIGNATOR_T10_VENDOR_ID, 0, len(ident)])
        out += ident.ljust(id_len, b"\x00")
    return bytes(out)


def _page(statuses: Sequence[ElementStatus], voltag: bool, dvcid: bool) -> bytes:
    kind = statuses[0].type
    id_len = None
    if dvcid and kind == ElementType.DATA_TRANSFER:
        id_len = max(len(s.identifier or b"") for s in statuses)
    body = b"".join(_descriptor(s, voltag, id_len) for s in statuses)
    desc_len = len(body) // len(statuses)
    header = PAGE_HEADER.pack(
        int(kind), PVOLTAG if voltag else 0, desc_len, 0, len(body).to_bytes(3, "big")
    )
    return header + body


def element_status_data(statuses: Sequence[ElementStatus], *, voltag: bool, dvcid: bool) -> bytes:
    """SMC-3 6.11 READ ELEMENT STATUS data: header, then one status page per run of
    elements of one type (``statuses`` are in ascending address order)."""
    pages = b""
    run: list[ElementStatus] = []
    for status in statuses:
        if run and run[-1].type != status.type:
            pages += _page(run, voltag, dvcid)
            run = []
        run.append(status)
    if run:
        pages += _page(run, voltag, dvcid)
    first = statuses[0].address if statuses else 0
    return STATUS_HEADER.pack(first, len(statuses), 0, len(pages).to_bytes(3, "big")) + pages


# --- mode pages -------------------------------------------------------------------------------


def _fixed_page(code: int, body: bytes) -> ModePage:
    """A page the initiator cannot change (changeable mask all zero)."""
    return ModePage.build(code, body, bytes(len(body)))


def element_address_page(elements: ElementMap) -> ModePage:
    """SMC-3 7.3.3 element address assignment page (0x1D)."""
    fields: list[int] = []
    for kind in (
        ElementType.TRANSPORT,
        ElementType.STORAGE,
        ElementType.IMPORT_EXPORT,
        ElementType.DATA_TRANSFER,
    ):
        count = elements.count(kind)
        fields += [elements.addressing.base(kind) if count else 0, count]
    return _fixed_page(PAGE_ELEMENT_ADDRESS, struct.pack(">8H", *fields) + bytes(2))


def transport_geometry_page() -> ModePage:
    """SMC-3 7.3.4 transport geometry parameters page (0x1E): one robot, no ROTATE."""
    return _fixed_page(PAGE_TRANSPORT_GEOMETRY, bytes([0, 0]))


def device_capabilities_page() -> ModePage:
    """SMC-3 7.3.2 device capabilities page (0x1F).

    Slots, I/E slots and drives store media, the robot does not (StorMT 0); a cartridge
    can be moved and exchanged between any two of those three types.
    """
    stores = (
        CAP_BITS[ElementType.STORAGE]
        | CAP_BITS[ElementType.IMPORT_EXPORT]
        | CAP_BITS[ElementType.DATA_TRANSFER]
    )
    body = bytearray(18)
    body[0] = stores
    # byte 2..5 of the body: MT->, ST->, I/E->, DT-> move capabilities
    body[2:6] = bytes([0, stores, stores, stores])
    # bytes 10..13 of the body: MT<>, ST<>, I/E<>, DT<> exchange capabilities
    body[10:14] = bytes([0, stores, stores, stores])
    return _fixed_page(PAGE_DEVICE_CAPABILITIES, bytes(body))
