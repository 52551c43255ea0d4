"""Every drive condition of hwsim (issue 2) as SscDriver reports it: a typed result for
normal tape behaviour, the exception of drivers/errors.py for the rest."""

from __future__ import annotations

import pytest

from drivers.errors import (
    DataProtect,
    IllegalRequest,
    MediumError,
    NotReady,
    UnitAttention,
    VolumeOverflow,
)
from drivers.ssc import SscDriver
from drivers.ssc_data import ReadKind
from drivers.tapealert import TapeAlertFlag
from drivers.transport.contract import DeviceUnreachable
from hwsim.faults import Fault
from tests.hwsim.conftest import TEST_CAPACITY, TEST_EARLY_WARNING, Tape

KIB = 1024
RECORD = 64 * KIB


def _swap(tape: Tape, ssc: SscDriver, cartridge) -> None:
    ssc.unload()
    tape.drive.take()
    tape.drive.insert(cartridge)
    assert [s.code for s in ssc.drain_unit_attentions()] == ["28/00"]


def test_no_medium_and_power_on_attention(empty_tape: Tape) -> None:
    ssc = SscDriver(empty_tape.transport)
    with pytest.raises(UnitAttention) as err:
        ssc.test_unit_ready()
    assert err.value.sense.code == "29/00"
    with pytest.raises(NotReady) as err:
        ssc.test_unit_ready()
    assert err.value.sense.code == "3A/00"
    assert "Load a cartridge" in str(err.value)
    assert ssc.drain_unit_attentions() == []  # stops at NOT READY


def test_becoming_ready_then_medium_changed(make_drive, make_cartridge, clock, via) -> None:
    drive = make_drive(load_delay_s=15.0)
    ssc = SscDriver(Tape(drive, None, clock, via).transport)
    assert [s.code for s in ssc.drain_unit_attentions()] == ["29/00"]
    drive.insert(make_cartridge())
    with pytest.raises(NotReady) as err:
        ssc.test_unit_ready()
    assert (err.value.sense.code, err.value.transient) == ("04/01", True)
    clock.advance(20)
    with pytest.raises(UnitAttention) as err:
        ssc.test_unit_ready()
    assert err.value.sense.code == "28/00"
    ssc.test_unit_ready()


def test_ili_residue_both_signs_and_sili(ssc: SscDriver) -> None:
    ssc.write(b"r" * 1000)
    ssc.write(b"s" * 1000)
    ssc.write(b"t" * 1000)
    ssc.rewind()
    short = ssc.read(4000)  # record shorter than asked: positive residue
    assert (short.kind, short.ili, short.residue, short.record_length, short.data) == (
        ReadKind.DATA,
        True,
        3000,
        1000,
        b"r" * 1000,
    )
    long = ssc.read(600)  # record longer than asked: negative residue, data cut
    assert (long.ili, long.residue, long.record_length, long.overlength) == (True, -400, 1000, True)
    assert long.data == b"s" * 600
    quiet = ssc.read(4000, sili=True)
    assert (quiet.ili, quiet.residue, quiet.data) == (False, 0, b"t" * 1000)


def test_filemark_and_end_of_data(ssc: SscDriver) -> None:
    ssc.write_filemarks(1)
    ssc.rewind()
    mark = ssc.read(100)
    assert (mark.kind, mark.residue) == (ReadKind.FILEMARK, 100)
    end = ssc.read(100)
    assert (end.kind, end.residue, end.data) == (ReadKind.END_OF_DATA, 100, b"")


def test_early_warning_then_volume_overflow(ssc: SscDriver) -> None:
    results = []
    while not results or not results[-1].early_warning:
        results.append(ssc.write(b"e" * RECORD))
        assert len(results) * RECORD <= TEST_CAPACITY
    assert results[-1].residue == 0
    assert len(results) * RECORD > TEST_CAPACITY - TEST_EARLY_WARNING
    assert ssc.position().early_warning
    with pytest.raises(VolumeOverflow) as err:
        while True:
            ssc.write(b"e" * RECORD)
    sense = err.value.sense
    assert (sense.code, sense.eom, sense.information) == ("00/02", True, RECORD)
    assert "another cartridge" in str(err.value)


