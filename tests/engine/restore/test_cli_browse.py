"""An incremental chain through the CLI: each backup's outcome against the previous run
(``modified`` / ``up_to_date``), ``tapir jobs show N --changes``, ``tapir ls --as-of``,
``tapir browse`` and ``tapir restore --as-of`` with a job, a run and a date-time."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from tests.engine.cli_util import Tapir, one_error_line
from tests.engine.format.treecmp import compare_trees
from tests.engine.restore.restore_util import evolve, restored_at
from tests.engine.restore.test_points_in_time import snapshot


def test_incremental_chain_through_the_cli(tmp_path: Path) -> None:
    tapir = Tapir(tmp_path)
    src = tmp_path / "src"
    outs, snaps, moments = [], [], []
    for n in range(3):
        evolve(src, n)
        level = "full" if n == 0 else "incremental"
        outs.append(tapir.json("backup", str(src), "--to", "lib1", "--level", level))
        moments.append(datetime.now().astimezone().isoformat())
        snaps.append(snapshot(src, tmp_path / f"snap{n}"))
    unchanged = tapir.json("backup", str(src), "--to", "lib1", "--level", "incremental")
    assert [o["detail"] for o in outs[1:]] == ["modified", "modified"]
    assert unchanged["detail"] == "up_to_date" and unchanged["status"] == "COMPLETED"

    # what run 2 found against run 1: a.txt edited, new.txt added, b.txt deleted
    shown = tapir.json("jobs", "show", str(outs[1]["job"]), "--changes")
    changes = {os.path.basename(f["path"]): f["change"] for f in shown["changes"]}
    assert changes["a.txt"] == "changed" and changes["new.txt"] == "added"
    assert changes["b.txt"] == "deleted" and "keep" not in changes
    assert shown["runs"][-1]["detail"] == "modified"
    text = tapir.ok("jobs", "show", str(outs[1]["job"]), "--changes")
    assert "Changes in run 1: " in text and "deleted" in text and "b.txt" in text
    assert tapir.json("jobs", "show", str(unchanged["job"]), "--changes")["changes"] == []

    # ls: the directory at each point
    first = tapir.json("ls", str(src), "--as-of", str(outs[0]["job"]))
    names = {e["name"] for e in first["entries"]}
    assert {"a.txt", "b.txt", "dir1", "keep", "link"} <= names and "new.txt" not in names
    assert first["run"] == outs[0]["run"]
    second = tapir.json("ls", str(src), "--as-of", f"run:{outs[2]['run']}")
    names = {e["name"]: e for e in second["entries"]}
    assert "dir2" in names and "dir1" not in names and "b.txt" not in names
    assert names["a.txt"]["run"] == outs[1]["run"], "unchanged since run 2: its row is run 2's"
    latest = tapir.json("ls", str(src))
    assert latest["run"] == unchanged["run"]
    assert {e["name"] for e in latest["entries"]} == set(names)
    at = tapir.json("ls", str(src / "keep"), "--as-of", moments[0])
    assert [e["name"] for e in at["entries"]] == ["k.bin"]
    listing = tapir.ok("ls", str(src), "--as-of", moments[1])
    assert f"as of {moments[1][:10]}" in listing and " run " in listing
    assert any(line.endswith(" link -> a.txt") for line in listing.splitlines())
    line = one_error_line(tapir("ls", str(src / "dir1"), "--as-of", f"run:{outs[2]['run']}"), 2)
    assert "did not exist as of run" in line
    one_error_line(tapir("ls", str(src), "--as-of", "yesterday"), 2)
    above = tapir.json("ls", str(tmp_path))  # not backed up itself: the way down
    assert above["run"] is None and [e["name"] for e in above["entries"]] == ["src"]
    assert above["entries"][0]["status"] == "ok" and above["entries"][0]["mode"] == "drwxr-xr-x"
    top = tapir.json("ls", "/")
    top_name = str(tmp_path).split("/")[1]
    assert [(e["name"], e["status"]) for e in top["entries"]] == [
        (top_name, "not backed up: on the way to a backup")
    ]

    # browse: every version of a path
    versions = tapir.json("browse", str(src / "b.txt"))
    assert [(v["run"], v["change"], v["status"]) for v in versions] == [
        (outs[0]["run"], None, "ok"),  # a full records no change
        (outs[1]["run"], "deleted", "deleted"),
    ]
    text = tapir.ok("browse", str(src / "a.txt"))
    assert text.startswith(f"{src / 'a.txt'}: 2 version(s)") and "changed" in text
    one_error_line(tapir("browse", "/no/such/path"), 2)

    # restore as of a job, a run and a moment: each the tree as it was
    for n, as_of in enumerate([str(outs[0]["job"]), f"run:{outs[1]['run']}", moments[2]]):
        dst = tmp_path / f"dst{n}"
        out = tapir.json("restore", str(src), "--as-of", as_of, "--to", str(dst))
        assert out["status"] == "COMPLETED", out
        assert compare_trees(snaps[n], restored_at(dst, src)) == [], as_of
    # the backup's own lines say it against the previous run
    text = tapir.ok("backup", str(src), "--to", "lib1", "--level", "incremental")
    assert "  against the previous run: up_to_date (nothing added, changed or deleted)" in text
    (src / "later.txt").write_text("later\n")
    text = tapir.ok("backup", str(src), "--to", "lib1", "--level", "incremental")
    assert "against the previous run: modified (1 added, 1 changed, 0 deleted: tapir jobs" in text
    line = one_error_line(tapir("restore", str(src), "--as-of", "job:999"), 2)
    assert "Job 999 has no ended backup run" in line
    line = one_error_line(tapir("restore", str(src), "--as-of", "2001-01-01"), 2)
    assert "is in no backup as of 2001-01-01" in line
