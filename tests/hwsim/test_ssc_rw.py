"""READ(6)/WRITE(6)/WRITE FILEMARKS/ERASE through the transport: data, residues, conditions."""

from __future__ import annotations

import os
import struct

import pytest

from drivers.transport.contract import DeviceUnreachable, TransportError
from hwsim.faults import Fault

NO_SENSE, MEDIUM_ERROR, ILLEGAL, DATA_PROTECT, BLANK, OVERFLOW = 0x0, 0x3, 0x5, 0x7, 0x8, 0xD


def set_block_size(tape, size: int) -> None:
    params = bytes([0, 0, 0x10, 8, 0, 0, 0, 0, 0]) + size.to_bytes(3, "big")
    tape.ok(bytes([0x15, 0x10, 0, 0, len(params), 0]), params)


def test_variable_records_round_trip(tape):
    records = [bytes([i]) * (100 + i) for i in range(5)]
    for r in records:
        tape.write(r)
    tape.rewind()
    assert [tape.read(len(r)) for r in records] == records


def test_read_shorter_record_gives_ili_with_positive_residue(tape):
    tape.write(b"x" * 100)
    tape.rewind()
    sense, data = tape.check(tape.read_cdb(150), data_in_len=150)
    assert (sense.triple, sense.ili, sense.information) == ((NO_SENSE, 0, 0), True, 50)
    assert data == b"x" * 100
    assert tape.position() == 1


def test_read_longer_record_gives_ili_with_negative_residue_and_truncates(tape):
    tape.write(b"y" * 100)
    tape.rewind()
    sense, data = tape.check(tape.read_cdb(60), data_in_len=60)
    assert (sense.ili, sense.information) == (True, -40)
    assert data == b"y" * 60
    assert tape.position() == 1


def test_sili_suppresses_underlength_but_not_overlength(tape):
    tape.write(b"a" * 10)
    tape.write(b"b" * 10)
    tape.rewind()
    result = tape.run(tape.read_cdb(20, sili=True), data_in_len=20)
    assert result.status == 0 and bytes(result.data) == b"a" * 10 and result.residual == 10
    sense, _ = tape.check(tape.read_cdb(5, sili=True), data_in_len=5)
    assert (sense.ili, sense.information) == (True, -5)


def test_filemark_read_reports_fm_bit_and_moves_past_it(tape):
    tape.write(b"r" * 10)
    tape.wfm(1)
    tape.write(b"s" * 10)
    tape.rewind()
    tape.read(10)
    sense, data = tape.check(tape.read_cdb(10), data_in_len=10)
    assert (sense.triple, sense.filemark, sense.information) == ((NO_SENSE, 0, 1), True, 10)
    assert data == b""
    assert tape.position() == 2
    assert tape.read(10) == b"s" * 10


def test_end_of_data_is_blank_check(tape):
    tape.write(b"r" * 10)
    tape.rewind()
    tape.read(10)
    sense, _ = tape.check(tape.read_cdb(10), data_in_len=10)
    assert (sense.triple, sense.information, sense.eom) == ((BLANK, 0, 5), 10, False)


def test_blank_tape_read_is_blank_check(tape):
    sense, _ = tape.check(tape.read_cdb(10), data_in_len=10)
    assert sense.triple == (BLANK, 0, 5)


def test_fixed_mode_round_trip_and_block_residues(tape):
    set_block_size(tape, 512)
    tape.ok(tape.write_cdb(3, fixed=True), bytes(range(256)) * 6)
    tape.wfm(1)
    tape.rewind()
    assert tape.ok(tape.read_cdb(2, fixed=True), data_in_len=1024) == bytes(range(256)) * 4
    sense, data = tape.check(tape.read_cdb(4, fixed=True), data_in_len=2048)
    assert (sense.filemark, sense.information, len(data)) == (True, 3, 512)
    sense, _ = tape.check(tape.read_cdb(2, fixed=True), data_in_len=1024)
    assert (sense.triple, sense.information) == ((BLANK, 0, 5), 2)


