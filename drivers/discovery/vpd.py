"""Decoding of the two VPD pages the kernel exposes in sysfs as binary attributes.

The SCSI midlayer reads VPD pages 0x80 and 0x83 while probing a device and publishes them
verbatim as ``vpd_pg80`` / ``vpd_pg83`` under the ``scsi_device``. They are binary: byte 2 is
usually zero, so they must be read as bytes (libudev's string attributes stop at the first NUL).
Both decoders accept anything: a device that sends junk gets ``None`` / ``()``, never an error.
"""

from __future__ import annotations

from drivers.discovery.model import Designator

VPD_HEADER_LEN = 4
VPD_PAGE_CODE_OFFSET = 1
VPD_UNIT_SERIAL = 0x80
VPD_DEVICE_IDENTIFICATION = 0x83
DESIGNATOR_HEADER_LEN = 4
PRINTABLE_ASCII = range(0x20, 0x7F)
SERIAL_PADDING = b" \x00"


def _payload(page: bytes, page_code: int) -> bytes | None:
    """The page's payload as its header declares it, cut to what is present."""
    if len(page) < VPD_HEADER_LEN or page[VPD_PAGE_CODE_OFFSET] != page_code:
        return None
    declared = int.from_bytes(page[2:4], "big")
    return page[VPD_HEADER_LEN : VPD_HEADER_LEN + declared]


def unit_serial(page: bytes | None) -> str | None:
    """SPC-4 7.8 Unit Serial Number VPD page: the PRODUCT SERIAL NUMBER field.

    The field is ASCII, padded with spaces (some devices pad with NULs, or right-align).
    Returns ``None`` when the page is missing, is not page 0x80, is empty after padding is
    removed, or holds bytes outside printable ASCII: such a serial could not be matched
    against a changer's drive identifiers anyway.
    """
    if page is None:
        return None
    payload = _payload(page, VPD_UNIT_SERIAL)
    if payload is None:
        return None
    serial = payload.strip(SERIAL_PADDING)
    if not serial or any(byte not in PRINTABLE_ASCII for byte in serial):
        return None
    return serial.decode("ascii")


def designators(page: bytes | None) -> tuple[Designator, ...]:
    """SPC-4 7.8 Device Identification VPD page: its designation descriptors in order.

    A descriptor cut short by the page's end is dropped along with anything after it.
    """
    if page is None:
        return ()
    payload = _payload(page, VPD_DEVICE_IDENTIFICATION)
    if payload is None:
        return ()
    found: list[Designator] = []
    offset = 0
    while offset + DESIGNATOR_HEADER_LEN <= len(payload):
        head = payload[offset : offset + DESIGNATOR_HEADER_LEN]
        end = offset + DESIGNATOR_HEADER_LEN + head[3]
        if end > len(payload):
            break
        found.append(
            Designator(
                code_set=head[0] & 0x0F,
                association=(head[1] >> 4) & 0x03,
                designator_type=head[1] & 0x0F,
                value=bytes(payload[offset + DESIGNATOR_HEADER_LEN : end]),
            )
        )
        offset = end
    return tuple(found)
