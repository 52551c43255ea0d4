"""INQUIRY/VPD, MODE SENSE/SELECT, block limits, density support, LOG SENSE, MAM, REPORT LUNS."""

from __future__ import annotations

import struct

NO_SENSE, ILLEGAL, DATA_PROTECT = 0x0, 0x5, 0x7


def log_params(page: bytes) -> dict[int, bytes]:
    params, offset = {}, 4
    while offset < 4 + struct.unpack(">H", page[2:4])[0]:
        code, _, length = struct.unpack(">HBB", page[offset : offset + 4])
        params[code] = page[offset + 4 : offset + 4 + length]
        offset += 4 + length
    return params


def attributes(data: bytes) -> dict[int, bytes]:
    out, offset = {}, 4
    while offset < 4 + struct.unpack(">I", data[:4])[0]:
        ident, _, length = struct.unpack(">HBH", data[offset : offset + 5])
        out[ident] = data[offset + 5 : offset + 5 + length]
        offset += 5 + length
    return out


def test_inquiry_identifies_a_tape_drive(tape):
    data = tape.ok(bytes([0x12, 0, 0, 0, 96, 0]), data_in_len=96)
    assert data[0] == 0x01 and data[1] & 0x80
    assert data[8:16] == b"HWSIM   "
    vpd = tape.ok(bytes([0x12, 1, 0x80, 0, 64, 0]), data_in_len=64)
    assert vpd[4:] == b"SIMDRV0001"
    pages = tape.ok(bytes([0x12, 1, 0x00, 0, 64, 0]), data_in_len=64)
    assert list(pages[4:]) == [0x00, 0x80, 0x83]


def test_invalid_opcode_and_report_luns(tape):
    sense, _ = tape.check(bytes([0xEE] + [0] * 5))
    assert sense.triple == (ILLEGAL, 0x20, 0)
    luns = tape.ok(bytes([0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0]), data_in_len=16)
    assert luns[:4] == b"\x00\x00\x00\x08"


def test_read_block_limits(tape):
    data = tape.ok(bytes([0x05, 0, 0, 0, 0, 0]), data_in_len=6)
    assert int.from_bytes(data[1:4], "big") == 0x800000
    assert struct.unpack(">H", data[4:6])[0] == 1


def test_mode_sense_header_descriptor_and_pages(tape):
    data = tape.ok(bytes([0x1A, 0, 0x3F, 0, 255, 0]), data_in_len=255)
    assert data[0] == len(data) - 1
    assert data[2] == 0x10  # buffered mode 1, not write protected
    assert data[3] == 8
    assert data[4] == 0x5E and int.from_bytes(data[9:12], "big") == 0  # LTO-8, variable
    page = tape.ok(bytes([0x1A, 0x08, 0x0F, 0, 255, 0]), data_in_len=255)[4:]
    assert page[0] == 0x0F and page[2] & 0xC0 == 0xC0  # DCE and DCC
    page = tape.ok(bytes([0x5A, 0x08, 0x10, 0, 0, 0, 0, 0, 255, 0]), data_in_len=255)[8:]
    assert page[0] == 0x10 and page[1] == 0x0E


def test_mode_select_block_size_switches_fixed_mode(tape):
    params = bytes([0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0, 0x04, 0])
    tape.ok(bytes([0x15, 0x10, 0, 0, len(params), 0]), params)
    data = tape.ok(bytes([0x1A, 0, 0x3F, 0, 255, 0]), data_in_len=255)
    assert int.from_bytes(data[9:12], "big") == 1024
    tape.ok(tape.write_cdb(2, fixed=True), b"x" * 2048)
    assert tape.drive.cartridge.medium.count == 2
    bad = bytes([0, 0, 0x10, 8, 0x33, 0, 0, 0, 0, 0, 0x04, 0])
    sense, _ = tape.check(bytes([0x15, 0x10, 0, 0, len(bad), 0]), bad)
    assert sense.triple == (ILLEGAL, 0x26, 0)


def test_mode_select_compression_and_descriptor_sense(tape):
    page = bytearray(tape.ok(bytes([0x1A, 0x08, 0x0F, 0, 255, 0]), data_in_len=255)[4:])
    page[2] &= ~0x80
    params = bytes([0, 0, 0x10, 0]) + bytes(page)
    tape.ok(bytes([0x15, 0x10, 0, 0, len(params), 0]), params)
    assert tape.drive.compression is False
    control = bytearray(tape.ok(bytes([0x1A, 0x08, 0x0A, 0, 255, 0]), data_in_len=255)[4:])
    control[2] |= 0x04
    params = bytes([0, 0, 0x10, 0]) + bytes(control)
    tape.ok(bytes([0x15, 0x10, 0, 0, len(params), 0]), params)
    tape.write(b"x" * 10)
    tape.rewind()
    result = tape.run(tape.read_cdb(4), data_in_len=4)
    assert result.sense[0] == 0x72 and result.sense[1] == NO_SENSE
    assert b"\x04\x02\x00\x20" in result.sense  # stream commands descriptor, ILI


