"""Decoders for SPC-4 parameter data: INQUIRY and VPD, mode parameters, log pages, MAM.

Pure functions from bytes to frozen values; every decoder tolerates short or over-long data
from real devices (fields that did not arrive are absent or zero, never an IndexError), and
none of them talks to a device (drivers/spc.py does). Standard INQUIRY and the VPD header
fields are unmarshalled with PYSCSI's tables (``Inquiry.unmarshall_datain``).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from pyscsi.pyscsi.scsi_cdb_inquiry import Inquiry
from pyscsi.utils.converter import decode_bits

VPD_SUPPORTED_PAGES = 0x00
VPD_UNIT_SERIAL = 0x80
VPD_DEVICE_IDENTIFICATION = 0x83
VPD_HEADER_LEN = 4
DESIGNATOR_HEADER_LEN = 4
MODE_HEADER_6_LEN = 4
MODE_HEADER_10_LEN = 8
SHORT_BLOCK_DESCRIPTOR_LEN = 8
LOG_HEADER_LEN = 4
LOG_PARAMETER_HEADER_LEN = 4
ATTRIBUTE_HEADER_LEN = 5
ATTRIBUTE_LIST_HEADER_LEN = 4
PAGE_CODE_MASK = 0x3F
SPF = 0x40  # sub-page format bit of a mode page's first byte


def _text(raw: bytes | bytearray) -> str:
    """ASCII field as text: trailing blanks and NULs dropped, odd bytes replaced."""
    return bytes(raw).rstrip(b" \x00").decode("ascii", "replace")


# --- INQUIRY (SPC-4 6.6) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StandardInquiry:
    """SPC-4 6.6.2 standard INQUIRY data (the fields a backup host uses)."""

    peripheral_qualifier: int
    peripheral_type: int
    removable: bool
    version: int
    vendor: str
    product: str
    revision: str
    vendor_specific: bytes = b""  # bytes 36..55: many tape drives put their serial here


def parse_standard_inquiry(data: bytes) -> StandardInquiry:
    raw = bytes(data).ljust(36, b"\x00")
    fields = Inquiry.unmarshall_datain(bytearray(raw), evpd=0)
    return StandardInquiry(
        peripheral_qualifier=fields["peripheral_qualifier"],
        peripheral_type=fields["peripheral_device_type"],
        removable=bool(fields["rmb"]),
        version=fields["version"],
        vendor=_text(fields["t10_vendor_identification"]),
        product=_text(fields["product_identification"]),
        revision=_text(fields["product_revision_level"]),
        vendor_specific=bytes(data[36:56]),
    )


def vpd_payload(data: bytes, page: int) -> bytes:
    """The payload of a VPD page (after its 4-byte header), cut at the page length."""
    if len(data) < VPD_HEADER_LEN or data[1] != page:
        return b""
    length = int.from_bytes(data[2:4], "big")
    return bytes(data[VPD_HEADER_LEN : VPD_HEADER_LEN + length])


def parse_supported_pages(data: bytes) -> list[int]:
    """SPC-4 7.8.16 supported VPD pages (0x00)."""
    return list(vpd_payload(data, VPD_SUPPORTED_PAGES))


def parse_unit_serial(data: bytes) -> str:
    """SPC-4 7.8.17 unit serial number (0x80)."""
    return _text(vpd_payload(data, VPD_UNIT_SERIAL)).strip()


class CodeSet(enum.IntEnum):
    BINARY = 1
    ASCII = 2
    UTF8 = 3


class DesignatorType(enum.IntEnum):
    """SPC-4 table 459."""

    VENDOR_SPECIFIC = 0
    T10_VENDOR_ID = 1
    EUI_64 = 2
    NAA = 3
    RELATIVE_TARGET_PORT = 4
    TARGET_PORT_GROUP = 5
    LOGICAL_UNIT_GROUP = 6
    MD5_LOGICAL_UNIT = 7
    SCSI_NAME_STRING = 8


@dataclass(frozen=True, slots=True)
class Designator:
    """One designation descriptor of VPD page 0x83 (SPC-4 7.8.6)."""

    code_set: int
    association: int
    designator_type: int
    value: bytes

    @property
    def text(self) -> str:
        """The value as text when it is ASCII/UTF-8, else as hex (an NAA WWN)."""
        if self.code_set in (CodeSet.ASCII, CodeSet.UTF8):
            return self.value.rstrip(b" \x00").decode("utf-8", "replace")
        return self.value.hex()


def parse_device_identification(data: bytes) -> list[Designator]:
    """SPC-4 7.8.6 device identification (0x83): the header fields by PYSCSI's table."""
    payload = vpd_payload(data, VPD_DEVICE_IDENTIFICATION)
    out: list[Designator] = []
    at = 0
    while at + DESIGNATOR_HEADER_LEN <= len(payload):
        header: dict[str, int] = {}
        decode_bits(payload[at : at + DESIGNATOR_HEADER_LEN], Inquiry._designator_bits, header)
        length = payload[at + 3]
        value = payload[at + DESIGNATOR_HEADER_LEN : at + DESIGNATOR_HEADER_LEN + length]
        out.append(
            Designator(header["code_set"], header["association"], header["designator_type"], value)
        )
        at += DESIGNATOR_HEADER_LEN + length
    return out


