"""VPD page decoding and element mapping on bytes built here (no sysfs needed)."""

from __future__ import annotations

from drivers.discovery import DiscoveredDrive, map_drive_elements
from drivers.discovery.vpd import designators, unit_serial

TAPE = 0x01


def _page(code: int, payload: bytes, declared: int | None = None) -> bytes:
    length = len(payload) if declared is None else declared
    return bytes([TAPE, code]) + length.to_bytes(2, "big") + payload


def _drive(hctl: str, serial: str | None) -> DiscoveredDrive:
    return DiscoveredDrive(
        hctl=hctl,
        sys_path=f"/sys/devices/x/{hctl}",
        vendor="V",
        model="M",
        revision="R",
        serial=serial,
        sg_path=None,
        nst_path=None,
        st_path=None,
    )


def test_serial_padding_with_spaces_or_nuls_is_removed() -> None:
    assert unit_serial(_page(0x80, b"  ABC123\x00\x00")) == "ABC123"


def test_serial_is_cut_to_the_declared_length() -> None:
    assert unit_serial(_page(0x80, b"ABC123XYZ", declared=6)) == "ABC123"


def test_serial_longer_than_the_bytes_present_uses_what_is_there() -> None:
    assert unit_serial(_page(0x80, b"ABC", declared=40)) == "ABC"


def test_serial_is_none_for_other_pages_short_pages_blank_or_binary() -> None:
    assert unit_serial(_page(0x83, b"ABC123")) is None
    assert unit_serial(b"\x01\x80\x00") is None
    assert unit_serial(_page(0x80, b"    ")) is None
    assert unit_serial(_page(0x80, b"AB\x07C")) is None
    assert unit_serial(None) is None


def test_designators_stop_at_the_declared_page_length() -> None:
    first = bytes([0x02, 0x01, 0x00, 0x03]) + b"abc"
    second = bytes([0x01, 0x03, 0x00, 0x02]) + b"\x50\x01"
    page = _page(0x83, first + second, declared=len(first))

    (only,) = designators(page)

    assert (only.code_set, only.designator_type, only.value) == (0x02, 0x01, b"abc")


def test_designator_association_is_decoded() -> None:
    (port,) = designators(_page(0x83, bytes([0x61, 0x93, 0x00, 0x01]) + b"\x07"))

    assert (port.code_set, port.association, port.designator_type) == (0x01, 0x01, 0x03)


def test_multipath_drive_maps_to_its_lowest_scsi_address() -> None:
    near, far = _drive("10:0:0:0", "SER1"), _drive("2:0:0:0", "SER1")

    assert map_drive_elements({256: "SER1"}, [near, far]) == {256: far}


def test_identifier_whitespace_is_normalised_and_serialless_drives_never_match() -> None:
    drive, anonymous = _drive("2:0:0:0", "SER1"), _drive("2:0:1:0", None)

    mapped = map_drive_elements({256: "  VEND    PROD   SER1  ", 257: " "}, [drive, anonymous])

    assert mapped == {256: drive, 257: None}
