"""SPACE, LOCATE, READ POSITION, REWIND, LOAD UNLOAD and PREVENT ALLOW through the transport."""

from __future__ import annotations

import struct

import pytest

from hwsim.faults import Fault

NO_SENSE, NOT_READY, HARDWARE, ILLEGAL, BLANK = 0x0, 0x2, 0x4, 0x5, 0x8


@pytest.fixture
def files(tape):
    """Objects: 0 r, 1 r, 2 FM, 3 r, 4 FM, 5 r, 6 r, 7 r (EOD 8); position at BOP."""
    for item in ("r", "r", "F", "r", "F", "r", "r", "r"):
        if item == "F":
            tape.wfm(1)
        else:
            tape.write(b"d" * 100)
    tape.rewind()
    return tape


def space16(code: int, count: int) -> bytes:
    return bytes([0x91, code, 0, 0]) + struct.pack(">q", count) + bytes(4)


def test_space_blocks_forward_and_back(files):
    files.ok(files.space_cdb(0, 1))
    assert files.position() == 1
    files.ok(files.locate_cdb(7))
    files.ok(files.space_cdb(0, -1))
    assert files.position() == 6


def test_space_blocks_forward_stops_after_filemark_with_residue(files):
    sense, _ = files.check(files.space_cdb(0, 5))
    assert (sense.triple, sense.filemark, sense.information) == ((NO_SENSE, 0, 1), True, 3)
    assert files.position() == 3


def test_space_blocks_reverse_stops_before_filemark_with_negative_residue(files):
    files.ok(files.locate_cdb(6))
    sense, _ = files.check(files.space_cdb(0, -4))
    assert (sense.filemark, sense.information) == (True, -3)
    assert files.position() == 4


def test_space_blocks_reverse_hits_bop(files):
    files.ok(files.locate_cdb(1))
    sense, _ = files.check(files.space_cdb(0, -3))
    assert (sense.triple, sense.eom, sense.information) == ((NO_SENSE, 0, 4), True, -2)
    assert files.position() == 0


def test_space_blocks_forward_hits_eod(files):
    files.ok(files.locate_cdb(5))
    sense, _ = files.check(files.space_cdb(0, 5))
    assert (sense.triple, sense.information) == ((BLANK, 0, 5), 2)
    assert files.position() == 8


def test_space_filemarks_both_directions(files):
    files.ok(files.space_cdb(1, 2))
    assert files.position() == 5
    files.ok(files.space_cdb(1, -1))
    assert files.position() == 4  # BOP side of the filemark
    sense, _ = files.check(files.space_cdb(1, 3))
    assert (sense.triple, sense.information) == ((BLANK, 0, 5), 2)
    files.ok(files.locate_cdb(6))
    sense, _ = files.check(files.space_cdb(1, -3))
    assert (sense.triple, sense.eom, sense.information) == ((NO_SENSE, 0, 4), True, -1)
    assert files.position() == 0


def test_space_end_of_data_and_space16(files):
    files.ok(files.space_cdb(3, 0))
    assert files.position() == 8
    files.rewind()
    files.ok(space16(1, 1))
    assert files.position() == 3
    sense, _ = files.check(space16(0, 10))
    assert (sense.filemark, sense.information) == (True, 9)
    assert files.position() == 5
    files.ok(space16(0, 2))
    assert files.position() == 7


def test_space_unsupported_code_is_illegal(files):
    sense, _ = files.check(files.space_cdb(2, 1))
    assert sense.triple == (ILLEGAL, 0x24, 0)


def test_locate_beyond_eod_is_blank_check_at_eod(files):
    sense, _ = files.check(files.locate_cdb(100))
    assert sense.triple == (BLANK, 0, 5)
    assert files.position() == 8


def test_locate_other_partition_is_illegal(files):
    sense, _ = files.check(bytes([0x2B, 0x02, 0, 0, 0, 0, 1, 0, 1, 0]))
    assert sense.triple == (ILLEGAL, 0x24, 0)


def test_locate16_object_file_and_eod(files):
    def locate16(dest: int, value: int) -> bytes:
        return bytes([0x92, dest << 3, 0, 0]) + struct.pack(">Q", value) + bytes(4)

    files.ok(locate16(0, 6))
    assert files.position() == 6
    files.ok(locate16(1, 1))
    assert files.position() == 3
    files.ok(locate16(3, 0))
    assert files.position() == 8


