"""MOVE MEDIUM and EXCHANGE MEDIUM through the transport, with every refusal a real
library reports: source empty, destination full, invalid element, drive not unloaded,
removal prevented, door open, robot failure, stuck cartridge, powered-off drive."""

from __future__ import annotations

import pytest

from drivers.transport.hwsim_local import HwsimLocalTransport
from hwsim.faults import Fault
from hwsim.library import LibraryError, SimLibrary
from tests.hwsim.smc_util import (
    IE,
    ROBOT,
    clear_unit_attentions,
    drive,
    exchange_cdb,
    expect_check,
    expect_good,
    field_pointer,
    ie,
    move_cdb,
    read_elements,
    run,
    slot,
    tur,
    unload_cdb,
)

NOT_READY, HARDWARE_ERROR, ILLEGAL_REQUEST, UNIT_ATTENTION = 2, 4, 5, 6


def where(lib: SimLibrary, barcode: str) -> str | None:
    row = next((r for r in lib.inventory() if r["barcode"] == barcode), None)
    return None if row is None else f"{row['type']} {row['index']}"


def load(lib: SimLibrary, changer: HwsimLocalTransport, n: int, d: int) -> HwsimLocalTransport:
    """Move slot n into drive d and let the drive become ready; returns the drive."""
    expect_good(run(changer, move_cdb(slot(n), drive(d))))
    tape = HwsimLocalTransport(lib.drives[f"drive{d}"])
    clear_unit_attentions(tape)
    expect_good(run(tape, tur()))
    return tape


# --- moves that work ---------------------------------------------------------------------------


