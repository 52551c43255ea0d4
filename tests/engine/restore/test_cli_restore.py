"""``tapir restore`` as a user runs it: subprocesses on the default simulated library."""

from __future__ import annotations

import os
from pathlib import Path

from tests.engine.cli_util import Tapir, one_error_line
from tests.engine.format.treecmp import compare_trees
from tests.engine.restore.restore_util import edge_tree


def test_backup_then_restore_plan_and_run(tmp_path: Path) -> None:
    tapir = Tapir(tmp_path)
    src = edge_tree(tmp_path / "src")
    tapir.ok("backup", str(src), "--to", "lib1")
    plan = tapir.ok("restore", str(src), "--plan")
    assert plan.startswith("1 volume(s),") and " slot " in plan
    assert tapir.ok("restore", str(src / "docs"), "--plan", "--as-of", "1").startswith("1 vol")
    line = one_error_line(tapir("restore", str(src), "--plan", "--as-of", "run:x"), 2)
    assert "is not a job id (7 or job:7), a run id (run:12) or an ISO date" in line
    dst = tmp_path / "dst"
    out = tapir.json("restore", str(src), "--to", str(dst))
    assert out["status"] == "COMPLETED" and out["exit_code"] == 0 and out["failed"] == 0
    assert compare_trees(src, dst / str(src).lstrip("/")) == []
    again = tapir("restore", str(src / "a.txt"), "--to", str(dst))
    assert again.returncode == 1 and "kept: " in again.stdout
    assert "  as of the latest backups: versions from backup run(s) 1\n" in again.stdout
    assert out["from_runs"] == [1] and out["as_of"] == {"job": None, "run": None, "at": None}
    shown = tapir.json("jobs", "show", str(out["job"]))
    assert shown["status"] == "COMPLETED"
    line = one_error_line(tapir("restore", "/no/such", "--to", str(dst)), 2)
    assert "is in no backup" in line


def test_a_name_that_is_not_utf8_restores_and_browses(tmp_path: Path) -> None:
    tapir = Tapir(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    raw = os.path.join(os.fsencode(src), b"caf\xe9-\xff.txt")
    with open(raw, "wb") as f:
        f.write(b"latin-1 name\n")
    tapir.ok("backup", str(src), "--to", "lib1")
    name = os.fsdecode(raw)  # surrogate escapes: the bytes reach tapir's argv unchanged
    shown = f"{src}/caf\\xe9-\\xff.txt"
    (version,) = tapir.json("browse", name)
    assert version["path"] == shown and version["size"] == len(b"latin-1 name\n")
    dst = tmp_path / "dst"
    out = tapir.json("restore", name, "--to", str(dst))
    assert out["status"] == "COMPLETED" and out["restored"] == 1
    with open(os.path.join(os.fsencode(dst), raw.lstrip(b"/")), "rb") as f:
        assert f.read() == b"latin-1 name\n"
    job = tapir.json("jobs", "show", str(out["job"]))
    assert job["spec"]["paths"] == [shown] and shown in job["name"]
    missing = one_error_line(tapir("restore", name + "x", "--to", str(dst)), 2)
    assert missing.startswith(f"{shown}x is in no backup")