def test_fixed_mode_wrong_length_block_counts_blocks(tape):
    tape.write(b"z" * 100)  # a variable record in the way
    set_block_size(tape, 512)
    tape.rewind()
    sense, _ = tape.check(tape.read_cdb(3, fixed=True), data_in_len=1536)
    assert (sense.ili, sense.information) == (True, 3)


def test_fixed_transfer_without_block_size_is_illegal(tape):
    sense, _ = tape.check(tape.write_cdb(1, fixed=True), b"x" * 512)
    assert sense.triple == (ILLEGAL, 0x24, 0)


def test_fixed_and_sili_together_is_illegal(tape):
    set_block_size(tape, 512)
    sense, _ = tape.check(bytes([0x08, 0x03, 0, 0, 1, 0]), data_in_len=512)
    assert sense.triple == (ILLEGAL, 0x24, 0)


def test_zero_length_transfers_do_nothing(tape):
    tape.ok(tape.write_cdb(0))
    tape.ok(tape.read_cdb(0))
    assert tape.position() == 0


def test_writing_mid_tape_discards_what_followed(tape):
    for i in range(4):
        tape.write(bytes([i]) * 10)
    tape.ok(tape.locate_cdb(2))
    tape.write(b"N" * 5)
    assert tape.drive.cartridge.medium.count == 3
    tape.ok(tape.locate_cdb(2))
    assert tape.read(5) == b"N" * 5
    sense, _ = tape.check(tape.read_cdb(10), data_in_len=10)
    assert sense.triple == (BLANK, 0, 5)


def test_early_warning_then_volume_overflow(tape):
    record = 64 * 1024
    writes = 0
    while True:
        result = tape.run(tape.write_cdb(record), b"e" * record)
        writes += 1
        if result.status:
            break
    from tests.hwsim.conftest import decode_fixed

    sense = decode_fixed(result.sense)
    # 4 MiB tape, early warning 256 KiB before the end
    assert (sense.triple, sense.eom, sense.information) == ((NO_SENSE, 0, 2), True, 0)
    assert tape.drive.cartridge.medium.data_end > 4 * 1024 * 1024 - 256 * 1024
    while True:
        sense, _ = tape.check(tape.write_cdb(record), b"e" * record)
        if sense.key == OVERFLOW:
            break
        assert (sense.triple, sense.eom) == ((NO_SENSE, 0, 2), True)
    assert (sense.triple, sense.eom, sense.information) == ((OVERFLOW, 0, 2), True, record)
    assert tape.drive.cartridge.medium.data_end == 4 * 1024 * 1024


def test_volume_overflow_fixed_mode_counts_unwritten_blocks(tape, make_cartridge):
    drive = tape.drive
    tape.ok(bytes([0x1B, 0, 0, 0, 0, 0]))
    drive.take()
    drive.insert(make_cartridge("000002L8", capacity=4096, early_warning_bytes=0))
    tape.settle()
    set_block_size(tape, 1024)
    sense, _ = tape.check(tape.write_cdb(6, fixed=True), b"f" * 6144)
    assert (sense.triple, sense.eom, sense.information) == ((OVERFLOW, 0, 2), True, 2)
    assert drive.cartridge.medium.count == 4


def test_write_filemarks_zero_flushes(tape):
    tape.write(b"b" * 100)
    medium = tape.drive.cartridge.medium
    assert medium.buffered_objects == 1
    tape.wfm(0)
    assert medium.buffered_objects == 0 and medium.count == 1


def test_buffer_full_flushes(tape):
    medium = tape.drive.cartridge.medium
    for _ in range(3):
        tape.write(b"q" * 30_000)  # 64 KiB buffer: the third one overfills it
    assert medium.buffered_objects == 0 and medium.flushed == 3


