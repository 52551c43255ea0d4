"""SmcDriver against the small hwsim library (tests/hwsim/smc_util.SMALL_LIBRARY), in-process
and through the daemon: element addresses, the full inventory, moves, and every changer
condition as the driver reports it."""

from __future__ import annotations

import pytest

from drivers.errors import HardwareError, IllegalRequest, NotReady, UnitAttention
from drivers.smc import SmcDriver
from drivers.smc_data import ElementType, MediumType
from drivers.transport.contract import ScsiResult
from hwsim.faults import Fault
from tests.hwsim.smc_util import DRIVE, IE, ROBOT, SLOT, drive, ie, slot


class CountingTransport:
    """A real transport that also records the allocation lengths it was asked for."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.allocations: list[int] = []

    def execute(self, cdb: bytes, **kwargs) -> ScsiResult:
        self.allocations.append(kwargs.get("data_in_len", 0))
        return self.inner.execute(cdb, **kwargs)

    def close(self) -> None:
        self.inner.close()


def test_element_address_assignment(smc: SmcDriver) -> None:
    addresses = smc.element_addresses()
    assert addresses.transport == (ROBOT, 1)
    assert addresses.storage == (SLOT, 6)
    assert addresses.import_export == (IE, 2)
    assert addresses.data_transfer == (DRIVE, 2)
    assert list(addresses.addresses(ElementType.DATA_TRANSFER)) == [drive(0), drive(1)]


def test_full_inventory_of_the_small_library(smc: SmcDriver) -> None:
    inv = smc.inventory()
    assert [e.address for e in inv.transports] == [ROBOT]
    assert [(e.address, e.barcode) for e in inv.slots] == [
        (slot(1), "TST001L8"),
        (slot(2), "TST002L8"),
        (slot(3), "TST003L8"),
        (slot(4), "TST004L8"),
        (slot(5), None),
        (slot(6), "CLN001CU"),
    ]
    assert [e.full for e in inv.slots] == [True, True, True, True, False, True]
    assert inv.at(slot(6)).medium_type == MediumType.CLEANING
    assert inv.at(slot(1)).medium_type == MediumType.DATA
    assert [(e.address, e.full, e.inenab, e.exenab) for e in inv.import_export] == [
        (ie(1), False, True, True),
        (ie(2), False, True, True),
    ]
    drives = inv.drives
    assert [(e.address, e.full, e.access, e.exception) for e in drives] == [
        (drive(0), False, True, None),
        (drive(1), False, True, None),
    ]
    assert [e.identifier_text for e in drives] == [
        "HWSIM   Ultrium 8-SCSI  DRV0000001",
        "HWSIM   Ultrium 8-SCSI  DRV0000002",
    ]
    assert inv.find("TST003L8").address == slot(3)
    assert inv.find("NOPE00L8") is None
    assert len(inv.elements) == 1 + 6 + 2 + 2


def test_allocation_length_is_asked_for_first(changer) -> None:
    counting = CountingTransport(changer)
    smc = SmcDriver(counting)
    report = smc.read_element_status(ElementType.STORAGE)
    assert counting.allocations[0] == 8
    assert counting.allocations[1] == 8 + report.byte_count
    assert len(report.elements) == 6
    plain = smc.read_element_status(ElementType.STORAGE, voltag=False, start=slot(5))
    assert [(e.address, e.barcode, e.full) for e in plain.elements] == [
        (slot(5), None, False),
        (slot(6), None, True),
    ]


def test_move_to_a_drive_and_exchange_back(smc: SmcDriver, library_drive) -> None:
    smc.move_medium(slot(1), drive(0))
    inv = smc.inventory()
    assert (inv.at(drive(0)).barcode, inv.at(drive(0)).source) == ("TST001L8", slot(1))
    assert not inv.at(slot(1)).full
    tape = library_drive("drive0")
    assert [s.code for s in tape.drain_unit_attentions()] == ["29/00", "28/00"]
    tape.unload()
    smc.exchange_medium(drive(0), slot(2), slot(1))  # drive -> slot 2, slot 2's -> slot 1
    inv = smc.inventory()
    assert (inv.at(slot(2)).barcode, inv.at(slot(2)).source) == ("TST001L8", drive(0))
    assert (inv.at(slot(1)).barcode, inv.at(slot(1)).source) == ("TST002L8", slot(2))
    assert not inv.at(drive(0)).full


def test_exchange_medium(smc: SmcDriver) -> None:
    smc.exchange_medium(slot(1), slot(2), slot(5))
    inv = smc.inventory()
    assert inv.at(slot(2)).barcode == "TST001L8"
    assert inv.at(slot(5)).barcode == "TST002L8"
    assert inv.at(slot(5)).source == slot(2)
    assert not inv.at(slot(1)).full


def test_initialize_and_position(smc: SmcDriver) -> None:
    smc.initialize_element_status()
    smc.initialize_element_status_range(slot(1), 6)
    with pytest.raises(IllegalRequest) as err:
        smc.initialize_element_status_range(0x0777, 1)
    assert err.value.sense.code == "21/01"
    smc.position_to_element(slot(3))
    with pytest.raises(IllegalRequest) as err:
        smc.position_to_element(0x0777)
    assert err.value.sense.code == "21/01"
    assert "POSITION TO ELEMENT" in str(err.value)


def test_move_conditions(smc: SmcDriver, library_drive) -> None:
    with pytest.raises(IllegalRequest) as err:
        smc.move_medium(slot(5), slot(1))
    assert err.value.sense.code == "3B/0E"
    with pytest.raises(IllegalRequest) as err:
        smc.move_medium(slot(1), slot(2))
    assert err.value.sense.code == "3B/0D"
    with pytest.raises(IllegalRequest) as err:
        smc.move_medium(0x0777, slot(5))
    assert (err.value.sense.code, err.value.sense.field_pointer.byte) == ("21/01", 4)
    smc.move_medium(slot(1), drive(0))
    with pytest.raises(IllegalRequest) as err:  # the drive has not unloaded it
        smc.move_medium(drive(0), slot(1))
    assert err.value.sense.code == "3B/83"
    tape = library_drive("drive0")
    tape.drain_unit_attentions()
    tape.prevent_removal(True)
    with pytest.raises(IllegalRequest) as err:
        smc.move_medium(drive(0), slot(1))
    assert err.value.sense.code == "53/02"
    tape.prevent_removal(False)
    tape.unload()
    smc.move_medium(drive(0), slot(1))


def test_door_open_then_closed(smc: SmcDriver, lib) -> None:
    lib.open_door()
    with pytest.raises(NotReady) as err:
        smc.inventory()
    assert err.value.sense.code == "04/83"
    assert "Close the library door" in str(err.value)
    lib.close_door()
    with pytest.raises(UnitAttention) as err:
        smc.test_unit_ready()
    assert err.value.sense.code == "28/00"
    assert len(smc.inventory().elements) == 11


def test_robot_failure(smc: SmcDriver, lib) -> None:
    lib.faults.arm(Fault("robot_failure", "changer", nth=2))
    smc.move_medium(slot(1), slot(5))
    with pytest.raises(HardwareError) as err:
        smc.move_medium(slot(2), slot(1))
    assert err.value.sense.code == "15/01"
    inv = smc.inventory()
    assert (inv.at(slot(2)).barcode, inv.at(slot(1)).full) == ("TST002L8", False)
    smc.move_medium(slot(2), slot(1))  # the fault is spent


def test_stuck_cartridge(smc: SmcDriver, lib, library_drive) -> None:
    smc.move_medium(slot(1), drive(0))
    tape = library_drive("drive0")
    tape.drain_unit_attentions()
    lib.faults.arm(Fault("stuck_cartridge", "drive0"))
    with pytest.raises(HardwareError) as err:
        tape.unload()
    assert err.value.sense.code == "53/00"
    lib.faults.clear("drive0")
    tape.unload()
    lib.faults.arm(Fault("stuck_cartridge", "drive0"))
    with pytest.raises(HardwareError) as err:
        smc.move_medium(drive(0), slot(1))
    assert err.value.sense.code == "53/00"
    assert smc.inventory().at(drive(0)).barcode == "TST001L8"


def test_powered_off_drive_shows_an_element_exception(smc: SmcDriver, lib) -> None:
    lib.power_off("drive1")
    element = smc.inventory().at(drive(1))
    assert (element.exception, element.access) == ((0x04, 0x12), False)
    assert element.exception_name and "OFFLINE" in element.exception_name.upper()
    with pytest.raises(HardwareError) as err:
        smc.move_medium(slot(1), drive(1))
    assert err.value.sense.code == "53/00"


def test_prevent_allow_and_identity(smc: SmcDriver, lib) -> None:
    smc.prevent_removal(True)
    assert lib.changer.prevent_removal
    smc.prevent_removal(False)
    assert not lib.changer.prevent_removal
    assert smc.inquiry().peripheral_type == 8
    assert smc.serial_number() == "SMALL00001"
