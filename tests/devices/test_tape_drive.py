"""TapeDrive against hwsim drives (mounted through TapeLibrary or moved in by hand), in-process
and through the daemon: records, filemarks, end of data, label, early warning, block modes,
write protect, WORM, unit attentions, power loss, TapeAlert actions and media error rules."""

from __future__ import annotations

import pytest

from devices.errors import DriveNotReady, DriveReset, LabelOverwriteRefused
from devices.events import (
    EarlyWarning,
    EndOfData,
    FilemarkRead,
    Labeled,
    MediaErrorRecorded,
    MediumChanged,
    PowerOnReset,
    TapeAlertRaised,
)
from devices.label import OverwriteRefused, StartKind, new_label
from devices.media import ErrorKind, MediaState
from devices.tape_append import close_cut_file
from devices.tape_drive import RecordKind, TapeDrive
from devices.tape_library import TapeLibrary
from devices.tapealert_actions import AlertAction, actions_for
from drivers.errors import DataProtect, MediumError, VolumeOverflow
from drivers.smc import SmcDriver
from drivers.transport.contract import TransportError
from hwsim.config import CHANGER_NAME
from hwsim.faults import Fault
from tests.devices.conftest import KIB, POOL, Events, record, transport_to
from tests.hwsim.conftest import FakeClock
from tests.hwsim.smc_util import drive, slot

RECORD = 64 * KIB


def test_records_filemarks_and_end_of_data(library: TapeLibrary, events: Events) -> None:
    tape = library.mount("TST001L8", "drive0")
    for i in range(3):
        tape.write_record(record(RECORD, i))
    tape.write_filemarks()
    tape.write_record(record(1000, 7))
    tape.write_filemarks()
    assert tape.position() == 6
    tape.rewind()
    got = [tape.read_record(RECORD) for _ in range(7)]
    assert [r.kind for r in got] == [RecordKind.DATA] * 3 + [
        RecordKind.FILEMARK,
        RecordKind.DATA,
        RecordKind.FILEMARK,
        RecordKind.END_OF_DATA,
    ]
    assert got[1].data == record(RECORD, 1) and got[4].data == record(1000, 7)
    assert not any(r.truncated for r in got)
    assert (len(events.of(FilemarkRead)), len(events.of(EndOfData))) == (2, 1)
    tape.locate(4)
    assert tape.read_record(RECORD).data == record(1000, 7)
    short = tape.read_record(10)  # the filemark, then nothing else is shortened
    assert short.kind is RecordKind.FILEMARK
    tape.locate(0)
    truncated = tape.read_record(100)
    assert (truncated.truncated, truncated.data) == (True, record(RECORD, 0)[:100])
    tape.space_to_end_of_data()
    assert tape.position() == 6


def test_label_read_refuse_overwrite_and_force(library: TapeLibrary, store, events) -> None:
    tape = library.mount("TST001L8", "drive0")
    assert tape.read_label().kind is StartKind.BLANK
    first = new_label("TST001L8", "offsite", "LTO-8", host="h1")
    tape.write_label(first)
    start = tape.read_label()
    assert (start.kind, start.label) == (StartKind.TAPIR, first)
    assert tape.position() == 0  # left rewound
    medium = store.get_medium("TST001L8")
    assert (medium.pool, medium.volume_uuid, medium.state) == ("offsite", first.uuid, "scratch")

    second = new_label("TST001L8", POOL, "LTO-8", host="h2")
    with pytest.raises(LabelOverwriteRefused) as refused:
        tape.write_label(second)
    assert isinstance(refused.value, OverwriteRefused)
    assert refused.value.sentence.startswith("drive0: Volume TST001L8 is labeled TST001L8")
    assert "--force" in refused.value.sentence
    assert tape.read_label().label == first

    tape.write_label(second, force=True)
    assert tape.read_label().label == second
    assert [e.forced for e in events.of(Labeled)] == [False, True]
    assert store.get_medium("TST001L8").volume_uuid == second.uuid


