"""The simulated changer through the transport contract: identity, mode pages, READ
ELEMENT STATUS, INITIALIZE ELEMENT STATUS, POSITION TO ELEMENT (SMC-3)."""

from __future__ import annotations

import struct

from drivers.transport.hwsim_local import HwsimLocalTransport
from hwsim.library import SimLibrary
from tests.hwsim.smc_util import (
    DRIVE,
    IE,
    ROBOT,
    SLOT,
    drive,
    expect_check,
    expect_good,
    field_pointer,
    parse_element_status,
    read_elements,
    res_cdb,
    run,
    slot,
)

ILLEGAL_REQUEST, UNIT_ATTENTION = 5, 6


# --- identity and mode pages ------------------------------------------------------------------


def test_inquiry_reports_a_medium_changer(changer: HwsimLocalTransport) -> None:
    result = run(changer, bytes([0x12, 0, 0, 0, 96, 0]), 96)
    expect_good(result)
    data = bytes(result.data)
    assert data[0] == 0x08
    assert data[8:16] == b"TAPIR   "
    assert data[16:32] == b"HWSIM LIBRARY   "


def test_unit_serial_vpd_is_the_library_serial(changer: HwsimLocalTransport) -> None:
    result = run(changer, bytes([0x12, 1, 0x80, 0, 64, 0]), 64)
    expect_good(result)
    data = bytes(result.data)
    assert data[:2] == bytes([0x08, 0x80])
    assert data[4 : 4 + data[3]] == b"SMALL00001"


def mode_sense_10(changer: HwsimLocalTransport, page: int) -> bytes:
    result = run(changer, bytes([0x5A, 0x08, page, 0, 0, 0, 0, 0x04, 0x00, 0]), 1024)
    expect_good(result)
    data = bytes(result.data)
    assert struct.unpack(">H", data[6:8])[0] == 0  # no block descriptors on a changer
    return data[8:]


def test_element_address_assignment_page(changer: HwsimLocalTransport) -> None:
    page = mode_sense_10(changer, 0x1D)
    assert page[0] == 0x1D and page[1] == 0x12
    fields = struct.unpack(">8H", page[2:18])
    assert fields == (ROBOT, 1, SLOT, 6, IE, 2, DRIVE, 2)


def test_device_capabilities_and_geometry_pages(changer: HwsimLocalTransport) -> None:
    caps = mode_sense_10(changer, 0x1F)
    assert caps[:2] == bytes([0x1F, 0x12])
    assert caps[2] == 0x0E  # StorDT, StorI/E, StorST; the robot stores nothing
    assert caps[4:8] == bytes([0x00, 0x0E, 0x0E, 0x0E])  # MT->, ST->, I/E->, DT->
    assert caps[12:16] == bytes([0x00, 0x0E, 0x0E, 0x0E])
    geometry = mode_sense_10(changer, 0x1E)
    assert geometry == bytes([0x1E, 0x02, 0x00, 0x00])


def test_mode_sense_all_pages_lists_the_three_pages(changer: HwsimLocalTransport) -> None:
    pages = mode_sense_10(changer, 0x3F)
    codes = []
    pos = 0
    while pos < len(pages):
        codes.append(pages[pos] & 0x3F)
        pos += pages[pos + 1] + 2
    assert codes == [0x1D, 0x1E, 0x1F]


def test_element_address_page_is_not_changeable(changer: HwsimLocalTransport) -> None:
    current = mode_sense_10(changer, 0x1D)
    changed = bytearray(current)
    changed[3] = 9  # try to make 9 transports
    params = bytes(8) + bytes(changed)
    cdb = bytes([0x55, 0x10, 0, 0, 0, 0, 0, 0, len(params), 0])
    result = run(changer, cdb, data_out=params)
    expect_check(result, ILLEGAL_REQUEST, 0x26, 0x00)


# --- READ ELEMENT STATUS -------------------------------------------------------------------------


