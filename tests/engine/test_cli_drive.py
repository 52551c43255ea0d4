"""``tapir drive status`` as a user runs it, on the default simulated library."""

from __future__ import annotations

from pathlib import Path

from tests.engine.cli_util import Tapir, one_error_line

CLEAN_NOW = 0x14  # TapeAlert flag 14h (SSC-4 annex A)


def test_drive_status_shows_empty_drive_then_loaded_barcode_and_tapealert(tmp_path: Path) -> None:
    tapir = Tapir(tmp_path)
    empty = tapir.json("drive", "status", "lib1:drive1")
    assert (empty["name"], empty["ready"], empty["barcode"], empty["error"]) == (
        "lib1:drive1",
        False,
        None,
        None,
    )
    assert "MEDIUM NOT PRESENT" in empty["not_ready_reason"]
    assert "no cartridge" in tapir.ok("drive", "status", "drive1")

    tapir.ok("library", "load", "TAP006L8", "--drive", "drive0")
    tapir.ok("sim", "fault", "arm", "cleaning_required", "drive0", "after_bytes=1")
    tapir.ok("media", "label", "TAP006L8")  # writes, which fires the fault
    state = tapir.json("drive", "status", "lib1:drive0")
    assert (state["ready"], state["barcode"], state["library_barcode"]) == (
        True,
        "TAP006L8",
        "TAP006L8",
    )
    assert CLEAN_NOW in state["tapealert_flags"]
    assert "clean-now" in state["tapealert_actions"]
    assert state["cleaning_needed"] is True
    assert isinstance(state["position"], int)

    table = tapir.ok("drive", "status", "drive0")
    assert "TAP006L8" in table and "Clean now (14h)" in table

    missing = one_error_line(tapir("drive", "status", "lib1:drive7"), 2)
    assert (
        missing
        == "Library lib1 has no drive 'drive7' (drives: drive0, drive1); see tapir devices scan."
    )
