"""Cartridge life cycle, unit attentions, cleaning, compatibility, power loss and faults."""

from __future__ import annotations

import json

import pytest

from drivers.transport.contract import DeviceUnreachable
from hwsim.cartridge import Cartridge
from hwsim.faults import Fault
from hwsim.models import model_by_name
from hwsim.ssc import CartridgeStuck, DriveNotUnloaded

NO_SENSE, NOT_READY, MEDIUM_ERROR, HARDWARE, ILLEGAL, UNIT_ATTENTION, DATA_PROTECT = (
    0x0,
    0x2,
    0x3,
    0x4,
    0x5,
    0x6,
    0x7,
)


def test_empty_drive_power_on_then_no_medium(empty_tape):
    sense, _ = empty_tape.check(empty_tape.TUR)
    assert sense.triple == (UNIT_ATTENTION, 0x29, 0)
    sense, _ = empty_tape.check(empty_tape.TUR)
    assert sense.triple == (NOT_READY, 0x3A, 0)
    sense, _ = empty_tape.check(empty_tape.read_cdb(10), data_in_len=10)
    assert sense.triple == (NOT_READY, 0x3A, 0)


def test_insert_becoming_ready_then_medium_changed(make_drive, make_cartridge, clock):
    from tests.hwsim.conftest import Tape

    drive = make_drive(load_delay_s=15.0)
    tape = Tape(drive, None, clock)
    tape.check(tape.TUR)  # power on
    drive.insert(make_cartridge())
    sense, _ = tape.check(tape.TUR)
    assert sense.triple == (NOT_READY, 0x04, 0x01)
    assert not drive.eject_ready()
    clock.advance(15.0)
    sense, _ = tape.check(tape.TUR)
    assert sense.triple == (UNIT_ATTENTION, 0x28, 0)
    tape.ok(tape.TUR)
    assert drive.cartridge.mam.load_count == 1


def test_take_requires_unload(tape):
    with pytest.raises(DriveNotUnloaded):
        tape.drive.take()
    tape.ok(bytes([0x1B, 0, 0, 0, 0, 0]))
    cart = tape.drive.take()
    assert cart.barcode == "000001L8" and tape.drive.cartridge is None
    sense, _ = tape.check(tape.TUR)
    assert sense.triple == (NOT_READY, 0x3A, 0)


def test_take_stuck_cartridge(tape, faults):
    tape.drive.unload()
    faults.arm(Fault("stuck_cartridge", "drive0"))
    with pytest.raises(CartridgeStuck):
        tape.drive.take()


def test_cleaning_cartridge_cleans_and_reports_30_03(tape, faults, make_cartridge):
    faults.arm(Fault("cleaning_required", "drive0", after_bytes=100))
    tape.write(b"a" * 60)
    # crossing 100 bytes: the write completes and carries "cleaning requested"
    sense, _ = tape.check(tape.write_cdb(60), b"a" * 60)
    assert sense.triple == (NO_SENSE, 0x00, 0x17)
    assert tape.drive.cartridge.medium.count == 2
    tape.ok(tape.TUR)  # reported once
    rs = tape.ok(bytes([0x03, 0, 0, 0, 18, 0]), data_in_len=18)
    assert (rs[12], rs[13]) == (0x00, 0x17)
    assert 0x14 in tape.drive.tapealert.active()
    tape.ok(bytes([0x1B, 0, 0, 0, 0, 0]))
    tape.drive.take()
    cleaner = make_cartridge("CLN001L1", cleaning_uses=2)
    tape.drive.insert(cleaner)
    sense, _ = tape.check(tape.TUR)
    assert sense.triple == (NOT_READY, 0x30, 0x03)
    assert tape.drive.eject_ready()
    assert cleaner.cleaning_uses_left == 1
    assert not tape.drive.cleaning_needed
    assert 0x14 not in tape.drive.tapealert.active()
    tape.drive.take()


def test_expired_cleaning_cartridge(tape, make_cartridge):
    tape.drive.unload()
    tape.drive.take()
    tape.drive.insert(make_cartridge("CLN002L1", cleaning_uses=0))
    assert 0x16 in tape.drive.tapealert.active()
    sense, _ = tape.check(tape.TUR)
    assert sense.triple == (NOT_READY, 0x30, 0x03)


def test_unreadable_generation_is_refused(tape, make_cartridge):
    tape.drive.unload()
    tape.drive.take()
    tape.drive.insert(make_cartridge("000006L6"))  # LTO-8 reads L7 and L8 only
    assert tape.drive.eject_ready()
    sense, _ = tape.check(tape.TUR)
    assert sense.triple == (MEDIUM_ERROR, 0x30, 0x00)
    assert 0x0C in tape.drive.tapealert.active()


def test_older_generation_is_read_but_not_written(make_cartridge, make_drive, clock):
    from tests.hwsim.conftest import Tape

    old = make_cartridge("000007L5")
    lto5 = make_drive(model=model_by_name("LTO-5"))
    lto5.insert(old)
    writer = Tape(lto5, None, clock)
    writer.settle()
    writer.write(b"five")
    writer.ok(bytes([0x1B, 0, 0, 0, 0, 0]))
    lto5.take()
    lto7 = make_drive(model=model_by_name("LTO-7"))
    lto7.insert(old)
    reader = Tape(lto7, None, clock)
    reader.settle()
    assert reader.read(4) == b"five"
    reader.rewind()
    sense, _ = reader.check(reader.write_cdb(3), b"new")
    assert sense.triple == (DATA_PROTECT, 0x30, 0x05)
    mode = reader.ok(bytes([0x1A, 0, 0x3F, 0, 255, 0]), data_in_len=255)
    assert mode[2] & 0x80  # reported write protected
    assert 0x11 in lto7.tapealert.active()
    lto9 = make_drive(model=model_by_name("LTO-9"))
    lto9.insert(make_cartridge("000008L7"))
    assert lto9.eject_ready()  # LTO-9 does not read LTO-7


