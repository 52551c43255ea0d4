"""SimLibrary: state directory life cycle, restarts, locking, operator actions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from drivers.transport.hwsim_local import HwsimLocalTransport
from hwsim.config import DEFAULT_CONFIG_PATH, load_config, parse_config
from hwsim.faults import Fault
from hwsim.library import LibraryError, SimLibrary, StateError
from tests.hwsim.smc_util import (
    SMALL_LIBRARY,
    clear_unit_attentions,
    drive,
    expect_check,
    expect_good,
    ie,
    make_library,
    move_cdb,
    read_elements,
    run,
    slot,
    tur,
    unload_cdb,
)

HARDWARE_ERROR, UNIT_ATTENTION = 4, 6


def write_cdb(n: int) -> bytes:
    return bytes([0x0A, 0]) + n.to_bytes(3, "big") + bytes(1)


def read_cdb(n: int) -> bytes:
    return bytes([0x08, 0]) + n.to_bytes(3, "big") + bytes(1)


def rows_by_barcode(lib: SimLibrary) -> dict[str, str]:
    return {r["barcode"]: f"{r['type']} {r['index']}" for r in lib.inventory() if r["full"]}


# --- create / open / lock --------------------------------------------------------------------


def test_create_writes_state_and_refuses_a_second_time(tmp_path: Path) -> None:
    state = tmp_path / "state"
    lib = make_library(state)
    lib.close()
    assert (state / "library.json").exists() and (state / "tapes").is_dir()
    with pytest.raises(StateError, match="already holds a library"):
        make_library(state)


def test_open_missing_state(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="no such state directory"):
        SimLibrary.open(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StateError, match=r"holds no library \(library.json is missing\)"):
        SimLibrary.open(tmp_path / "empty")


def test_open_corrupt_state_names_file_and_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    make_library(state).close()
    (state / "library.json").write_text('{"format": 1,\n "config": oops}')
    with pytest.raises(StateError) as err:
        SimLibrary.open(state)
    assert str(err.value).startswith(f"{state / 'library.json'}: corrupt (")
    assert "line 2" in str(err.value)


def test_open_state_with_bad_contents(tmp_path: Path) -> None:
    state = tmp_path / "state"
    make_library(state).close()
    raw = json.loads((state / "library.json").read_text())
    raw["elements"].append({"address": 0x7777, "barcode": "TST001L8"})
    (state / "library.json").write_text(json.dumps(raw))
    with pytest.raises(StateError, match=r"corrupt .*element address 30583 does not exist"):
        SimLibrary.open(state)


def test_state_dir_is_locked_while_open(tmp_path: Path) -> None:
    state = tmp_path / "state"
    lib = make_library(state)
    with pytest.raises(StateError, match=f"library in {state} is in use by pid {os.getpid()}"):
        SimLibrary.open(state)
    lib.close()
    SimLibrary.open(state).close()


def test_open_or_create_defaults_to_the_embedded_library(tmp_path: Path) -> None:
    lib = SimLibrary.open_or_create(tmp_path / "state", None)
    try:
        assert lib.device_names() == ["changer", "drive0", "drive1"]
        status = lib.status()
        assert status["elements"]["slot"] == {"total": 24, "full": 21}
        assert status["elements"]["ie"] == {"total": 4, "full": 0}
        assert lib.cartridges["TAP001L8"].capacity == 12 * 10**12
        assert lib.cartridges["CLN001CU"].cleaning
    finally:
        lib.close()
    again = SimLibrary.open_or_create(tmp_path / "state", parse_config(SMALL_LIBRARY, "x"))
    try:
        assert again.config.slots == 24  # the existing library wins
    finally:
        again.close()


def test_default_config_is_packaged() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    assert [d.model for d in config.drives] == ["LTO-8", "LTO-8"]
    assert len(config.cartridges) == 21 and config.ie_slots == 4


# --- devices ---------------------------------------------------------------------------------


def test_device_lookup(tmp_path: Path) -> None:
    with make_library(tmp_path / "s") as lib:
        assert lib.device("changer") is lib.changer
        assert lib.device("drive1") is lib.drives["drive1"]
        with pytest.raises(LookupError, match="known: changer, drive0, drive1"):
            lib.device("drive7")


def test_inventory_rows_and_status_are_json(tmp_path: Path) -> None:
    with make_library(tmp_path / "s") as lib:
        rows = lib.inventory()
        assert rows[0] == {
            "type": "transport",
            "index": 1,
            "address": 1,
            "full": False,
            "barcode": None,
            "source": None,
        }
        d1 = next(r for r in rows if r.get("drive") == "drive1")
        assert d1["serial"] == "DRV0000002" and d1["address"] == drive(1)
        json.dumps(rows)
        status = lib.status()
        json.dumps(status)
        assert status["name"] == "small" and status["door"] == "closed"
        assert set(status["drives"]) == {"drive0", "drive1"}


# --- restarts --------------------------------------------------------------------------------


def test_positions_door_and_power_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    lib = make_library(state)
    changer = HwsimLocalTransport(lib.changer)
    clear_unit_attentions(changer)
    expect_good(run(changer, move_cdb(slot(1), drive(0))))
    expect_good(run(changer, move_cdb(slot(2), ie(2))))
    lib.power_off("drive1")
    lib.open_door()
    before = rows_by_barcode(lib)
    lib.close()

    lib = SimLibrary.open(state)
    try:
        assert rows_by_barcode(lib) == before
        assert lib.drives["drive0"].cartridge is lib.cartridges["TST001L8"]
        assert not lib.drives["drive1"].powered
        assert lib.status()["door"] == "open"
        lib.close_door()
        changer = HwsimLocalTransport(lib.changer)
        expect_check(run(changer, tur()), UNIT_ATTENTION, 0x29, 0x00)  # restart = power on
        expect_check(run(changer, tur()), UNIT_ATTENTION, 0x28, 0x00)  # door closed
        d0 = read_elements(changer, element_type=4).at(drive(0))
        assert d0.barcode == "TST001L8" and d0.source == slot(1)
    finally:
        lib.close()


def test_written_data_and_mam_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    lib = make_library(state)
    changer = HwsimLocalTransport(lib.changer)
    clear_unit_attentions(changer)
    expect_good(run(changer, move_cdb(slot(3), drive(1))))
    tape = HwsimLocalTransport(lib.drives["drive1"])
    clear_unit_attentions(tape)
    records = [bytes([n]) * 1000 for n in range(1, 4)]
    for record in records:
        expect_good(run(tape, write_cdb(len(record)), data_out=record))
    loads = lib.cartridges["TST003L8"].mam.load_count
    lib.close()  # flushes the drive buffer

    lib = SimLibrary.open(state)
    try:
        assert lib.cartridges["TST003L8"].mam.load_count == loads == 1
        tape = HwsimLocalTransport(lib.drives["drive1"])
        clear_unit_attentions(tape)
        expect_good(run(tape, bytes([0x01, 0, 0, 0, 0, 0])))  # REWIND
        for record in records:
            result = run(tape, read_cdb(len(record)), len(record))
            expect_good(result)
            assert bytes(result.data) == record
    finally:
        lib.close()


def test_fault_counters_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    lib = make_library(state)
    lib.faults.arm(Fault("robot_failure", "changer", nth=2))
    changer = HwsimLocalTransport(lib.changer)
    clear_unit_attentions(changer)
    expect_good(run(changer, move_cdb(slot(1), slot(5))))
    lib.close()
    lib = SimLibrary.open(state)
    try:
        changer = HwsimLocalTransport(lib.changer)
        clear_unit_attentions(changer)
        expect_check(run(changer, move_cdb(slot(5), slot(1))), HARDWARE_ERROR, 0x15, 0x01)
        expect_good(run(changer, move_cdb(slot(5), slot(1))))
    finally:
        lib.close()


def test_faults_from_the_library_file_are_armed(tmp_path: Path) -> None:
    text = SMALL_LIBRARY + '\n[faults]\nseed = 9\n[[faults.rules]]\nkind = "robot_failure"\n'
    text += 'target = "changer"\nnth = 1\n'
    with SimLibrary.create(parse_config(text, "f.toml"), tmp_path / "s") as lib:
        assert lib.faults.seed == 9
        changer = HwsimLocalTransport(lib.changer)
        clear_unit_attentions(changer)
        expect_check(run(changer, move_cdb(slot(1), slot(5))), HARDWARE_ERROR, 0x15, 0x01)


def test_save_is_atomic_and_follows_every_move(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with make_library(state) as lib:
        changer = HwsimLocalTransport(lib.changer)
        clear_unit_attentions(changer)
        expect_good(run(changer, move_cdb(slot(4), slot(5))))
        raw = json.loads((state / "library.json").read_text())  # without close
        assert {
            "address": slot(5),
            "barcode": "TST004L8",
            "source": slot(4),
            "imported": False,
        } in raw["elements"]
        assert not list(state.glob("*.tmp"))


# --- operator actions --------------------------------------------------------------------------


def test_import_new_and_known_cartridges(tmp_path: Path) -> None:
    state = tmp_path / "state"
    lib = make_library(state)
    try:
        assert lib.import_cartridge("NEW001L8", capacity=1 << 20) == 1
        assert lib.cartridges["NEW001L8"].capacity == 1 << 20
        assert lib.import_cartridge("NEW002L8", ie_slot=2, write_protected=True) == 2
        with pytest.raises(LibraryError, match="every I/E slot is full"):
            lib.import_cartridge("NEW003L8")
        with pytest.raises(LibraryError, match="already in the library"):
            lib.import_cartridge("TST001L8")
        with pytest.raises(LibraryError, match="unknown media type suffix"):
            lib.import_cartridge("BAD001XX")
        assert lib.remove_from_ie(2) == "NEW002L8"
        with pytest.raises(LibraryError, match="I/E slot 2 is empty"):
            lib.remove_from_ie(2)
        with pytest.raises(LibraryError, match=r"out of range 1\.\.2"):
            lib.remove_from_ie(3)
    finally:
        lib.close()
    lib = SimLibrary.open(state)
    try:
        assert rows_by_barcode(lib)["NEW001L8"] == "ie 1"
        assert "NEW002L8" in lib.cartridges and lib.cartridges["NEW002L8"].write_protected
        lib.import_cartridge("NEW002L8", ie_slot=2)  # comes back, switch moved
        assert not lib.cartridges["NEW002L8"].write_protected
        changer = HwsimLocalTransport(lib.changer)
        clear_unit_attentions(changer)
        ie_page = read_elements(changer, element_type=3)
        assert [d.barcode for d in ie_page.descriptors] == ["NEW001L8", "NEW002L8"]
        assert all(d.flags & 0x02 for d in ie_page.descriptors)  # IMPEXP: operator put them
    finally:
        lib.close()


def test_import_posts_unit_attention(tmp_path: Path) -> None:
    with make_library(tmp_path / "s") as lib:
        changer = HwsimLocalTransport(lib.changer)
        clear_unit_attentions(changer)
        lib.import_cartridge("NEW001L8")
        expect_check(run(changer, tur()), UNIT_ATTENTION, 0x28, 0x01)
        expect_good(run(changer, tur()))


def test_a_written_export_keeps_its_data_outside_the_library(tmp_path: Path) -> None:
    with make_library(tmp_path / "s") as lib:
        changer = HwsimLocalTransport(lib.changer)
        clear_unit_attentions(changer)
        expect_good(run(changer, move_cdb(slot(1), drive(0))))
        tape = HwsimLocalTransport(lib.drives["drive0"])
        clear_unit_attentions(tape)
        expect_good(run(tape, write_cdb(512), data_out=b"x" * 512))
        expect_good(run(tape, unload_cdb()))
        expect_good(run(changer, move_cdb(drive(0), ie(1))))
        assert lib.remove_from_ie(1) == "TST001L8"
        lib.import_cartridge("TST001L8")
        clear_unit_attentions(changer)
        expect_good(run(changer, move_cdb(ie(1), drive(1))))
        tape1 = HwsimLocalTransport(lib.drives["drive1"])
        clear_unit_attentions(tape1)
        result = run(tape1, read_cdb(512), 512)
        expect_good(result)
        assert bytes(result.data) == b"x" * 512


def test_power_off_and_on_a_drive(tmp_path: Path) -> None:
    with make_library(tmp_path / "s") as lib:
        lib.power_off("drive0")
        assert lib.status()["drives"]["drive0"]["powered"] is False
        lib.power_on("drive0")
        tape = HwsimLocalTransport(lib.drives["drive0"])
        expect_check(run(tape, tur()), UNIT_ATTENTION, 0x29, 0x00)
        with pytest.raises(LookupError):
            lib.power_off("drive9")


def test_realtime_makes_loads_take_the_models_load_time(tmp_path: Path) -> None:
    library = make_library(tmp_path / "state")
    try:
        library.set_realtime(True)
        drive = library.drives["drive0"]
        assert drive.speed.realtime and drive.load_delay_s == drive.model.load_s > 0
        library.set_realtime(False)
        assert not drive.speed.realtime and drive.load_delay_s == 0
    finally:
        library.close()
