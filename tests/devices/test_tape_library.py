"""TapeLibrary against the hwsim library of tests/devices/conftest.py, in-process and through
the daemon: drive mapping, inventory, mount/unmount, import/export, unit attentions, door,
robot retries, stuck cartridges, cleaning, and the drive-down rule."""

from __future__ import annotations

import json

import pytest

from devices.errors import (
    CartridgeStuck,
    CleaningMediaExpired,
    DoorOpen,
    DriveDown,
    DriveEmpty,
    DriveOccupied,
    LibraryConfigError,
    MediumInUse,
    MediumNotInLibrary,
    NoCleaningCartridge,
    NoFreeDrive,
    RobotFailure,
    UnknownDrive,
)
from devices.events import (
    ChangerAttention,
    Cleaned,
    CleaningMediaRejected,
    CleaningRequested,
    DriveMarkedDown,
    InventoryRefreshed,
    MediumChanged,
    Mounted,
    PowerOnReset,
    RobotRetry,
    Unmounted,
)
from devices.library_inventory import ElementKind
from devices.media import MediaState
from devices.tape_library import TapeLibrary
from drivers.errors import MediumError
from drivers.transport.hwsim_local import HwsimLocalTransport
from hwsim.config import CHANGER_NAME
from hwsim.device import Identity
from hwsim.faults import Fault, FaultPlan
from hwsim.models import model_by_name
from hwsim.ssc import SimTapeDrive
from tests.devices.conftest import KIB, RETRY_DELAY_S, Events, record, transport_to
from tests.hwsim.smc_util import drive, ie, slot


def test_inventory_maps_drives_by_serial(library: TapeLibrary, events: Events) -> None:
    inv = library.inventory()
    assert [(e.number, e.address, e.drive, e.full) for e in inv.drives] == [
        (0, drive(0), "drive0", False),
        (1, drive(1), "drive1", False),
    ]
    assert inv.drives[1].identifier is not None and inv.drives[1].identifier.endswith("DRV0000002")
    assert [e.number for e in inv.slots] == list(range(1, 11))
    assert inv.find("TST002L8") == inv.at(slot(2))
    assert inv.find("CLN001CU").cleaning and inv.find("WRM001LY").worm
    assert inv.barcodes() == [
        *("CLN001CU", "EWT001L8", "TST001L8", "TST002L8", "TST003L8", "TST004L8"),
        *("WPT001L8", "WRM001LY"),
    ]
    assert [e.address for e in inv.free_slots()] == [slot(5), slot(10)]
    assert json.loads(json.dumps(inv.to_dict()))["drives"][0]["drive"] == "drive0"
    assert [e.asc for e in events.of(ChangerAttention)] == [0x29]  # power-on reset consumed
    assert library.inventory() is inv  # cached: nothing changed
    assert library.inventory(refresh=True) is not inv


def test_a_drive_that_is_not_in_the_library_is_a_clear_error(devlib, via) -> None:
    stray = SimTapeDrive(
        "stray", Identity("HWSIM", "ULTRIUM-TD8", "L800", "ELSEWHERE1"), model_by_name("LTO-8"),
        FaultPlan(),
    )  # fmt: skip
    library = TapeLibrary(
        "small",
        transport_to(devlib, CHANGER_NAME, via),
        {"drive0": transport_to(devlib, "drive0", via), "stray": HwsimLocalTransport(stray)},
    )
    with pytest.raises(LibraryConfigError) as wrong:
        library.inventory()
    assert wrong.value.device == "stray"
    assert "drive stray (serial ELSEWHERE1) matches none of the library's" in wrong.value.sentence
    assert "DRV0000001" in wrong.value.sentence


def test_a_powered_off_drive_is_unmapped_until_it_answers(library: TapeLibrary, devlib) -> None:
    devlib.power_off("drive1")
    inv = library.inventory()
    assert (inv.drives[1].drive, inv.drives[1].usable) == (None, False)
    assert inv.drives[1].exception is not None
    assert "powered off" in library.unreachable["drive1"]
    with pytest.raises(UnknownDrive, match="small: drive drive1 cannot be used: "):
        library.mount("TST001L8", "drive1")
    assert library.mount("TST001L8").name == "drive0"
    devlib.power_on("drive1")
    assert library.inventory(refresh=True).drive("drive1").address == drive(1)
    assert library.unreachable == {}


