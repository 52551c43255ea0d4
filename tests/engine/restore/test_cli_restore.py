"""``tapir restore`` as a user runs it: subprocesses on the default simulated library."""

from __future__ import annotations

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