def test_read_all_elements_in_address_order(changer: HwsimLocalTransport) -> None:
    report = read_elements(changer)
    addresses = [d.address for d in report.descriptors]
    assert addresses == [ROBOT, IE, IE + 1, DRIVE, DRIVE + 1, *range(SLOT, SLOT + 6)]
    assert report.first == ROBOT and report.count == 11
    assert [p[0] for p in report.pages] == [1, 3, 4, 2]
    assert all(p[1] == 0x80 and p[2] == 12 + 36 for p in report.pages)  # PVolTag
    barcodes = [report.at(slot(n)).barcode for n in range(1, 7)]
    assert barcodes == ["TST001L8", "TST002L8", "TST003L8", "TST004L8", None, "CLN001CU"]
    assert report.at(slot(5)).volume_tag == bytes(36)
    assert report.at(slot(1)).volume_tag == b"TST001L8".ljust(32) + bytes(4)


def test_storage_flags_and_medium_types(changer: HwsimLocalTransport) -> None:
    report = read_elements(changer, element_type=2)
    first, empty, cleaning = report.at(slot(1)), report.at(slot(5)), report.at(slot(6))
    assert first.flags == 0x09  # ACCESS | FULL
    assert empty.flags == 0x08
    assert first.medium_type == 1 and cleaning.medium_type == 2
    assert not first.svalid  # placed by configuration: no known source


def test_element_type_filter_start_and_count(changer: HwsimLocalTransport) -> None:
    report = read_elements(changer, element_type=2, start=slot(3), count=2)
    assert [d.address for d in report.descriptors] == [slot(3), slot(4)]
    assert report.first == slot(3) and report.count == 2
    assert report.byte_count == 8 + 2 * 48
    drives_only = read_elements(changer, element_type=4)
    assert [d.address for d in drives_only.descriptors] == [drive(0), drive(1)]


def test_without_voltag_there_are_no_tags(changer: HwsimLocalTransport) -> None:
    report = read_elements(changer, element_type=2, voltag=False)
    assert report.pages == [(2, 0x00, 12)]
    assert report.at(slot(1)).volume_tag is None and report.at(slot(1)).full


def test_start_beyond_the_last_element_is_invalid(changer: HwsimLocalTransport) -> None:
    result = run(changer, res_cdb(element_type=4, start=DRIVE + 2), 1024)
    expect_check(result, ILLEGAL_REQUEST, 0x21, 0x01)
    assert field_pointer(result) == (True, 2, None)


def test_unknown_element_type_code(changer: HwsimLocalTransport) -> None:
    result = run(changer, res_cdb(element_type=5), 1024)
    expect_check(result, ILLEGAL_REQUEST, 0x24, 0x00)
    assert field_pointer(result) == (True, 1, 3)


def test_short_allocation_reports_the_full_byte_count(changer: HwsimLocalTransport) -> None:
    full = run(changer, res_cdb(), 0xFFFF)
    probe = run(changer, res_cdb(alloc=8), 0xFFFF)
    expect_good(probe)
    assert len(probe.data) == 8
    assert bytes(probe.data) == bytes(full.data)[:8]
    assert int.from_bytes(bytes(probe.data)[5:8], "big") == len(full.data) - 8