def test_mount_and_unmount_by_barcode(library: TapeLibrary, events: Events) -> None:
    first = library.mount("TST002L8")
    second = library.mount("TST003L8")
    assert (first.name, second.name) == ("drive0", "drive1")
    inv = library.inventory()
    assert (inv.drive("drive0").barcode, inv.drive("drive0").source) == ("TST002L8", slot(2))
    assert library.mount("TST002L8") is first  # already there
    with pytest.raises(MediumInUse, match="TST002L8 is in drive drive0; unmount it first"):
        library.mount("TST002L8", "drive1")
    with pytest.raises(NoFreeDrive, match="no free drive for TST004L8"):
        library.mount("TST004L8")
    with pytest.raises(DriveOccupied, match="drive drive1 holds TST003L8"):
        library.mount("TST004L8", "drive1")
    with pytest.raises(MediumNotInLibrary, match="no cartridge NOPE01L8 in the library"):
        library.mount("NOPE01L8")
    with pytest.raises(MediumInUse, match="CLN001CU is a cleaning cartridge"):
        library.mount("CLN001CU")
    first.write_record(record(KIB))
    library.unmount("drive0")
    assert library.inventory().find("TST002L8").address == slot(2)
    with pytest.raises(DriveEmpty, match="drive drive0 is empty"):
        library.unmount("drive0")
    assert [(e.barcode, e.drive) for e in events.of(Mounted)] == [
        ("TST002L8", "drive0"),
        ("TST003L8", "drive1"),
    ]
    assert [(e.barcode, e.slot) for e in events.of(Unmounted)] == [("TST002L8", slot(2))]
    assert {e.device for e in events.of(PowerOnReset)} == {"drive0", "drive1"}
    assert {e.device for e in events.of(MediumChanged)} == {"drive0", "drive1"}


def test_unmount_goes_to_a_free_slot_when_the_source_is_taken(library: TapeLibrary) -> None:
    library.mount("TST001L8", "drive0")
    library.move(slot(4), slot(1))
    library.unmount("drive0")
    assert library.inventory().find("TST001L8").address == slot(4)


def test_export_and_import(library: TapeLibrary, devlib, events: Events) -> None:
    library.mount("TST004L8", "drive1")
    assert library.export_media("TST004L8") == ie(1)  # unloaded from the drive first
    assert library.export_media("TST003L8") == ie(2)
    inv = library.inventory()
    assert (inv.at(ie(1)).barcode, inv.at(ie(1)).kind) == ("TST004L8", ElementKind.IMPORT_EXPORT)
    assert library.import_media() == []  # exported cartridges are not imported back
    assert devlib.remove_from_ie(1) == "TST004L8"
    devlib.import_cartridge("NEW001L8", ie_slot=1)  # the changer reports 28/01
    assert library.import_media() == ["NEW001L8"]
    assert 0x28 in [e.asc for e in events.of(ChangerAttention)]
    assert library.inventory().find("NEW001L8").kind is ElementKind.SLOT
    assert library.import_media(ie(2)) == ["TST003L8"]


def test_robot_failure_is_retried(library: TapeLibrary, devlib, sleeps, events) -> None:
    library.inventory()
    devlib.faults.arm(Fault("robot_failure", CHANGER_NAME, nth=1))
    tape = library.mount("TST001L8")
    assert tape.status().barcode == "TST001L8"
    assert [e.attempt for e in events.of(RobotRetry)] == [1]
    assert "15/01" in events.of(RobotRetry)[0].detail
    assert sleeps == [RETRY_DELAY_S]


def test_persistent_robot_failure_fails_after_the_retries(
    library: TapeLibrary, devlib, sleeps
) -> None:
    library.inventory()
    fault = devlib.faults.arm(Fault("robot_failure", CHANGER_NAME, nth=1, times=None))
    with pytest.raises(RobotFailure) as failed:
        library.mount("TST001L8")
    assert fault.fired == 4  # the first try and robot_retries=3 retries
    assert sleeps == [RETRY_DELAY_S] * 3
    assert failed.value.sentence.startswith("small: the robot failed 4 times moving TST001L8")
    assert "check the robot" in failed.value.sentence
    devlib.faults.clear()
    assert library.inventory(refresh=True).find("TST001L8").address == slot(1)


def test_stuck_cartridge_names_drive_and_barcode(library: TapeLibrary, devlib) -> None:
    tape = library.mount("TST001L8", "drive0")
    devlib.faults.arm(Fault("stuck_cartridge", "drive0"))
    with pytest.raises(CartridgeStuck) as stuck:  # the drive refuses to unload
        library.unmount("drive0")
    assert stuck.value.sentence == (
        "small: cartridge TST001L8 is stuck in drive drive0 (HARDWARE ERROR: MEDIA LOAD OR "
        "EJECT FAILED (53/00)); free it by hand, then refresh the inventory."
    )
    devlib.faults.clear()
    tape.unload()
    devlib.faults.arm(Fault("stuck_cartridge", "drive0"))
    with pytest.raises(CartridgeStuck, match="TST001L8 is stuck in drive drive0"):  # the robot
        library.unmount("drive0")
    devlib.faults.clear()
    library.unmount("drive0")
    assert library.inventory().find("TST001L8").address == slot(1)