def test_early_warning_event_on_a_small_cartridge(library: TapeLibrary, events: Events) -> None:
    tape = library.mount("EWT001L8")  # 2 MiB, early warning after 1 MiB
    written = 0
    while not tape.early_warning:
        tape.write_record(record(RECORD, written))
        written += 1
        assert written <= 20, "no early warning after 1.25 MiB"
    assert written == 17  # the record that crossed 1 MiB was written, and reported
    assert tape.position() == written
    assert [(e.device, e.barcode) for e in events.of(EarlyWarning)] == [("drive0", "EWT001L8")]
    with pytest.raises(VolumeOverflow) as full:
        for _ in range(20):
            tape.write_record(record(RECORD))
    assert full.value.sense.code == "00/02"
    assert len(events.of(EarlyWarning)) == 1  # once per mount
    assert tape.position() == 32  # 2 MiB / 64 KiB: the refused record is not on tape


def test_fixed_block_mode_and_compression(library: TapeLibrary) -> None:
    tape = library.mount("TST001L8")
    tape.set_block_size(1024)
    tape.write_record(record(4096, 3))
    assert tape.position() == 4
    assert tape.status().block_size == 1024
    tape.rewind()
    assert tape.read_record(2048).data == record(4096, 3)[:2048]
    assert tape.position() == 2
    tape.set_block_size(0)
    tape.set_compression(False)
    assert tape.driver.compression().enabled is False
    tape.set_compression(True)
    assert tape.driver.compression().enabled is True


def test_write_protected_cartridge(library: TapeLibrary, events: Events) -> None:
    tape = library.mount("WPT001L8")
    mounted_alerts = events.of(TapeAlertRaised)[-1]
    assert mounted_alerts.actions[0].action is AlertAction.MEDIA_SUSPECT
    assert mounted_alerts.actions[0].names == ("Write protect",)
    with pytest.raises(DataProtect) as refused:
        tape.write_record(record(RECORD))
    assert refused.value.sense.code == "27/00"
    assert "write-protected" in refused.value.sentence
    assert "Write protect" in tape.status().tapealerts
    assert tape.read_label().kind is StartKind.BLANK  # reading is fine


def test_worm_cartridge_refuses_overwrite(library: TapeLibrary, events: Events) -> None:
    tape = library.mount("WRM001LY")
    label = new_label("WRM001LY", POOL, "LTO-8 WORM")
    tape.write_label(label)
    tape.write_record(record(RECORD))  # appending is allowed
    tape.write_filemarks()
    with pytest.raises(DataProtect) as refused:
        tape.write_label(new_label("WRM001LY", POOL, "LTO-8 WORM"), force=True)
    assert refused.value.sense.code == "30/0C"
    alert = events.of(TapeAlertRaised)[-1]  # read after the error
    assert alert.flags == (0x3B,)
    assert alert.actions[0].action is AlertAction.MEDIA_SUSPECT
    assert tape.read_label().label == label


def test_unit_attentions_on_a_drive_loaded_by_hand(devlib, via, events: Events) -> None:
    changer = SmcDriver(transport_to(devlib, CHANGER_NAME, via))
    changer.drain_unit_attentions()
    changer.move_medium(slot(2), drive(1))
    tape = TapeDrive("drive1", transport_to(devlib, "drive1", via), events=events.append)
    tape.wait_ready()
    assert [type(e) for e in events] == [PowerOnReset, MediumChanged]
    state = tape.status()
    assert (state.ready, state.barcode, state.serial, state.position) == (
        True,
        "TST002L8",  # from cartridge memory (MAM 0x0806)
        "DRV0000002",
        0,
    )
    assert state.error is None


def test_wait_ready_waits_out_becoming_ready(devlib, via, events: Events) -> None:
    clock = FakeClock()
    sim = devlib.drives["drive0"]
    sim.clock, sim.load_delay_s = clock, 30.0
    changer = SmcDriver(transport_to(devlib, CHANGER_NAME, via))
    changer.drain_unit_attentions()
    changer.move_medium(slot(1), drive(0))
    transport = transport_to(devlib, "drive0", via)
    impatient = TapeDrive("drive0", transport, sleep=clock.advance, ready_polls=2, ready_delay_s=10)
    with pytest.raises(DriveNotReady) as late:
        impatient.wait_ready()
    assert "did not become ready after 2 checks" in late.value.sentence
    assert "04/01" in late.value.sentence
    tape = TapeDrive("drive0", transport, sleep=clock.advance, ready_delay_s=10)
    tape.wait_ready()
    assert clock.now >= 1030.0