def test_report_density_support(tape):
    data = tape.ok(bytes([0x44, 0, 0, 0, 0, 0, 0, 0x10, 0, 0]), data_in_len=4096)
    codes = [data[4 + i * 52] for i in range((len(data) - 4) // 52)]
    assert codes == [0x5C, 0x5D, 0x5E]
    mine = tape.ok(bytes([0x44, 1, 0, 0, 0, 0, 0, 0x10, 0, 0]), data_in_len=4096)
    assert mine[4] == 0x5E and mine[6] & 0x80  # WRTOK


def test_log_sense_pages(tape):
    supported = tape.ok(bytes([0x4D, 0, 0x00, 0, 0, 0, 0, 0, 255, 0]), data_in_len=255)
    assert list(supported[4:]) == [0x00, 0x0C, 0x2E, 0x31]
    tape.write(b"x" * 2_000_000)
    tape.rewind()
    tape.read(2_000_000)
    page = tape.ok(bytes([0x4D, 0, 0x0C, 0, 0, 0, 0, 0x10, 0, 0]), data_in_len=4096)
    params = log_params(page)
    assert [int.from_bytes(params[c], "big") for c in range(4)] == [2_000_000] * 4
    assert params[0x0100] == b"\x00"
    page = tape.ok(bytes([0x4D, 0, 0x31, 0, 0, 0, 0, 0x10, 0, 0]), data_in_len=4096)
    params = log_params(page)
    assert int.from_bytes(params[1], "big") == (4 * 1024 * 1024 - 2_000_000) // (1 << 20)
    assert int.from_bytes(params[3], "big") == 4
    tape.ok(bytes([0x4C, 0x02, 0, 0, 0, 0, 0, 0, 0, 0]))  # LOG SELECT PCR
    page = tape.ok(bytes([0x4D, 0, 0x0C, 0, 0, 0, 0, 0x10, 0, 0]), data_in_len=4096)
    assert int.from_bytes(log_params(page)[0], "big") == 0


def test_tapealert_page_reports_and_clears(tape):
    tape.drive.tapealert.set(0x05)
    page = tape.ok(bytes([0x4D, 0, 0x2E, 0, 0, 0, 0, 0x10, 0, 0]), data_in_len=4096)
    params = log_params(page)
    assert sorted(params) == list(range(1, 65))
    assert [c for c, v in params.items() if v == b"\x01"] == [0x05]
    page = tape.ok(bytes([0x4D, 0, 0x2E, 0, 0, 0, 0, 0x10, 0, 0]), data_in_len=4096)
    assert all(v == b"\x00" for v in log_params(page).values())


def test_read_attribute_values_and_list(tape):
    tape.write(b"x" * 100)
    tape.wfm(1)
    cdb = bytes([0x8C, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]) + struct.pack(">I", 4096) + bytes(2)
    attrs = attributes(tape.ok(cdb, data_in_len=4096))
    assert attrs[0x0806].rstrip() == b"000001L8"
    assert int.from_bytes(attrs[0x0003], "big") == 1
    assert attrs[0x0401].startswith(b"HW")
    assert len(attrs[0x0804]) == 12 and attrs[0x0804].isdigit()
    assert int.from_bytes(attrs[0x0001], "big") == 4
    listing = tape.ok(
        bytes([0x8C, 0x01]) + bytes(8) + struct.pack(">I", 4096) + bytes(2), data_in_len=4096
    )
    ids = [struct.unpack(">H", listing[i : i + 2])[0] for i in range(4, len(listing), 2)]
    assert ids == sorted(attrs)
    first = bytes([0x8C, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00]) + struct.pack(">I", 4096) + bytes(2)
    assert min(attributes(tape.ok(first, data_in_len=4096))) == 0x0804


def test_write_attribute_user_label(tape):
    label = b"weekly full"
    params = struct.pack(">I", 5 + len(label)) + struct.pack(">HBH", 0x0803, 0x02, len(label))
    params += label
    cdb = bytes([0x8D, 0, 0, 0, 0, 0, 0, 0, 0, 0]) + struct.pack(">I", len(params)) + bytes(2)
    tape.ok(cdb, params)
    assert tape.drive.cartridge.user_label == "weekly full"
    read = bytes([0x8C, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x03]) + struct.pack(">I", 4096) + bytes(2)
    assert attributes(tape.ok(read, data_in_len=4096))[0x0803].rstrip(b"\0") == label
    ro = struct.pack(">I", 13) + struct.pack(">HBH", 0x0003, 0x00, 8) + bytes(8)
    cdb = bytes([0x8D, 0, 0, 0, 0, 0, 0, 0, 0, 0]) + struct.pack(">I", len(ro)) + bytes(2)
    sense, _ = tape.check(cdb, ro)
    assert sense.triple == (ILLEGAL, 0x26, 0)


def test_request_sense_without_pending_condition(tape):
    data = tape.ok(bytes([0x03, 0, 0, 0, 18, 0]), data_in_len=18)
    assert data[0] == 0x70 and data[2] & 0x0F == NO_SENSE and data[12:14] == b"\0\0"