def test_door_open_then_closed_reinventories(library: TapeLibrary, devlib, events) -> None:
    assert library.inventory().find("TST001L8").address == slot(1)
    devlib.open_door()
    with pytest.raises(DoorOpen) as door:
        library.inventory()
    assert door.value.sentence == (
        "small: the library door is open, so checking the library is not possible; close the "
        "door and retry."
    )
    with pytest.raises(DoorOpen):
        library.mount("TST001L8")
    with devlib._locked():  # the operator moves a cartridge by hand while the door is open
        devlib.elements.slot(5).barcode = "TST001L8"
        devlib.elements.slot(1).empty()
    devlib.close_door()
    refreshed = len(events.of(InventoryRefreshed))
    assert library.inventory().find("TST001L8").address == slot(5)  # no refresh asked
    assert len(events.of(InventoryRefreshed)) == refreshed + 1
    assert events.of(ChangerAttention)[-1].asc == 0x28
    assert library.mount("TST001L8").name == "drive0"


def test_cleaning_flow(library: TapeLibrary, devlib, events: Events) -> None:
    devlib.faults.arm(Fault("cleaning_required", "drive0", after_bytes=100 * KIB))
    tape = library.mount("TST001L8", "drive0")
    tape.write_record(record(64 * KIB))
    assert not tape.cleaning_needed
    tape.write_record(record(64 * KIB))  # NO SENSE 00/17 rides on this WRITE
    assert tape.cleaning_needed
    assert [e.device for e in events.of(CleaningRequested)] == ["drive0"]
    library.unmount("drive0")
    library.mount("TST002L8", "drive0")  # cleans first
    assert [(e.drive, e.barcode) for e in events.of(Cleaned)] == [("drive0", "CLN001CU")]
    assert devlib.cartridges["CLN001CU"].cleaning_uses_left == 2
    inv = library.inventory()
    assert (inv.at(slot(6)).barcode, inv.drive("drive0").barcode) == ("CLN001CU", "TST002L8")
    assert not tape.cleaning_needed and not devlib.drives["drive0"].cleaning_needed
    assert tape.status().tapealerts == ()


def test_expired_or_missing_cleaning_cartridge(library: TapeLibrary, devlib, store, events):
    devlib.cartridges["CLN001CU"].cleaning_uses_left = 0
    with pytest.raises(CleaningMediaExpired) as expired:
        library.clean("drive0")
    assert expired.value.sentence == (
        "small: cannot clean drive drive0: every cleaning cartridge is expired (CLN001CU); "
        "replace them."
    )
    assert [e.barcode for e in events.of(CleaningMediaRejected)] == ["CLN001CU"]
    assert library.inventory().find("CLN001CU").address == slot(6)  # put back
    assert store.get_medium("CLN001CU").state is MediaState.RETIRED
    library.export_media("CLN001CU")
    devlib.remove_from_ie(1)
    with pytest.raises(NoCleaningCartridge, match="drive drive0 needs cleaning but the library"):
        library.clean("drive0")
    library.mount("TST001L8", "drive0")
    with pytest.raises(DriveOccupied, match="unmount it first"):
        library.clean("drive0")


def test_drive_down_after_three_tapes_fail_in_it(
    library: TapeLibrary, devlib, store, events: Events
) -> None:
    tapes = ["TST001L8", "TST002L8", "TST003L8"]
    for barcode in tapes:
        devlib.faults.arm(Fault("medium_error", barcode, at_block=0, op="write"))
    for barcode in tapes:
        tape = library.mount(barcode, "drive0")
        with pytest.raises(MediumError):
            tape.write_record(record(KIB))
        library.unmount("drive0")
    status = store.get_drive("drive0")
    assert not status.up
    assert "3 different media failed in it" in status.reason
    assert [e.status for e in events.of(DriveMarkedDown)] == [status]
    assert all(store.get_medium(b).state is MediaState.SCRATCH for b in tapes)  # one error each
    assert library.mount("TST004L8").name == "drive1"  # a drive that is down is skipped
    with pytest.raises(DriveDown, match="drive drive0 is marked down"):
        library.mount("EWT001L8", "drive0")