def test_write_protected_refuses_write_filemarks_and_erase(tape, make_cartridge):
    drive = tape.drive
    tape.ok(bytes([0x1B, 0, 0, 0, 0, 0]))
    drive.take()
    drive.insert(make_cartridge("000003L8", write_protected=True))
    tape.settle()
    for cdb, data in (
        (tape.write_cdb(4), b"abcd"),
        (tape.wfm_cdb(1), None),
        (bytes([0x19, 0, 0, 0, 0, 0]), None),
    ):
        sense, _ = tape.check(cdb, data)
        assert sense.triple == (DATA_PROTECT, 0x27, 0)
    mode = tape.ok(bytes([0x1A, 0, 0x3F, 0, 255, 0]), data_in_len=255)
    assert mode[2] & 0x80


def test_worm_appends_but_refuses_overwrite(tape, make_cartridge):
    drive = tape.drive
    tape.ok(bytes([0x1B, 0, 0, 0, 0, 0]))
    drive.take()
    drive.insert(make_cartridge("000004LY"))
    tape.settle()
    tape.write(b"w" * 10)
    tape.wfm(1)
    tape.write(b"v" * 10)  # after a filemark: an append
    tape.rewind()
    sense, _ = tape.check(tape.write_cdb(4), b"over")
    assert sense.triple == (DATA_PROTECT, 0x30, 0x0C)
    sense, _ = tape.check(bytes([0x19, 0, 0, 0, 0, 0]))
    assert sense.triple == (DATA_PROTECT, 0x30, 0x0C)
    mode = tape.ok(bytes([0x1A, 0, 0x3F, 0, 255, 0]), data_in_len=255)
    assert mode[1] == 0x01  # medium type WORM
    assert 0x3B in drive.tapealert.active()


def test_worm_may_rewrite_trailing_filemarks(tape, make_cartridge):
    drive = tape.drive
    tape.ok(bytes([0x1B, 0, 0, 0, 0, 0]))
    drive.take()
    drive.insert(make_cartridge("000005LY"))
    tape.settle()
    tape.write(b"w" * 10)
    tape.wfm(2)
    tape.ok(tape.locate_cdb(1))
    tape.write(b"more")
    assert drive.cartridge.medium.count == 2


def test_erase_sets_end_of_data_at_position(tape):
    for i in range(3):
        tape.write(bytes([i]) * 10)
    tape.ok(tape.locate_cdb(1))
    tape.ok(bytes([0x19, 1, 0, 0, 0, 0]))  # long erase
    tape.rewind()
    tape.read(10)
    sense, _ = tape.check(tape.read_cdb(10), data_in_len=10)
    assert sense.triple == (BLANK, 0, 5)


def test_write_medium_error_at_block(tape, faults):
    faults.arm(Fault("medium_error", "000001L8", at_block=2, op="write"))
    tape.write(b"a" * 10)
    tape.write(b"b" * 10)
    sense, _ = tape.check(tape.write_cdb(10), b"c" * 10)
    assert (sense.triple, sense.information) == ((MEDIUM_ERROR, 0x0C, 0), 10)
    assert tape.position() == 2
    tape.write(b"c" * 10)  # transient: the retry works
    assert 0x06 in tape.drive.tapealert.active()


def test_fixed_write_of_several_blocks_stops_at_a_medium_error_with_the_residue(tape, faults):
    """One WRITE of four blocks with a bad third one: the two before it are on the medium,
    whole and in order, INFORMATION counts the blocks not written (SSC-4 4.2.x)."""
    set_block_size(tape, 512)
    faults.arm(Fault("medium_error", "000001L8", at_block=2, op="write"))
    data = b"".join(bytes([65 + i]) * 512 for i in range(4))
    sense, _ = tape.check(tape.write_cdb(4, fixed=True), data)
    assert (sense.triple, sense.information) == ((MEDIUM_ERROR, 0x0C, 0), 2)
    medium = tape.drive.cartridge.medium
    assert tape.position() == 2 and medium.count == 2
    tape.rewind()
    assert tape.ok(tape.read_cdb(2, fixed=True), data_in_len=1024) == data[:1024]