def test_move_slot_to_drive_loads_it(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    expect_good(run(changer, move_cdb(slot(1), drive(0))))
    assert where(lib, "TST001L8") == "drive 1"
    d0 = read_elements(changer, element_type=4).at(drive(0))
    assert d0.full and d0.barcode == "TST001L8"
    assert d0.svalid and d0.source == slot(1)
    assert lib.drives["drive0"].cartridge is lib.cartridges["TST001L8"]
    tape = HwsimLocalTransport(lib.drives["drive0"])
    expect_check(run(tape, tur()), UNIT_ATTENTION, 0x29, 0x00)
    expect_check(run(tape, tur()), UNIT_ATTENTION, 0x28, 0x00)
    expect_good(run(tape, tur()))


def test_unload_then_move_back(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    tape = load(lib, changer, 2, 1)
    expect_check(run(changer, move_cdb(drive(1), slot(2))), ILLEGAL_REQUEST, 0x3B, 0x83)
    assert where(lib, "TST002L8") == "drive 2"
    expect_good(run(tape, unload_cdb()))
    d1 = read_elements(changer, element_type=4).at(drive(1))
    assert d1.flags == 0x09  # unloaded: the robot may take it (ACCESS | FULL)
    expect_good(run(changer, move_cdb(drive(1), slot(2))))
    assert where(lib, "TST002L8") == "slot 2"
    back = read_elements(changer, element_type=2).at(slot(2))
    assert back.svalid and back.source == drive(1)
    assert lib.drives["drive1"].cartridge is None


def test_loaded_drive_element_has_no_access(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    load(lib, changer, 1, 0)
    assert read_elements(changer, element_type=4).at(drive(0)).flags == 0x01


def test_transport_address_may_be_the_robot_or_zero(changer: HwsimLocalTransport) -> None:
    expect_good(run(changer, move_cdb(slot(1), slot(5), transport=ROBOT)))
    expect_good(run(changer, move_cdb(slot(5), slot(1), transport=0)))


def test_move_to_itself_is_a_no_op(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    expect_good(run(changer, move_cdb(slot(1), slot(1))))
    assert where(lib, "TST001L8") == "slot 1"


def test_export_to_ie_and_operator_removes(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    expect_good(run(changer, move_cdb(slot(3), ie(1))))
    exported = read_elements(changer, element_type=3).at(IE)
    assert exported.flags == 0x39  # INENAB | EXENAB | ACCESS | FULL, IMPEXP 0: robot put it
    assert lib.remove_from_ie(1) == "TST003L8"
    assert where(lib, "TST003L8") is None
    expect_check(run(changer, tur()), UNIT_ATTENTION, 0x28, 0x01)
    assert "TST003L8" in lib.cartridges  # known, outside the library


def test_cleaning_cartridge_in_a_drive(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    expect_good(run(changer, move_cdb(slot(6), drive(0))))
    d0 = read_elements(changer, element_type=4).at(drive(0))
    assert d0.medium_type == 2 and d0.flags == 0x09  # cleaning done: may be taken at once
    expect_good(run(changer, move_cdb(drive(0), slot(6))))
    assert lib.cartridges["CLN001CU"].cleaning_uses_left == 2


# --- EXCHANGE MEDIUM ---------------------------------------------------------------------------


def test_exchange_swaps_two_slots(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    expect_good(run(changer, exchange_cdb(slot(1), slot(2), slot(1))))
    assert where(lib, "TST001L8") == "slot 2"
    assert where(lib, "TST002L8") == "slot 1"


def test_exchange_three_way(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    expect_good(run(changer, exchange_cdb(slot(1), slot(2), slot(5))))
    assert where(lib, "TST001L8") == "slot 2"
    assert where(lib, "TST002L8") == "slot 5"
    assert lib.elements.slot(1).barcode is None


def test_exchange_into_a_drive(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    tape = load(lib, changer, 1, 0)
    expect_good(run(tape, unload_cdb()))
    expect_good(run(changer, exchange_cdb(slot(2), drive(0), slot(1))))
    assert where(lib, "TST002L8") == "drive 1"
    assert where(lib, "TST001L8") == "slot 1"
    assert lib.drives["drive0"].cartridge is lib.cartridges["TST002L8"]


def test_exchange_refusals(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    expect_check(run(changer, exchange_cdb(slot(5), slot(1), slot(5))), ILLEGAL_REQUEST, 0x3B, 0x0E)
    expect_check(run(changer, exchange_cdb(slot(1), slot(5), slot(2))), ILLEGAL_REQUEST, 0x3B, 0x0E)
    expect_check(run(changer, exchange_cdb(slot(1), slot(2), slot(3))), ILLEGAL_REQUEST, 0x3B, 0x0D)
    result = run(changer, exchange_cdb(slot(1), slot(1), slot(5)))
    expect_check(result, ILLEGAL_REQUEST, 0x24, 0x00)
    assert field_pointer(result) == (True, 6, None)
    result = run(changer, exchange_cdb(slot(1), slot(2), 0x0999))
    expect_check(result, ILLEGAL_REQUEST, 0x21, 0x01)
    assert field_pointer(result) == (True, 8, None)
    assert [where(lib, f"TST00{n}L8") for n in (1, 2, 3)] == ["slot 1", "slot 2", "slot 3"]


# --- refusals ----------------------------------------------------------------------------------


def test_source_empty(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    expect_check(run(changer, move_cdb(slot(5), slot(1))), ILLEGAL_REQUEST, 0x3B, 0x0E)
    expect_check(run(changer, move_cdb(drive(0), slot(5))), ILLEGAL_REQUEST, 0x3B, 0x0E)


def test_destination_full(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    expect_check(run(changer, move_cdb(slot(1), slot(2))), ILLEGAL_REQUEST, 0x3B, 0x0D)
    assert where(lib, "TST001L8") == "slot 1"


@pytest.mark.parametrize(
    ("cdb", "byte"),
    [
        (move_cdb(0x0999, 0x1004), 4),
        (move_cdb(0x1000, 0x2000), 6),
        (move_cdb(ROBOT, 0x1004), 4),  # the robot is not a source
        (move_cdb(0x1000, ROBOT), 6),
        (move_cdb(0x1000, 0x1004, transport=0x0002), 2),
    ],
)
def test_invalid_element_address(changer: HwsimLocalTransport, cdb: bytes, byte: int) -> None:
    result = run(changer, cdb)
    expect_check(result, ILLEGAL_REQUEST, 0x21, 0x01)
    assert field_pointer(result) == (True, byte, None)


def test_invert_is_not_supported(changer: HwsimLocalTransport) -> None:
    result = run(changer, move_cdb(slot(1), slot(5), invert=True))
    expect_check(result, ILLEGAL_REQUEST, 0x24, 0x00)
    assert field_pointer(result) == (True, 10, 0)


def test_short_cdb(changer: HwsimLocalTransport) -> None:
    expect_check(run(changer, move_cdb(slot(1), slot(5))[:10]), ILLEGAL_REQUEST, 0x24, 0x00)


def test_drive_removal_prevented(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    tape = load(lib, changer, 1, 0)
    expect_good(run(tape, unload_cdb()))
    expect_good(run(tape, bytes([0x1E, 0, 0, 0, 1, 0])))  # PREVENT on the drive
    expect_check(run(changer, move_cdb(drive(0), slot(1))), ILLEGAL_REQUEST, 0x53, 0x02)
    expect_good(run(tape, bytes([0x1E, 0, 0, 0, 0, 0])))  # ALLOW
    expect_good(run(changer, move_cdb(drive(0), slot(1))))


def test_door_open_makes_the_changer_not_ready(
    lib: SimLibrary, changer: HwsimLocalTransport
) -> None:
    lib.open_door()
    expect_check(run(changer, tur()), NOT_READY, 0x04, 0x83)
    expect_check(run(changer, move_cdb(slot(1), slot(5))), NOT_READY, 0x04, 0x83)
    expect_check(
        run(changer, bytes([0xB8, 0x10, 0, 0, 0, 9, 0, 0, 0xFF, 0, 0, 0])), NOT_READY, 0x04, 0x83
    )
    expect_good(run(changer, bytes([0x12, 0, 0, 0, 36, 0]), 36))  # INQUIRY still answers
    assert where(lib, "TST001L8") == "slot 1"
    lib.close_door()
    expect_check(run(changer, tur()), UNIT_ATTENTION, 0x28, 0x00)
    expect_good(run(changer, tur()))
    expect_good(run(changer, move_cdb(slot(1), slot(5))))


def test_robot_failure_fires_on_exactly_the_kth_move(
    lib: SimLibrary, changer: HwsimLocalTransport
) -> None:
    lib.faults.arm(Fault("robot_failure", "changer", nth=3))
    expect_good(run(changer, move_cdb(slot(1), slot(5))))
    expect_good(run(changer, move_cdb(slot(5), slot(1))))
    expect_check(run(changer, move_cdb(slot(1), slot(5))), HARDWARE_ERROR, 0x15, 0x01)
    assert where(lib, "TST001L8") == "slot 1"  # nothing moved
    expect_good(run(changer, move_cdb(slot(1), slot(5))))  # spent after one firing
    assert where(lib, "TST001L8") == "slot 5"


def test_refused_moves_do_not_count_as_robot_moves(
    lib: SimLibrary, changer: HwsimLocalTransport
) -> None:
    lib.faults.arm(Fault("robot_failure", "changer", nth=1))
    expect_check(run(changer, move_cdb(slot(5), slot(1))), ILLEGAL_REQUEST, 0x3B, 0x0E)
    expect_check(run(changer, move_cdb(slot(1), slot(5))), HARDWARE_ERROR, 0x15, 0x01)


def test_persistent_robot_failure(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    rule = lib.faults.arm(Fault("robot_failure", "changer", nth=1, times=None))
    for _ in range(3):
        expect_check(
            run(changer, exchange_cdb(slot(1), slot(2), slot(1))), HARDWARE_ERROR, 0x15, 0x01
        )
    lib.faults.disarm(rule.id)
    expect_good(run(changer, exchange_cdb(slot(1), slot(2), slot(1))))


def test_stuck_cartridge(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    tape = load(lib, changer, 1, 0)
    expect_good(run(tape, unload_cdb()))
    lib.faults.arm(Fault("stuck_cartridge", "drive0"))
    expect_check(run(changer, move_cdb(drive(0), slot(1))), HARDWARE_ERROR, 0x53, 0x00)
    expect_check(
        run(changer, exchange_cdb(drive(0), slot(2), drive(0))), HARDWARE_ERROR, 0x53, 0x00
    )
    assert where(lib, "TST001L8") == "drive 1"
    assert where(lib, "TST002L8") == "slot 2"
    assert lib.drives["drive0"].cartridge is lib.cartridges["TST001L8"]
    lib.faults.clear("drive0")
    expect_good(run(changer, move_cdb(drive(0), slot(1))))


def test_powered_off_drive_refuses_loads(lib: SimLibrary, changer: HwsimLocalTransport) -> None:
    lib.power_off("drive1")
    expect_check(run(changer, move_cdb(slot(1), drive(1))), HARDWARE_ERROR, 0x53, 0x00)
    assert where(lib, "TST001L8") == "slot 1"
    lib.power_on("drive1")
    expect_good(run(changer, move_cdb(slot(1), drive(1))))


def test_changer_prevent_locks_the_ie_station(
    lib: SimLibrary, changer: HwsimLocalTransport
) -> None:
    expect_good(run(changer, move_cdb(slot(1), ie(1))))
    expect_good(run(changer, bytes([0x1E, 0, 0, 0, 1, 0])))  # PREVENT MEDIUM REMOVAL
    with pytest.raises(LibraryError, match="53/02"):
        lib.remove_from_ie(1)
    with pytest.raises(LibraryError, match="locked"):
        lib.import_cartridge("NEW001L8")
    expect_good(run(changer, bytes([0x1E, 0, 0, 0, 0, 0])))  # ALLOW
    assert lib.remove_from_ie(1) == "TST001L8"
