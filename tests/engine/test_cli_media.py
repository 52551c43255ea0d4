"""``tapir media list|label|show`` as a user runs them, on the default
simulated library with the catalog at <TAPIR_HOME>/catalog.sqlite. ``tapir drive status``:
test_cli_drive.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.cli_util import Tapir, one_error_line


@pytest.fixture
def tapir(tmp_path: Path) -> Tapir:
    return Tapir(tmp_path)


def test_label_records_scratch_and_refuses_a_labeled_tape_without_force(tapir: Tapir) -> None:
    out = tapir.ok("media", "label", "TAP001L8", "--pool", "weekly")
    assert out.startswith("TAP001L8 labeled in lib1:drive0 (pool weekly, LTO-8, uuid ")
    assert out.strip().endswith("): scratch; back in Slot 1")
    assert (tapir.home / "catalog.sqlite").exists()

    shown = tapir.json("media", "show", "TAP001L8")
    medium = shown["medium"]
    assert (medium["state"], medium["pool"], medium["media_type"]) == ("scratch", "weekly", "LTO-8")
    assert medium["state_reason"] == "Labeled in drive drive0."
    assert [(h["old"], h["new"]) for h in shown["history"]] == [(None, "scratch")]
    assert shown["errors"] == []
    assert shown["location"]["library"] == "lib1"
    assert shown["location"]["element"] == {
        "kind": "slot",
        "number": 1,
        "address": 4096,
        "drive": None,
    }
    assert shown["mam"] is None and "--mam" in shown["mam_note"]

    again = one_error_line(tapir("media", "label", "TAP001L8"), 1)
    assert again == (
        "drive0: Volume TAP001L8 is labeled TAP001L8 (pool weekly); labeling would overwrite "
        "it: use --force to relabel."
    )
    # the refused label left the cartridge where it was
    assert tapir.json("media", "show", "TAP001L8")["location"]["element"]["number"] == 1

    forced = tapir.ok("media", "label", "TAP001L8", "--force", "--pool", "monthly")
    assert "(pool monthly, LTO-8" in forced
    shown = tapir.json("media", "show", "TAP001L8", "--mam")
    assert (shown["medium"]["state"], shown["medium"]["pool"]) == ("scratch", "monthly")
    assert shown["medium"]["volume_uuid"] in forced
    assert shown["mam"]["barcode"] == "TAP001L8"
    table = tapir.ok("media", "show", "TAP001L8")
    assert "scratch since" in table and "lib1 Slot 1, address 4096" in table


def test_list_filters_by_pool_and_state_and_catalog(tapir: Tapir, tmp_path: Path) -> None:
    assert tapir.ok("media", "list").strip() == "the catalog holds no media yet"
    tapir.ok("library", "load", "TAP002L8")  # labeling a loaded tape leaves it loaded
    tapir.ok("media", "label", "TAP002L8")
    tapir.ok("media", "label", "TAP003L8", "--pool", "offsite")
    listed = tapir.json("media", "list")
    assert [(m["barcode"], m["pool"], m["state"]) for m in listed] == [
        ("TAP002L8", "default", "scratch"),
        ("TAP003L8", "offsite", "scratch"),
    ]
    assert [m["barcode"] for m in tapir.json("media", "list", "--pool", "offsite")] == ["TAP003L8"]
    assert tapir.json("media", "list", "--state", "full", "--state", "frozen") == []
    assert len(tapir.json("media", "list", "--state", "scratch")) == 2
    assert "TAP003L8" in tapir.ok("media", "list", "--pool", "offsite")
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    assert tapir.json("media", "list", "--catalog", other) == []
    bad_state = tapir("media", "list", "--state", "melted")
    assert bad_state.returncode == 2 and "Traceback" not in bad_state.stderr

    shown = tapir.json("media", "show", "TAP002L8")
    assert shown["location"]["element"] == {
        "kind": "drive",
        "number": 0,
        "address": 256,
        "drive": "drive0",
    }
    assert shown["mam"]["barcode"] == "TAP002L8"


def test_show_and_label_of_unknown_media_fail_with_one_sentence(tapir: Tapir) -> None:
    assert one_error_line(tapir("media", "show", "NOPE01L8"), 2) == (
        "Medium NOPE01L8 is neither in the catalog nor in any library (searched lib1); "
        "check the barcode."
    )
    assert one_error_line(tapir("media", "label", "NOPE01L8"), 2) == (
        "lib1: no cartridge NOPE01L8 in the library; import it first."
    )
    assert one_error_line(tapir("media", "label", "ODDBARCODE"), 2) == (
        "cannot tell the media type of ODDBARCODE from its barcode: give --media-type"
    )
    bad = tapir("media", "list", "--catalog", "nonsense://")
    assert "catalog" in one_error_line(bad, 2).lower()