def test_dvcid_reports_the_drive_identifier(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    report = read_elements(changer, element_type=4, dvcid=True)
    d0 = report.at(drive(0))
    identity = lib.drives["drive0"].identity
    assert d0.code_set == 2 and d0.id_type == 1  # ASCII, T10 vendor ID
    assert d0.identifier == identity.t10_vendor_id()
    assert d0.identifier is not None and d0.identifier.endswith(b"DRV0000001")
    assert report.at(drive(1)).identifier is not None
    assert report.at(drive(1)).identifier.endswith(b"DRV0000002")  # type: ignore[union-attr]


def test_drive_identifier_matches_the_drive_vpd_serial(
    lib: SimLibrary, changer: HwsimLocalTransport
) -> None:
    """A driver maps changer drive elements to tape devices by this serial."""
    report = read_elements(changer, element_type=4, dvcid=True)
    tape = HwsimLocalTransport(lib.drives["drive1"])
    vpd = bytes(run(tape, bytes([0x12, 1, 0x80, 0, 64, 0]), 64).data)
    serial = vpd[4 : 4 + vpd[3]]
    assert report.at(drive(1)).identifier.endswith(serial)  # type: ignore[union-attr]


def test_import_export_flags(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    lib.import_cartridge("NEW001L8", ie_slot=2)
    run(changer, bytes(6))  # consume UNIT ATTENTION 28/01
    report = read_elements(changer, element_type=3)
    empty, imported = report.at(IE), report.at(IE + 1)
    assert empty.flags == 0x38  # INENAB | EXENAB | ACCESS
    assert imported.flags == 0x3B  # ... | IMPEXP | FULL
    assert imported.barcode == "NEW001L8"


def test_powered_off_drive_reports_an_exception(
    lib: SimLibrary, changer: HwsimLocalTransport
) -> None:
    lib.power_off("drive1")
    d1 = read_elements(changer, element_type=4).at(drive(1))
    assert d1.flags & 0x04 and not d1.flags & 0x08  # EXCEPT, no ACCESS
    assert (d1.asc, d1.ascq) == (0x04, 0x12)
    d0 = read_elements(changer, element_type=4).at(drive(0))
    assert d0.flags == 0x08


def test_element_status_parses_with_raw_decoder(changer: HwsimLocalTransport) -> None:
    """Byte count in the header equals the bytes that follow it."""
    data = bytes(run(changer, res_cdb(dvcid=True), 0xFFFF).data)
    assert int.from_bytes(data[5:8], "big") == len(data) - 8
    report = parse_element_status(data, dvcid=True)
    assert len(report.descriptors) == report.count == 11


# --- INITIALIZE ELEMENT STATUS, POSITION TO ELEMENT ---------------------------------------------


def test_initialize_element_status(changer: HwsimLocalTransport) -> None:
    expect_good(run(changer, bytes([0x07, 0, 0, 0, 0, 0])))


def test_initialize_element_status_with_range(changer: HwsimLocalTransport) -> None:
    good = bytes([0x37, 0x01]) + struct.pack(">HHH", slot(2), 0, 3) + bytes(2)
    expect_good(run(changer, good))
    bad = bytes([0x37, 0x01]) + struct.pack(">HHH", 0x0999, 0, 3) + bytes(2)
    result = run(changer, bad)
    expect_check(result, ILLEGAL_REQUEST, 0x21, 0x01)
    assert field_pointer(result) == (True, 2, None)
    no_range = bytes([0x37, 0x00]) + struct.pack(">HHH", 0x0999, 0, 3) + bytes(2)
    expect_good(run(changer, no_range))


def test_position_to_element(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    expect_good(run(changer, bytes([0x2B, 0]) + struct.pack(">HH", 0, slot(4)) + bytes(4)))
    assert lib.changer.robot_position == slot(4)
    result = run(changer, bytes([0x2B, 0]) + struct.pack(">HH", 0, 0x7777) + bytes(4))
    expect_check(result, ILLEGAL_REQUEST, 0x21, 0x01)
    assert field_pointer(result) == (True, 4, None)
    result = run(changer, bytes([0x2B, 0]) + struct.pack(">HH", 0x0042, slot(1)) + bytes(4))
    expect_check(result, ILLEGAL_REQUEST, 0x21, 0x01)
    assert field_pointer(result) == (True, 2, None)


def test_unknown_opcode_is_rejected(changer: HwsimLocalTransport) -> None:
    expect_check(run(changer, bytes([0x0A, 0, 0, 0, 1, 0])), ILLEGAL_REQUEST, 0x20, 0x00)