def test_write_protected_cartridge(ssc: SscDriver, tape: Tape, make_cartridge) -> None:
    _swap(tape, ssc, make_cartridge("000002L8", write_protected=True))
    assert ssc.mode().write_protected
    with pytest.raises(DataProtect) as err:
        ssc.write(b"no")
    assert err.value.sense.code == "27/00"
    assert TapeAlertFlag.WRITE_PROTECT in ssc.tapealerts()


def test_worm_refuses_overwrite(ssc: SscDriver, tape: Tape, make_cartridge) -> None:
    _swap(tape, ssc, make_cartridge("000004LY"))
    assert ssc.mode().worm
    ssc.write(b"w" * 10)
    ssc.write_filemarks(1)
    ssc.rewind()
    with pytest.raises(DataProtect) as err:
        ssc.write(b"over")
    assert err.value.sense.code == "30/0C"
    assert "WORM" in str(err.value)
    alerts = ssc.tapealerts()
    assert TapeAlertFlag.WORM_MEDIUM_OVERWRITE_ATTEMPTED in alerts
    assert "WORM medium overwrite attempted" in alerts.names()


def test_cleaning_cartridge_loaded(ssc: SscDriver, tape: Tape, make_cartridge) -> None:
    ssc.unload()
    tape.drive.take()
    tape.drive.insert(make_cartridge("CLN001CU", cleaning_uses=5))
    with pytest.raises(NotReady) as err:
        ssc.test_unit_ready()
    assert err.value.sense.code == "30/03"
    assert TapeAlertFlag.CLEANING_MEDIA in ssc.tapealerts()


def test_cleaning_requested_rides_on_a_good_command(ssc: SscDriver, faults) -> None:
    faults.arm(Fault("cleaning_required", "drive0", after_bytes=100))
    first = ssc.write(b"c" * 200)  # the fault fires during this write
    second = ssc.write(b"d" * 10)
    assert first.cleaning_requested or second.cleaning_requested
    assert ssc.cleaning_requested
    sense = ssc.request_sense()
    assert sense is not None and sense.code == "00/17"
    assert TapeAlertFlag.CLEAN_NOW in ssc.tapealerts()
    assert ssc.sequential_access_counters().cleaning_required


def test_medium_errors_read_and_write(ssc: SscDriver, faults) -> None:
    faults.arm(Fault("medium_error", "000001L8", at_block=1, op="write"))
    ssc.write(b"a" * 10)
    with pytest.raises(MediumError) as err:
        ssc.write(b"b" * 10)
    assert (err.value.sense.code, err.value.sense.information) == ("0C/00", 10)
    ssc.write(b"b" * 10)  # the fault is spent
    ssc.write_filemarks(0)
    faults.arm(Fault("medium_error", "000001L8", at_block=0, op="read"))
    ssc.rewind()
    with pytest.raises(MediumError) as err:
        ssc.read(10)
    assert err.value.sense.code == "11/00"
    assert TapeAlertFlag.READ_FAILURE in ssc.tapealerts()


def test_power_loss_end_of_data_not_found(ssc: SscDriver, tape: Tape) -> None:
    ssc.write(b"a" * 100)
    ssc.flush()
    ssc.write(b"b" * 100)  # buffered only
    tape.drive.power_off()
    with pytest.raises(DeviceUnreachable):
        ssc.test_unit_ready()
    tape.drive.power_on()
    with pytest.raises(UnitAttention) as err:
        ssc.test_unit_ready()
    assert err.value.sense.code == "29/00"
    assert ssc.read(100).data == b"a" * 100
    with pytest.raises(MediumError) as err:
        ssc.read(100)
    assert err.value.sense.code == "14/03"
    assert "rewrite it from the beginning" in str(err.value)


def test_invalid_opcode_and_field(ssc: SscDriver) -> None:
    with pytest.raises(IllegalRequest) as err:
        ssc.command(bytes([0xFF, 0, 0, 0, 0, 0]))
    assert err.value.sense.code == "20/00"
    with pytest.raises(IllegalRequest) as err:
        ssc.read_fixed(1, 512)  # FIXED=1 while in variable-block mode
    fp = err.value.sense.field_pointer
    assert (err.value.sense.code, fp.byte, fp.bit, fp.in_cdb) == ("24/00", 1, 0, True)
    assert "READ(6)" in str(err.value)