def test_power_loss_while_writing_makes_the_medium_suspect(
    library: TapeLibrary, devlib, store, events: Events
) -> None:
    tape = library.mount("TST001L8", "drive0")
    devlib.faults.arm(Fault("power_loss", "drive0", at_block=3))
    with pytest.raises(TransportError):
        for i in range(5):
            tape.write_record(record(RECORD, i))
    devlib.power_on("drive0")
    assert tape.position() == 0  # the reset is consumed; the drive is back at BOT
    assert [e.while_writing for e in events.of(PowerOnReset)][-1] is True
    medium = store.get_medium("TST001L8")
    assert medium.state is MediaState.SUSPECT
    assert "Power lost while writing in drive drive0" in medium.state_reason
    assert [e.kind for e in store.list_errors(barcode="TST001L8")] == [ErrorKind.POWER_LOSS]


def test_reset_while_reading_raises_drive_reset(library: TapeLibrary, devlib, store) -> None:
    tape = library.mount("TST001L8", "drive0")
    tape.write_record(record(RECORD))
    tape.rewind()  # ends the write session
    devlib.power_off("drive0")
    devlib.power_on("drive0")
    with pytest.raises(DriveReset) as reset:
        tape.read_record(RECORD)
    assert reset.value.sentence.startswith("drive0 was powered on or reset")
    assert "rewind or locate" in reset.value.sentence
    assert store.get_medium("TST001L8").state is MediaState.SCRATCH
    assert tape.read_record(RECORD).data == record(RECORD)  # at BOT again


def test_freeze_after_three_media_errors(library: TapeLibrary, devlib, store, events) -> None:
    tape = library.mount("TST001L8", "drive0")
    tape.write_record(record(RECORD))
    tape.rewind()
    devlib.faults.arm(Fault("medium_error", "TST001L8", at_block=0, op="read", times=None))
    for attempt in range(3):
        assert store.get_medium("TST001L8").state is MediaState.SCRATCH, attempt
        with pytest.raises(MediumError) as failed:
            tape.read_record(RECORD)
        assert failed.value.sense.code == "11/00"
    medium = store.get_medium("TST001L8")
    assert medium.state is MediaState.FROZEN
    assert (
        "3 errors within 24 h; last: read error in drive drive0 at block 0" in medium.state_reason
    )
    recorded = events.of(MediaErrorRecorded)
    assert [e.change is not None for e in recorded] == [False, False, True]
    assert events.of(TapeAlertRaised)[-1].actions[0].names == ("Read failure",)


def test_tapealert_flags_become_actions() -> None:
    actions = actions_for({0x01, 0x04, 0x14, 0x16, 0x1E, 0x10})
    assert [(a.action, a.flags, a.names) for a in actions] == [
        (AlertAction.CLEAN_NOW, (0x14,), ("Clean now",)),
        (AlertAction.MEDIA_SUSPECT, (0x04, 0x10), ("Media", "Forced eject")),
        (AlertAction.DRIVE_FAILURE, (0x1E,), ("Hardware A",)),
        (AlertAction.REPLACE_CLEANING_MEDIA, (0x16,), ("Expired cleaning media",)),
    ]
    assert actions_for({0x01, 0x02, 0x0B}) == []  # warnings and "cleaning media" only inform
    assert actions_for({0x15})[0].describe() == "clean-periodic: Clean periodic (15h)"


def test_status_of_a_powered_off_drive_names_it(library: TapeLibrary, devlib) -> None:
    devlib.power_off("drive1")
    state = library.drives["drive1"].status()
    assert not state.ready
    assert state.error is not None and "drive1" in state.error
    assert "powered on" in state.error


def test_a_tape_file_cut_without_a_filemark_is_closed_before_appending(
    library: TapeLibrary,
) -> None:
    tape = library.mount("TST001L8", "drive0")
    tape.set_block_size(0)
    tape.write_record(record(RECORD, 0))
    tape.write_filemarks(1)  # a complete tape file
    tape.space_to_end_of_data()
    assert close_cut_file(tape) is False  # ends with a filemark: nothing to do
    tape.write_record(record(RECORD, 1))
    tape.write_record(record(RECORD, 2))
    tape.flush()  # a session cut here (the writing host died): no filemark
    tape.rewind()
    tape.space_to_end_of_data()
    assert close_cut_file(tape) is True
    end = tape.position()
    tape.space_to_end_of_data()
    assert tape.position() == end == 5  # 0 rec, 1 fm, 2-3 rec, 4 fm: appends go to 5
    assert close_cut_file(tape) is False
