"""Decoders for SMC-3 data: READ ELEMENT STATUS reports and the element address page.

Descriptor fields are unmarshalled with PYSCSI's tables (``ReadElementStatus``'s
``_element_status_descriptor_bits`` and the per-type access/import-export bits, and
``element_address_bits`` for page 0x1D). The walk over pages and descriptors is ours:
PYSCSI's ``unmarshall_datain`` skips the device identifier (DVCID) that maps a drive
element to its drive, which is what a library host needs most.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from pyscsi.pyscsi.scsi_cdb_readelementstatus import ReadElementStatus
from pyscsi.pyscsi.scsi_enum_modesense import element_address_bits
from pyscsi.utils.converter import decode_bits

from drivers.asc_table import asc_name

STATUS_HEADER_LEN = 8
PAGE_HEADER_LEN = 8
BASE_DESCRIPTOR_LEN = 12
VOLUME_TAG_LEN = 36
VOLUME_IDENTIFIER_LEN = 32
IDENTIFIER_HEADER_LEN = 4
PVOLTAG, AVOLTAG = 0x80, 0x40
ELEMENT_ADDRESS_PAGE = 0x1D


class ElementType(enum.IntEnum):
    """SMC-3 table 7 element type codes."""

    ALL = 0
    TRANSPORT = 1
    STORAGE = 2
    IMPORT_EXPORT = 3
    DATA_TRANSFER = 4


class MediumType(enum.IntEnum):
    """SMC-3 element descriptor MEDIUM TYPE."""

    UNSPECIFIED = 0
    DATA = 1
    CLEANING = 2
    DIAGNOSTIC = 3
    WORM = 4
    MICROCODE = 5


@dataclass(frozen=True, slots=True)
class Element:
    """One element as READ ELEMENT STATUS reported it (SMC-3 6.11.4 .. 6.11.7).

    ``barcode``: primary volume tag, None when empty or not read; ``source``: where the
    cartridge came from (SVALID); ``exception``: (ASC, ASCQ) when EXCEPT is set;
    ``identifier``: a drive's device identifier (DVCID), e.g. T10 vendor + product + serial.
    """

    type: ElementType
    address: int
    full: bool
    barcode: str | None = None
    source: int | None = None
    exception: tuple[int, int] | None = None
    access: bool = True
    medium_type: int = MediumType.UNSPECIFIED
    imported: bool = False
    inenab: bool = False
    exenab: bool = False
    identifier: bytes | None = None
    identifier_code_set: int | None = None
    identifier_type: int | None = None

    @property
    def exception_name(self) -> str | None:
        return asc_name(*self.exception) if self.exception is not None else None

    @property
    def identifier_text(self) -> str | None:
        """The device identifier as text (ASCII designators), else hex."""
        if not self.identifier:
            return None
        if self.identifier_code_set in (2, 3):
            return self.identifier.rstrip(b" \x00").decode("utf-8", "replace")
        return self.identifier.hex()


@dataclass(frozen=True, slots=True)
class ElementStatusReport:
    """Header fields and the elements of one READ ELEMENT STATUS answer."""

    first: int
    count: int
    byte_count: int
    elements: tuple[Element, ...]


def _volume_tag(raw: bytes) -> str | None:
    text = raw[:VOLUME_IDENTIFIER_LEN].rstrip(b" \x00").decode("ascii", "replace")
    return text or None


def _descriptor(kind: int, flags: int, raw: bytes) -> Element:
    fields: dict[str, int] = {}
    decode_bits(raw, ReadElementStatus._element_status_descriptor_bits, fields)
    if kind == ElementType.IMPORT_EXPORT:
        decode_bits(raw, ReadElementStatus._import_export_descriptor_bits, fields)
    elif kind in (ElementType.STORAGE, ElementType.DATA_TRANSFER):
        decode_bits(raw, ReadElementStatus._storage_descriptor_bits, fields)
    at = BASE_DESCRIPTOR_LEN
    barcode = None
    if flags & PVOLTAG:
        barcode = _volume_tag(raw[at : at + VOLUME_TAG_LEN])
        at += VOLUME_TAG_LEN
    if flags & AVOLTAG:
        at += VOLUME_TAG_LEN
    identifier = code_set = id_type = None
    if kind == ElementType.DATA_TRANSFER and len(raw) >= at + IDENTIFIER_HEADER_LEN:
        code_set, id_type, length = raw[at] & 0x0F, raw[at + 1] & 0x0F, raw[at + 3]
        start = at + IDENTIFIER_HEADER_LEN
        identifier = bytes(raw[start : start + length]) or None
    full = bool(fields["full"])
    excepted = bool(fields["except"])
    asc, ascq = fields["additional_sense_code"], fields["additional_sense_code_qualifier"]
    return Element(
        type=ElementType(kind),
        address=fields["element_address"],
        full=full,
        barcode=barcode if full else None,
        source=fields["source_storage_element_address"] if fields["svalid"] else None,
        exception=(asc, ascq) if excepted else None,
        access=bool(fields.get("access", 1)),
        medium_type=fields["medium_type"],
        imported=bool(fields.get("impexp", 0)),
        inenab=bool(fields.get("inenab", 0)),
        exenab=bool(fields.get("exenab", 0)),
        identifier=identifier,
        identifier_code_set=code_set,
        identifier_type=id_type,
    )


def _pages(data: bytes, end: int) -> Iterator[tuple[int, int, int, bytes]]:
    """(type, flags, descriptor length, descriptor bytes) per element status page."""
    at = STATUS_HEADER_LEN
    while at + PAGE_HEADER_LEN <= end:
        kind, flags = data[at] & 0x0F, data[at + 1]
        desc_len = struct.unpack_from(">H", data, at + 2)[0]
        size = int.from_bytes(data[at + 5 : at + 8], "big")
        body = data[at + PAGE_HEADER_LEN : min(at + PAGE_HEADER_LEN + size, end)]
        yield kind, flags, desc_len, body
        at += PAGE_HEADER_LEN + size


def parse_element_status(data: bytes) -> ElementStatusReport:
    """SMC-3 6.11.2: header, then element status pages of fixed-length descriptors.

    Stops where the data or BYTE COUNT OF REPORT AVAILABLE ends; a descriptor cut short by
    the allocation length is dropped, never half-decoded.
    """
    data = bytes(data)
    if len(data) < STATUS_HEADER_LEN:
        return ElementStatusReport(0, 0, 0, ())
    first, count = struct.unpack_from(">HH", data, 0)
    byte_count = int.from_bytes(data[5:8], "big")
    end = min(len(data), STATUS_HEADER_LEN + byte_count)
    elements: list[Element] = []
    for kind, flags, desc_len, body in _pages(data, end):
        if desc_len < BASE_DESCRIPTOR_LEN or kind not in ElementType._value2member_map_:
            continue
        for at in range(0, len(body) - desc_len + 1, desc_len):
            elements.append(_descriptor(kind, flags, body[at : at + desc_len]))
    return ElementStatusReport(first, count, byte_count, tuple(elements))


@dataclass(frozen=True, slots=True)
class ElementAddresses:
    """SMC-3 7.3.3 element address assignment (page 0x1D): (first address, count) per type."""

    transport: tuple[int, int]
    storage: tuple[int, int]
    import_export: tuple[int, int]
    data_transfer: tuple[int, int]

    def addresses(self, kind: ElementType) -> range:
        first, count = {
            ElementType.TRANSPORT: self.transport,
            ElementType.STORAGE: self.storage,
            ElementType.IMPORT_EXPORT: self.import_export,
            ElementType.DATA_TRANSFER: self.data_transfer,
        }[kind]
        return range(first, first + count)


def parse_element_address_page(page_body: bytes) -> ElementAddresses:
    """Page 0x1D body (after its 2-byte header) by PYSCSI's ``element_address_bits``."""
    f: dict[str, int] = {}
    decode_bits(bytes(page_body).ljust(16, b"\x00"), element_address_bits, f)
    return ElementAddresses(
        (f["first_medium_transport_element_address"], f["num_medium_transport_elements"]),
        (f["first_storage_element_address"], f["num_storage_elements"]),
        (f["first_import_element_address"], f["num_import_elements"]),
        (f["first_data_transfer_element_address"], f["num_data_transfer_elements"]),
    )