def test_locate_is_o1_and_flushes(tape):
    for _ in range(5):
        tape.write(b"x" * 10)
    assert tape.drive.cartridge.medium.buffered_objects == 5
    tape.ok(tape.locate_cdb(2))
    assert tape.drive.cartridge.medium.buffered_objects == 0
    assert tape.read(10) == b"x" * 10


def test_read_position_short_form(tape):
    data = tape.ok(bytes([0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0]), data_in_len=20)
    assert len(data) == 20 and data[0] & 0x80  # BOP
    tape.write(b"a" * 100)
    tape.wfm(0)
    tape.write(b"b" * 30)
    tape.write(b"c" * 20)
    data = tape.ok(bytes([0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0]), data_in_len=20)
    flags, first, last = data[0], *struct.unpack(">II", data[4:12])
    assert (flags & 0x80, first, last) == (0, 3, 1)
    assert int.from_bytes(data[13:16], "big") == 2
    assert struct.unpack(">I", data[16:20])[0] == 50


def test_read_position_long_and_extended(files):
    files.ok(files.locate_cdb(5))
    data = files.ok(bytes([0x34, 0x06, 0, 0, 0, 0, 0, 0, 32, 0]), data_in_len=32)
    partition, obj, file_id = struct.unpack(">IQQ", data[4:24])
    assert (partition, obj, file_id) == (0, 5, 2)
    data = files.ok(bytes([0x34, 0x08, 0, 0, 0, 0, 0, 0, 32, 0]), data_in_len=32)
    assert struct.unpack(">H", data[2:4])[0] == 28
    assert struct.unpack(">QQ", data[8:24]) == (5, 5)
    sense, _ = files.check(bytes([0x34, 0x1F, 0, 0, 0, 0, 0, 0, 32, 0]), data_in_len=32)
    assert sense.triple == (ILLEGAL, 0x24, 0)


def test_read_position_beyond_early_warning(tape):
    while tape.run(tape.write_cdb(65536), b"x" * 65536).status == 0:
        pass
    data = tape.ok(bytes([0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0]), data_in_len=20)
    assert data[0] & 0x01  # BPEW


def test_rewind_flushes_and_goes_to_bop(tape):
    tape.write(b"a" * 10)
    tape.rewind()
    assert tape.position() == 0
    assert tape.drive.cartridge.medium.buffered_objects == 0


def test_unload_then_not_ready_then_load(tape):
    tape.write(b"a" * 10)
    tape.ok(bytes([0x1B, 0, 0, 0, 0, 0]))
    assert tape.drive.eject_ready()
    assert tape.drive.cartridge.medium.buffered_objects == 0
    sense, _ = tape.check(tape.TUR)
    assert sense.triple == (NOT_READY, 0x04, 0x02)
    tape.ok(bytes([0x1B, 0, 0, 0, 1, 0]))
    tape.ok(tape.TUR)
    assert tape.drive.cartridge.mam.load_count == 2
    assert tape.read(10) == b"a" * 10


def test_prevent_blocks_unload_with_53_02(tape):
    tape.ok(bytes([0x1E, 0, 0, 0, 1, 0]))
    sense, _ = tape.check(bytes([0x1B, 0, 0, 0, 0, 0]))
    assert sense.triple == (ILLEGAL, 0x53, 0x02)
    tape.ok(bytes([0x1E, 0, 0, 0, 0, 0]))
    tape.ok(bytes([0x1B, 0, 0, 0, 0, 0]))


def test_stuck_cartridge_fails_unload(tape, faults):
    faults.arm(Fault("stuck_cartridge", "drive0"))
    sense, _ = tape.check(bytes([0x1B, 0, 0, 0, 0, 0]))
    assert sense.triple == (HARDWARE, 0x53, 0x00)


def test_load_unload_without_cartridge(empty_tape):
    empty_tape.run(empty_tape.TUR)  # power-on UA
    sense, _ = empty_tape.check(bytes([0x1B, 0, 0, 0, 1, 0]))
    assert sense.triple == (NOT_READY, 0x3A, 0)
