"""``tapir library ...`` as a user runs it: real subprocesses on the default simulated library,
opened in-process by each command, so state must persist between commands. The mail slot and
a daemon-served library: test_cli_library_daemon.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.cli_util import Tapir, one_error_line, slot_of


@pytest.fixture
def tapir(tmp_path: Path) -> Tapir:
    return Tapir(tmp_path)


def test_inventory_table_and_json_of_the_default_library(tapir: Tapir) -> None:
    table = tapir.ok("library", "inventory")
    assert "Library lib1" in table
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if "│" in line}
    assert "TAP001L8" in rows["Slot 1"] and "Full" in rows["Slot 1"]
    assert "CLN001CU" in rows["Slot 24"] and "cleaning" in rows["Slot 24"]
    assert "Empty" in rows["Drive 0 (drive0)"] and "Empty" in rows["I/E 4"]

    inv = tapir.json("library", "inventory", "lib1")
    assert inv["library"] == "lib1"
    assert [len(inv[g]) for g in ("slots", "import_export", "drives")] == [24, 4, 2]
    assert [(d["number"], d["drive"], d["address"]) for d in inv["drives"]] == [
        (0, "drive0", 256),
        (1, "drive1", 257),
    ]
    assert (inv["slots"][0]["barcode"], inv["slots"][0]["address"]) == ("TAP001L8", 4096)
    assert not any(e["full"] for e in inv["import_export"])


def test_load_unload_and_move_persist_between_commands(tapir: Tapir) -> None:
    assert tapir.ok("library", "load", "TAP003L8", "--drive", "drive1").strip() == (
        "TAP003L8 loaded in lib1:drive1"
    )
    assert slot_of(tapir.json("library", "inventory"), "TAP003L8") == ("drive", 1)
    assert tapir.ok("library", "unload", "lib1:drive1").strip() == (
        "TAP003L8 unloaded from lib1:drive1 to Slot 3"
    )
    assert slot_of(tapir.json("library", "inventory"), "TAP003L8") == ("slot", 3)

    assert tapir.ok("library", "move", "slot 3", "slot:21").strip() == (
        "TAP003L8 moved from Slot 3 to Slot 21"
    )
    tapir.ok("library", "move", "4116", "drive 0")  # slot 21 by element address
    inv = tapir.json("library", "inventory")
    assert slot_of(inv, "TAP003L8") == ("drive", 0)
    assert inv["drives"][0]["source"] == 4116
    # a drive is unloaded before the robot takes the cartridge out
    assert tapir.ok("library", "move", "drive0", "slot3").strip() == (
        "TAP003L8 moved from Drive 0 (drive0) to Slot 3"
    )
    assert slot_of(tapir.json("library", "inventory"), "TAP003L8") == ("slot", 3)


def test_errors_are_one_sentence_with_an_exit_code(tapir: Tapir, tmp_path: Path) -> None:
    message = one_error_line(tapir("library", "inventory", "vault"), 2)
    assert message == (
        "No library 'vault' in <built-in default configuration> (libraries: lib1): name one of "
        "those, or add it to the site configuration."
    )
    assert one_error_line(tapir("library", "load", "NOPE01L8"), 2) == (
        "lib1: no cartridge NOPE01L8 in the library; import it first."
    )
    assert one_error_line(tapir("library", "move", "slot 99", "drive 0"), 2).startswith(
        "Library lib1 has no element 'slot 99': give \"slot N\""
    )
    empty = one_error_line(tapir("library", "move", "slot 22", "slot 23"), 1)
    assert empty == (
        "lib1:changer: MOVE MEDIUM failed: ILLEGAL REQUEST: MEDIUM SOURCE ELEMENT EMPTY (3B/0E)."
        " The source is empty: refresh the inventory."
    )
    assert one_error_line(tapir("library", "unload", "drive0"), 1) == (
        "lib1: drive drive0 is empty; nothing to unmount."
    )

    bad = tmp_path / "site.toml"
    bad.write_text('[[libraries]]\nname = "lib1"\nchanger = "/dev/sg1"\ndrives = {}\n')
    tapir.config = bad
    assert one_error_line(tapir("library", "inventory"), 2) == (
        f"{bad}: libraries[1]: drives must name at least one drive: {{ drive0 = ENDPOINT }}"
    )
    tapir.config = tmp_path / "absent.toml"
    assert one_error_line(tapir("library", "inventory"), 2) == f"{tapir.config}: no such file"