# --- mode parameters (SPC-4 7.5) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockDescriptor:
    """SPC-4 7.5.5 / SSC-4 8.3.2 short block descriptor: block length 0 = variable blocks."""

    density_code: int
    number_of_blocks: int
    block_length: int

    def encode(self) -> bytes:
        return (
            bytes([self.density_code])
            + self.number_of_blocks.to_bytes(3, "big")
            + b"\x00"
            + self.block_length.to_bytes(3, "big")
        )


@dataclass(frozen=True, slots=True)
class ModePage:
    """One mode page, header included in ``raw`` (so it can be sent back by MODE SELECT)."""

    code: int
    raw: bytes

    @property
    def body(self) -> bytes:
        """The page parameters after the 2-byte header."""
        return self.raw[2:]


@dataclass(frozen=True, slots=True)
class ModeParameters:
    """What MODE SENSE returned: header fields, block descriptors and pages by code."""

    medium_type: int
    device_specific: int
    block_descriptors: tuple[BlockDescriptor, ...] = ()
    pages: dict[int, ModePage] = field(default_factory=dict)

    def page(self, code: int) -> ModePage | None:
        return self.pages.get(code)


def _parse_descriptors(raw: bytes) -> tuple[BlockDescriptor, ...]:
    out = []
    for at in range(0, len(raw) - SHORT_BLOCK_DESCRIPTOR_LEN + 1, SHORT_BLOCK_DESCRIPTOR_LEN):
        d = raw[at : at + SHORT_BLOCK_DESCRIPTOR_LEN]
        out.append(
            BlockDescriptor(d[0], int.from_bytes(d[1:4], "big"), int.from_bytes(d[5:8], "big"))
        )
    return tuple(out)


def _parse_pages(raw: bytes) -> dict[int, ModePage]:
    pages: dict[int, ModePage] = {}
    at = 0
    while at + 2 <= len(raw):
        code = raw[at] & PAGE_CODE_MASK
        length = (
            int.from_bytes(raw[at + 2 : at + 4], "big") + 4 if raw[at] & SPF else raw[at + 1] + 2
        )
        pages.setdefault(code, ModePage(code, bytes(raw[at : at + length])))
        at += length
    return pages


def parse_mode_parameters(data: bytes, *, ten: bool) -> ModeParameters:
    """MODE SENSE(6) (SPC-4 7.5.4 header) or MODE SENSE(10) data, cut at the stated length."""
    data = bytes(data)
    if ten:
        if len(data) < MODE_HEADER_10_LEN:
            return ModeParameters(0, 0)
        total = int.from_bytes(data[0:2], "big") + 2
        medium, specific = data[2], data[3]
        desc_len, header = int.from_bytes(data[6:8], "big"), MODE_HEADER_10_LEN
    else:
        if len(data) < MODE_HEADER_6_LEN:
            return ModeParameters(0, 0)
        total = data[0] + 1
        medium, specific, desc_len, header = data[1], data[2], data[3], MODE_HEADER_6_LEN
    data = data[:total]
    descriptors = _parse_descriptors(data[header : header + desc_len])
    return ModeParameters(medium, specific, descriptors, _parse_pages(data[header + desc_len :]))


def mode_select_data(
    *,
    ten: bool,
    device_specific: int = 0,
    descriptor: BlockDescriptor | None = None,
    pages: tuple[bytes, ...] = (),
) -> bytes:
    """A MODE SELECT parameter list (SPC-4 7.5.4: MODE DATA LENGTH and MEDIUM TYPE are 0).

    ``pages`` are whole pages (header included) with the PS bit cleared by the caller's
    source: PS is reserved in MODE SELECT, so it is cleared here.
    """
    descriptors = descriptor.encode() if descriptor is not None else b""
    body = b"".join(bytes([p[0] & 0x7F]) + p[1:] for p in pages)
    if ten:
        header = struct.pack(">HBBBBH", 0, 0, device_specific, 0, 0, len(descriptors))
    else:
        header = bytes([0, 0, device_specific, len(descriptors)])
    return header + descriptors + body


# --- LOG SENSE (SPC-4 7.3) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogParameter:
    """SPC-4 7.3.2.2 log parameter: code, control byte and value bytes."""

    code: int
    control: int
    value: bytes

    @property
    def as_int(self) -> int:
        return int.from_bytes(self.value, "big")


@dataclass(frozen=True, slots=True)
class LogPage:
    """A LOG SENSE page: code and parameters in the order received."""

    code: int
    parameters: tuple[LogParameter, ...]

    def get(self, code: int) -> LogParameter | None:
        return next((p for p in self.parameters if p.code == code), None)

    def int_value(self, code: int, default: int | None = None) -> int | None:
        p = self.get(code)
        return p.as_int if p is not None else default


