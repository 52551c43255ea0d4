"""``tapir copy`` through the command line: a copy on tape and on a disk mount path, copy 2
read when copy 1 has a medium error (restore and verify, with the warning), ``--copy N``,
``--plan``, ``jobs show`` / ``media show``, and a catalog rebuilt from the copy tape alone."""

from __future__ import annotations

import os
from pathlib import Path

from hwsim.library import SimLibrary
from tests.engine.backup.backup_util import LIBRARY
from tests.engine.catalog.test_rebuild import drop_catalog
from tests.engine.cli_util import Tapir, one_error_line
from tests.engine.format.treecmp import compare_trees


def site(tmp: Path) -> Tapir:
    (tmp / "library.toml").write_text(LIBRARY)
    (tmp / "disk1").mkdir()
    (tmp / "home").mkdir()
    config = tmp / "tapir.toml"
    config.write_text(
        f'catalog = "sqlite:///{tmp / "home" / "catalog.sqlite"}"\n\n'
        f'[[libraries]]\nname = "lib1"\nhwsim = "{tmp / "state"}"\n'
        f'hwsim_config = "{tmp / "library.toml"}"\n\n'
        f'[[mount_paths]]\npath = "{tmp / "disk1"}"\nreserve = "0"\n'
    )
    return Tapir(tmp, config)


def tree(src: Path) -> Path:
    src.mkdir()
    for n in range(5):
        (src / f"f{n}").write_bytes(os.urandom(600_000))
    (src / "sub").mkdir()
    (src / "sub" / "small").write_text("small\n")
    return src


def member_block(tapir: Tapir, src: Path, name: str) -> tuple[str, int]:
    """(copy-1 volume, a block inside ``name``'s data) from the catalog."""
    from engine.catalog.db import open_catalog
    from engine.catalog.files_store import FilesStore

    with open_catalog(f"sqlite:///{tapir.home / 'catalog.sqlite'}") as catalog:
        files = FilesStore(catalog)
        row = files.lookup(str(src / name), 1)
        assert row is not None and row.record is not None
        (part,) = files.parts(1)
    return part.volume, part.first_record + row.record + 1


def test_copy_to_tape_then_copy_2_serves_a_medium_error(tmp_path: Path) -> None:
    tapir = site(tmp_path)
    src = tree(tmp_path / "src")
    first = tapir.json("backup", str(src), "--to", "lib1")["volumes"][0]
    text = tapir.ok("copy", "1", "--to", "lib1")
    assert text.startswith("job 2: COMPLETED\n") and "copy 2: 6 files" in text, text
    out = tapir.json("jobs", "show", "1")
    (copy,) = out["copies"]
    assert copy["copy"] == 2 and copy["copy_job"] == 2 and first not in copy["volumes"]
    second = copy["volumes"][0]
    assert f"Copy 2 of run 1: {second} (copy job 2, lib1)" in tapir.ok("jobs", "show", "1")
    shown = tapir.json("media", "show", second)
    assert [(c["copy"], c["usable"], c["tape_file"]) for c in shown["copies"]] == [(2, True, 1)]

    plan = tapir.ok("restore", str(src), "--plan")
    assert f"{first} (tape)" in plan and f"also copy 2 on {second}" in plan, plan
    plan = tapir.ok("restore", str(src), "--plan", "--copy", "2")
    assert f"{second} (tape, copy 2)" in plan and first not in plan, plan
    line = one_error_line(tapir("restore", str(src), "--plan", "--copy", "3"), 2)
    assert "has no usable copy 3" in line

    volume, block = member_block(tapir, src, "f2")
    assert volume == first
    with SimLibrary.open(tmp_path / "state") as sim:
        sim.faults.arm({"kind": "medium_error", "target": first, "at_block": block, "op": "read"})
    result = tapir("restore", str(src), "--to", str(tmp_path / "r"))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "COMPLETED_WITH_EXCEPTIONS" in result.stdout
    assert f"medium error reading {first} at block {block}" in result.stdout
    assert f"came from copy 2 on {second}" in result.stdout
    assert compare_trees(src, tmp_path / "r" / str(src).lstrip("/")) == []

    with SimLibrary.open(tmp_path / "state") as sim:
        sim.faults.arm({"kind": "medium_error", "target": first, "at_block": block, "op": "read"})
    result = tapir("verify", "1")
    assert result.returncode == 1 and "0 differ" in result.stdout, result.stdout
    assert f"warning: {src / 'f2'}: copy 1 could not be read: medium error reading {first}" in (
        result.stdout
    )

    out = tapir.json("restore", str(src), "--to", str(tmp_path / "r2"), "--copy", "2")
    assert out["status"] == "COMPLETED" and {v["volume"] for v in out["volumes"]} == {second}
    assert compare_trees(src, tmp_path / "r2" / str(src).lstrip("/")) == []

    drop_catalog(tapir.home)
    text = tapir.ok("catalog", "rebuild", "--from-media", second)
    assert "1 session(s)" in text, text
    out = tapir.json("restore", str(src), "--to", str(tmp_path / "r3"))
    assert out["status"] == "COMPLETED" and {v["volume"] for v in out["volumes"]} == {second}
    assert compare_trees(src, tmp_path / "r3" / str(src).lstrip("/")) == []


def test_copy_to_a_disk_mount_path_and_restore_from_it(tmp_path: Path) -> None:
    tapir = site(tmp_path)
    src = tree(tmp_path / "src")
    tapir.ok("backup", str(src), "--to", "lib1")
    out = tapir.json("copy", "1", "--to", str(tmp_path / "disk1"))
    assert out["status"] == "COMPLETED" and out["copy"] == 2, out
    (volume,) = out["volumes"]
    assert (tmp_path / "disk1" / f"{volume}.vol").is_file()
    out = tapir.json("restore", str(src), "--to", str(tmp_path / "r"), "--copy", "2")
    assert out["status"] == "COMPLETED", out
    assert [v["kind"] for v in out["volumes"]] == ["disk"]
    assert compare_trees(src, tmp_path / "r" / str(src).lstrip("/")) == []
    again = tapir.json("copy", "1", "--to", "lib1")
    assert again["status"] == "COMPLETED" and again["copy"] == 3


def test_copy_refusals_are_one_line(tmp_path: Path) -> None:
    tapir = site(tmp_path)
    src = tree(tmp_path / "src")
    tapir.ok("backup", str(src), "--to", "lib1")
    line = one_error_line(tapir("copy", "7", "--to", "lib1"), 2)
    assert "Job 7 is not in the catalog." in line
    line = one_error_line(tapir("copy", "1", "--to", "nowhere"), 2)
    assert "No library, drive or mount path called 'nowhere'" in line
    line = one_error_line(tapir("copy", "2", "--to", "lib1"), 2)
    assert line.startswith("Job 2 is a copy job; copy reads backup jobs.")
