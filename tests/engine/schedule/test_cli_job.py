"""``tapir job`` and ``tapir schedule tick`` as a user runs them (real subprocesses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.cli_util import Tapir, one_error_line
from tests.engine.notify.conftest import free_port


@pytest.fixture
def tapir(tmp_path: Path) -> Tapir:
    return Tapir(tmp_path)


def test_create_list_show_edit_delete_round_trip(tapir: Tapir, tmp_path: Path) -> None:
    out = tapir.ok(
        "job", "create", "nightly", "--source", str(tmp_path), "--to", "lib1",
        "--schedule", "0 22 * * 1-5", "--window", "2h", "--max-run-time", "8h",
        "--level", "incremental", "--exclude", "*.o", "--retry", "2",
        "--notify-email", "ops@example.com", "--notify-on", "failed,missed",
    )  # fmt: skip
    assert "nightly created" in out and "next run:" in out
    (listed,) = tapir.json("job", "list")
    assert listed["name"] == "nightly" and listed["schedule"] == "0 22 * * 1-5"
    assert listed["next_run"].endswith(":00 UTC") and listed["excludes"] == ["*.o"]
    shown = tapir.json("job", "show", "nightly")
    assert shown["max_run_time"] == "8h" and shown["retry"] == {"attempts": 2, "interval": "20m"}
    assert shown["notify"] == [{"on": ["failed", "missed"], "email": ["ops@example.com"]}]
    assert len(shown["next_runs"].split(", ")) == 3 and shown["jobs"] == []
    tapir.ok("job", "edit", "nightly", "--window", "3h", "--no-max-run-time", "--disable")
    shown = tapir.json("job", "show", "nightly")
    assert shown["window"] == "3h" and "max_run_time" not in shown
    assert shown["enabled"] is False and shown["next_run"] is None
    assert shown["level"] == "incremental"  # untouched fields kept
    tapir.ok("job", "delete", "nightly")
    assert tapir.json("job", "list") == []
    text = (tapir.home / "jobs.toml").read_text()
    assert "[jobs" not in text


def test_bad_option_is_one_line_and_changes_nothing(tapir: Tapir, tmp_path: Path) -> None:
    tapir.ok("job", "create", "n", "--source", str(tmp_path), "--to", "lib1")
    before = (tapir.home / "jobs.toml").read_bytes()
    for args, words in (
        (("--window", "soon"), "--window: 'soon' is not a duration"),
        (("--schedule", "0 25 * * *"), "--schedule: '0 25 * * *' is not a cron schedule"),
        (("--duplicates", "twice"), "--duplicates: 'twice' is not one of: skip, queue"),
        (("--notify-email", "nobody"), "--notify-email: 'nobody' is not an email address"),
    ):
        line = one_error_line(tapir("job", "edit", "n", *args), 2)
        assert line.startswith("job n: ") and words in line, line
    assert (tapir.home / "jobs.toml").read_bytes() == before
    line = one_error_line(tapir("job", "create", "n", "--source", "/", "--to", "x"), 2)
    assert "already exists" in line
    line = one_error_line(tapir("job", "edit", "ghost", "--window", "1h"), 2)
    assert "No job definition 'ghost'" in line
    line = one_error_line(tapir("job", "create", "bad name", "--source", "/", "--to", "x"), 2)
    assert "the name must be" in line


def test_a_hand_edited_file_with_a_mistake_is_refused_and_kept(tapir: Tapir) -> None:
    tapir.home.mkdir(parents=True)
    path = tapir.home / "jobs.toml"
    broken = '[jobs.n]\nsource = "/srv"\ntarget = "lib1"\nmax_run_time = "forever"\n'
    path.write_text(broken)
    for args in (("job", "list"), ("job", "create", "m", "--source", "/", "--to", "lib1")):
        line = one_error_line(tapir(*args), 2)
        assert line == (
            f"{path}: jobs.n.max_run_time: 'forever' is not a duration; "
            "write e.g. 90s, 30m, 4h, 1h30m or 2d"
        )
    assert path.read_text() == broken


def test_definitions_file_from_the_site_configuration(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "tapir.toml"
    config.parent.mkdir()
    config.write_text('job_definitions = "definitions/jobs.toml"\n')
    tapir = Tapir(tmp_path, config=config)
    out = tapir.ok("job", "create", "n", "--source", str(tmp_path), "--to", "lib1")
    assert str(tmp_path / "etc" / "definitions" / "jobs.toml") in out
    assert [d["name"] for d in tapir.json("job", "list")] == ["n"]


def test_run_now_queues_a_job_for_the_definition(tapir: Tapir, tmp_path: Path) -> None:
    tapir.ok("job", "create", "n", "--source", str(tmp_path), "--to", "lib1", "--level", "full")
    result = tapir.json("job", "run-now", "n")
    job_id = result["job"]
    (row,) = tapir.json("jobs", "list")
    assert row["id"] == job_id and row["name"] == "n" and row["state"] == "QUEUED"
    shown = tapir.json("job", "show", "n")
    assert shown["jobs"][0]["job"] == job_id and shown["jobs"][0]["trigger"] == "manual"
    line = one_error_line(tapir("job", "run-now", "ghost"), 2)
    assert "No job definition 'ghost'" in line


def test_schedule_tick_submits_what_is_due(tapir: Tapir, tmp_path: Path) -> None:
    tapir.ok(
        "job", "create", "often", "--source", str(tmp_path), "--to", "lib1",
        "--schedule", "* * * * *", "--window", "1h",
    )  # fmt: skip
    report = tapir.json("schedule", "tick")
    assert len(report["submitted"]) == 1 and report["problems"] == []
    again = tapir.json("schedule", "tick")
    assert again["submitted"] == [] or again["submitted"][0] > report["submitted"][0]
    (tapir.home / "jobs.toml").write_text("[jobs.x]\n")
    result = tapir("schedule", "tick")
    assert result.returncode == 2 and "jobs.x: source is required" in result.stderr


def test_run_now_wait_runs_the_backup_here(tmp_path: Path) -> None:
    src, disk = tmp_path / "src", tmp_path / "disk"
    src.mkdir()
    disk.mkdir()
    (src / "a.txt").write_text("backed up now\n")
    config = tmp_path / "tapir.toml"
    config.write_text(f'[[mount_paths]]\npath = "{disk}"\nreserve = 0\n')
    tapir = Tapir(tmp_path, config=config)
    tapir.ok("job", "create", "now", "--source", str(src), "--to", str(disk))
    result = tapir.json("job", "run-now", "now", "--wait")
    assert result["status"] == "COMPLETED" and result["exit_code"] == 0
    (row,) = tapir.json("jobs", "list")
    assert row["id"] == result["job"] and row["name"] == "now" and row["status"] == "COMPLETED"
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: delivery fails
    tapir.ok("job", "edit", "now", "--notify-webhook", dead, "--notify-on", "completed")
    out = tapir.ok("schedule", "tick")  # a failed delivery does not fail the tick
    assert f"job {result['job']} completed: 0 of 1 sent" in out
    assert f"not delivered: webhook {dead}: " in out
    shown = tapir.ok("job", "show", "now")
    assert f"notice ended by webhook to {dead}: not delivered: webhook {dead}" in shown
    tapir.ok("job", "edit", "now", "--to", str(tmp_path / "nowhere"))
    failed = tapir("job", "run-now", "now", "--wait")
    assert failed.returncode == 2 and "FAILED_TO_START" in failed.stderr


def test_schedule_summary_prints_the_last_day(tapir: Tapir, tmp_path: Path) -> None:
    tapir.ok("job", "create", "n", "--source", str(tmp_path), "--to", "lib1")
    job_id = tapir.json("job", "run-now", "n")["job"]
    tapir.ok("jobs", "cancel", str(job_id))
    summary = tapir.json("schedule", "summary")
    assert summary["counts"] == {"CANCELED": 1} and summary["deliveries"] is None
    assert [r["job"] for r in summary["runs"]] == [job_id]
    text = tapir.ok("schedule", "summary", "--hours", "1")
    assert text.startswith("tapir: daily summary, 1 run (1 CANCELED)")
    line = one_error_line(tapir("schedule", "summary", "--send"), 2)
    assert "no [summary] table" in line