def parse_log_page(data: bytes) -> LogPage:
    """SPC-4 7.3.2: page header, then parameters up to PAGE LENGTH (or the data's end)."""
    data = bytes(data)
    if len(data) < LOG_HEADER_LEN:
        return LogPage(data[0] & PAGE_CODE_MASK if data else 0, ())
    end = min(len(data), LOG_HEADER_LEN + int.from_bytes(data[2:4], "big"))
    params = []
    at = LOG_HEADER_LEN
    while at + LOG_PARAMETER_HEADER_LEN <= end:
        code, control, length = struct.unpack_from(">HBB", data, at)
        start = at + LOG_PARAMETER_HEADER_LEN
        params.append(LogParameter(code, control, data[start : min(start + length, end)]))
        at = start + length
    return LogPage(data[0] & PAGE_CODE_MASK, tuple(params))


def parse_supported_log_pages(data: bytes) -> list[int]:
    """Page 0x00: the page codes, one byte each, in place of parameters."""
    data = bytes(data)
    end = min(len(data), LOG_HEADER_LEN + int.from_bytes(data[2:4], "big")) if data else 0
    return [b & PAGE_CODE_MASK for b in data[LOG_HEADER_LEN:end]]


# --- READ ATTRIBUTE (SPC-4 7.4) ----------------------------------------------------------------


class AttributeFormat(enum.IntEnum):
    BINARY = 0
    ASCII = 1
    TEXT = 2


class MamAttribute(enum.IntEnum):
    """SPC-4 7.4.2 attribute identifiers a tape host reads (device, medium and host types)."""

    REMAINING_CAPACITY = 0x0000
    MAXIMUM_CAPACITY = 0x0001
    TAPEALERT_FLAGS = 0x0002
    LOAD_COUNT = 0x0003
    MAM_SPACE_REMAINING = 0x0004
    ASSIGNING_ORGANIZATION = 0x0005
    FORMATTED_DENSITY_CODE = 0x0006
    INITIALIZATION_COUNT = 0x0007
    DEVICE_AT_LAST_LOAD = 0x020A
    TOTAL_MB_WRITTEN = 0x0220
    TOTAL_MB_READ = 0x0221
    MB_WRITTEN_LAST_LOAD = 0x0222
    MB_READ_LAST_LOAD = 0x0223
    MEDIUM_MANUFACTURER = 0x0400
    MEDIUM_SERIAL_NUMBER = 0x0401
    MEDIUM_DENSITY_CODE = 0x0405
    MEDIUM_MANUFACTURE_DATE = 0x0406
    MAM_CAPACITY = 0x0407
    MEDIUM_TYPE = 0x0408
    MEDIUM_TYPE_INFORMATION = 0x0409
    APPLICATION_VENDOR = 0x0800
    APPLICATION_NAME = 0x0801
    APPLICATION_VERSION = 0x0802
    USER_MEDIUM_TEXT_LABEL = 0x0803
    DATE_TIME_LAST_WRITTEN = 0x0804
    TEXT_LOCALIZATION_IDENTIFIER = 0x0805
    BARCODE = 0x0806
    OWNING_HOST_TEXTUAL_NAME = 0x0807
    MEDIA_POOL = 0x0808


@dataclass(frozen=True, slots=True)
class AttributeValue:
    """One attribute: ``value`` is an int (BINARY up to 8 bytes), str (ASCII/TEXT) or bytes."""

    ident: int
    fmt: int
    read_only: bool
    value: int | str | bytes

    @property
    def name(self) -> str:
        try:
            return MamAttribute(self.ident).name
        except ValueError:
            return f"ATTRIBUTE_{self.ident:04X}"


def _attribute_value(fmt: int, raw: bytes) -> int | str | bytes:
    if fmt == AttributeFormat.BINARY:
        return int.from_bytes(raw, "big") if len(raw) <= 8 else raw
    if fmt == AttributeFormat.ASCII:
        return raw.rstrip(b" \x00").decode("ascii", "replace")
    if fmt == AttributeFormat.TEXT:
        return raw.rstrip(b"\x00").decode("utf-8", "replace")
    return raw


def parse_attributes(data: bytes) -> dict[int, AttributeValue]:
    """SPC-4 6.16.2 READ ATTRIBUTE values: 4-byte AVAILABLE DATA, then attributes."""
    data = bytes(data)
    end = min(len(data), ATTRIBUTE_LIST_HEADER_LEN + int.from_bytes(data[:4], "big"))
    out: dict[int, AttributeValue] = {}
    at = ATTRIBUTE_LIST_HEADER_LEN
    while at + ATTRIBUTE_HEADER_LEN <= end:
        ident, flags, length = struct.unpack_from(">HBH", data, at)
        raw = data[at + ATTRIBUTE_HEADER_LEN : at + ATTRIBUTE_HEADER_LEN + length]
        fmt = flags & 0x03
        out[ident] = AttributeValue(ident, fmt, bool(flags & 0x80), _attribute_value(fmt, raw))
        at += ATTRIBUTE_HEADER_LEN + length
    return out