def test_power_loss_inside_a_fixed_write_keeps_the_blocks_flushed_before_it(tape, faults):
    """Blocks of one WRITE ahead of the block where power fails reached the drive's buffer
    and are lost with it unless flushed: the 64 KiB buffer overflowed at the third block of
    32 KiB, so three are on the tape; the one at the fault never reached it."""
    set_block_size(tape, 32 * 1024)
    faults.arm(Fault("power_loss", "drive0", at_block=3))
    data = b"".join(bytes([65 + i]) * 32 * 1024 for i in range(5))
    with pytest.raises(DeviceUnreachable, match="power lost"):
        tape.run(tape.write_cdb(5, fixed=True), data)
    medium = tape.drive.cartridge.medium
    assert medium.count == medium.flushed == 3
    assert os.pread(medium.fd, 32 * 1024, 2 * 32 * 1024) == bytes([67]) * 32 * 1024


def test_read_medium_error_persistent_and_transient(tape, faults):
    for i in range(3):
        tape.write(bytes([i]) * 10)
    faults.arm(Fault("medium_error", "000001L8", at_block=1, op="read", times=2))
    tape.rewind()
    tape.read(10)
    for _ in range(2):
        sense, _ = tape.check(tape.read_cdb(10), data_in_len=10)
        assert (sense.triple, sense.information) == ((MEDIUM_ERROR, 0x11, 0), 10)
    assert tape.read(10) == bytes([1]) * 10
    assert 0x05 in tape.drive.tapealert.active()


def test_short_data_out_is_rejected(tape):
    sense, _ = tape.check(tape.write_cdb(100), b"short")
    assert sense.key == ILLEGAL


def test_oversized_variable_block_is_illegal(tape):
    sense, _ = tape.check(bytes([0x0A, 0, 0xFF, 0xFF, 0xFF, 0]), b"")
    assert sense.triple == (ILLEGAL, 0x24, 0)
    assert (
        struct.unpack(">H", tape.drive.execute(bytes([0x0A, 0, 0xFF, 0xFF, 0xFF, 0])).sense[16:18])[
            0
        ]
        == 2
    )


def test_fixed_read_into_the_initiators_buffer(tape):
    """A multi-block READ given a buffer (``data_in``) transfers into it: the data is a view of
    that buffer, also for the blocks before a filemark; the bytes past them stay untouched."""
    set_block_size(tape, 512)
    tape.ok(tape.write_cdb(3, fixed=True), bytes(range(256)) * 6)
    tape.wfm(1)
    tape.rewind()
    drive = tape.drive
    buffer = memoryview(bytearray(b"#" * 4096))
    got = drive.execute(tape.read_cdb(2, fixed=True), None, 1024, buffer)
    assert got.status == 0 and isinstance(got.data, memoryview) and got.data.obj is buffer.obj
    assert bytes(got.data) == bytes(range(256)) * 4 and bytes(buffer[1024:]) == b"#" * 3072
    buffer[:] = b"#" * 4096
    got = drive.execute(tape.read_cdb(4, fixed=True), None, 2048, buffer)
    assert got.status == 2 and got.data.obj is buffer.obj  # CHECK CONDITION: filemark
    assert bytes(got.data) == bytes(range(256)) * 2 and bytes(buffer[512:]) == b"#" * 3584


def test_a_command_larger_than_the_host_adapter_takes_fails_before_the_drive(tape, via):
    """``max_transfer`` (per drive in the library file) is the simulated host adapter's: the
    in-process transport refuses a larger command as the kernel's SG_IO does, and says so;
    the daemon's socket has no such limit."""
    set_block_size(tape, 512)
    tape.drive.max_transfer = 1024
    if via == "daemon":
        tape.ok(tape.write_cdb(4, fixed=True), b"x" * 2048)
        assert tape.transport.max_transfer is None
        return
    assert tape.transport.max_transfer == 1024
    with pytest.raises(TransportError, match="2048 bytes is more than the host adapter takes"):
        tape.run(tape.write_cdb(4, fixed=True), b"x" * 2048)
    assert tape.position() == 0, "nothing reached the drive"
    tape.ok(tape.write_cdb(2, fixed=True), b"x" * 1024)