def test_power_loss_drops_buffered_data_and_end_of_data(tape):
    for i in range(3):
        tape.write(bytes([i]) * 100)
    tape.wfm(0)  # blocks 0..2 on tape
    for i in range(3, 6):
        tape.write(bytes([i]) * 100)  # buffered only
    tape.drive.power_off()
    with pytest.raises(DeviceUnreachable):
        tape.run(tape.TUR)
    tape.drive.power_on()
    sense, _ = tape.check(tape.TUR)
    assert sense.triple == (UNIT_ATTENTION, 0x29, 0)
    tape.ok(tape.TUR)
    assert tape.drive.status()["barcode"] == "000001L8"
    assert tape.position() == 0
    assert [tape.read(100) for _ in range(3)] == [bytes([i]) * 100 for i in range(3)]
    sense, _ = tape.check(tape.read_cdb(100), data_in_len=100)
    assert (sense.triple, sense.information) == ((MEDIUM_ERROR, 0x14, 0x03), 100)
    sense, _ = tape.check(tape.write_cdb(4), b"more")  # append at the old end: refused
    assert sense.triple == (MEDIUM_ERROR, 0x14, 0x03)
    tape.ok(tape.locate_cdb(1))
    sense, _ = tape.check(tape.write_cdb(4), b"more")
    assert sense.triple == (MEDIUM_ERROR, 0x14, 0x03)
    sense, _ = tape.check(tape.space_cdb(3, 0))
    assert sense.triple == (MEDIUM_ERROR, 0x14, 0x03)
    tape.rewind()
    tape.write(b"fresh")  # rewriting from BOT gives a valid end of data again
    tape.wfm(1)
    tape.rewind()
    assert tape.read(5) == b"fresh"
    sense, _ = tape.check(tape.read_cdb(5), data_in_len=5)
    assert sense.filemark
    sense, _ = tape.check(tape.read_cdb(5), data_in_len=5)
    assert sense.triple == (0x8, 0, 5)


def test_power_loss_fault_at_block(tape, faults):
    faults.arm(Fault("power_loss", "drive0", at_block=3))
    tape.write(b"a" * 10)
    tape.wfm(0)
    tape.write(b"b" * 10)
    tape.write(b"c" * 10)
    with pytest.raises(DeviceUnreachable):
        tape.run(tape.write_cdb(10), b"d" * 10)
    assert not tape.drive.powered
    tape.drive.power_on()
    tape.settle()
    assert tape.drive.cartridge.medium.count == 1
    assert tape.drive.cartridge.medium.eod_invalid
    assert 0x32 in tape.drive.tapealert.active()


def test_power_loss_with_nothing_buffered_keeps_end_of_data(tape):
    tape.write(b"a" * 10)
    tape.wfm(1)
    tape.drive.power_off()
    tape.drive.power_on()
    tape.settle()
    tape.ok(tape.space_cdb(3, 0))
    tape.write(b"b" * 10)


def test_command_faults(tape, faults):
    faults.arm(Fault("hardware_error", "drive0", nth=1, opcode="READ_POSITION"))
    sense, _ = tape.check(bytes([0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0]), data_in_len=20)
    assert sense.triple == (HARDWARE, 0x44, 0)
    faults.arm(Fault("not_ready", "drive0", nth=1, opcode="TEST_UNIT_READY"))
    sense, _ = tape.check(tape.TUR)
    assert sense.triple == (NOT_READY, 0x04, 0x03)
    faults.arm(Fault("drive_offline", "drive0", nth=1))
    with pytest.raises(DeviceUnreachable):
        tape.run(tape.TUR)


def test_restart_keeps_flushed_data_only(tape, tmp_path, make_drive):
    tape.write(b"kept")
    tape.wfm(1)
    tape.write(b"lost")
    state = tape.drive.to_state()
    cart_state = json.loads(json.dumps(tape.drive.cartridge.to_state()))
    # a new process: rebuild cartridge and drive from state and the tapes directory
    cart = Cartridge.from_state(cart_state, tmp_path / "tapes")
    drive = make_drive()
    drive.restore_state(json.loads(json.dumps(state)), {cart.barcode: cart})
    from tests.hwsim.conftest import Tape

    again = Tape(drive, tmp_path, tape.clock)
    sense, _ = again.check(again.TUR)
    assert sense.triple == (UNIT_ATTENTION, 0x29, 0)
    again.settle()
    assert cart.medium.count == 2
    assert again.read(4) == b"kept"
    sense, _ = again.check(again.read_cdb(4), data_in_len=4)
    assert sense.filemark
    sense, _ = again.check(again.read_cdb(4), data_in_len=4)
    assert sense.triple == (0x8, 0, 5)
    assert cart.mam.load_count == 1
    with pytest.raises(ValueError, match="unknown cartridge"):
        make_drive().restore_state(state, {})


def test_status_is_json(tape):
    tape.write(b"x" * 10)
    status = json.loads(json.dumps(tape.drive.status()))
    assert status["barcode"] == "000001L8"
    assert status["position"] == 1 and status["buffered_bytes"] == 10
    assert {"underruns", "tapealert", "counters", "simulated_time_s", "powered"} <= set(status)
