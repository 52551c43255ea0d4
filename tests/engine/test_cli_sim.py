"""``tapir sim ...`` as a user runs it: real subprocesses, real daemons, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.hwsim.daemon_util import Daemon, tapir
from tests.hwsim.smc_util import SMALL_LIBRARY


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "lib.toml"
    path.write_text(SMALL_LIBRARY)
    return path


@pytest.fixture
def detached(tmp_path: Path, config: Path) -> Iterator[Path]:
    """``tapir sim start --detach``; teardown stops it, or kills the pid if stop failed."""
    state = tmp_path / "state"
    result = tapir("sim", "start", "--detach", "--config", str(config), "--state", str(state))
    assert result.returncode == 0, result.stderr
    pid = int((state / "hwsim.pid").read_text())
    try:
        yield state
    finally:
        if psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)


def one_error_line(result: subprocess.CompletedProcess, code: int = 2) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("tapir: ")
    return lines[0]


def test_detached_daemon_life(detached: Path) -> None:
    state = str(detached)
    pid = int((detached / "hwsim.pid").read_text())
    status = tapir("sim", "status", "--state", state, "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["daemon"]["pid"] == pid
    assert report["daemon"]["console"] == os.path.realpath(detached / "console")
    assert report["status"]["name"] == "small"
    assert [d["realtime"] for d in report["status"]["drives"].values()] == [False, False]

    inventory = tapir("sim", "inventory", "--state", state)
    assert inventory.returncode == 0, inventory.stderr
    assert "TST001L8" in inventory.stdout and "DRV0000001" in inventory.stdout
    rows = json.loads(tapir("sim", "inventory", "--state", state, "--json").stdout)
    assert {"type": "slot", "index": 1, "barcode": "TST001L8"}.items() <= rows[-6].items()

    armed = tapir("sim", "fault", "arm", "power_loss", "drive0", "at_block=5", "--state", state)
    assert (
        armed.stdout.strip()
        == "FAULT 1 power_loss drive0 at_block=5 op=write times=1 fired=0 armed"
    )
    refused = tapir("sim", "fault", "arm", "power_loss", "drive0", "--state", state)
    assert one_error_line(refused, code=1).startswith("tapir: fault 'power_loss' on 'drive0' needs")
    listed = json.loads(tapir("sim", "fault", "list", "--state", state, "--json").stdout)
    assert [f["kind"] for f in listed["faults"]] == ["power_loss"]

    again = tapir("sim", "start", "--detach", "--state", state)
    assert "a hwsim daemon is already running" in one_error_line(again, code=1)

    stopped = tapir("sim", "stop", "--state", state)
    assert stopped.returncode == 0, stopped.stderr
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not (detached / "hwsim.sock").exists()
    assert not (detached / "console").exists()
    assert "client 1 connected (pid" in (detached / "hwsim.log").read_text()
    # the fault armed through the daemon was saved; now it is read in-process
    listed = tapir("sim", "fault", "list", "--state", state)
    assert "FAULT 1 power_loss drive0 at_block=5" in listed.stdout
    assert tapir("sim", "fault", "clear", "--state", state).stdout.strip() == "cleared 1 fault(s)"
    assert tapir("sim", "fault", "list", "--state", state).stdout.strip() == "seed=0"
    status = json.loads(tapir("sim", "status", "--state", state, "--json").stdout)
    assert status["daemon"] is None
    nothing = tapir("sim", "stop", "--state", state)
    assert "no hwsim daemon is running" in one_error_line(nothing, code=1)


def test_default_library_is_created_on_first_use(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = tapir("sim", "inventory", home=home)
    assert result.returncode == 0, result.stderr
    assert "TAP001L8" in result.stdout and "CLN001CU" in result.stdout
    assert (home / "hwsim" / "default" / "library.json").exists()
    console = tapir("sim", "console", "DOOR", "OPEN", home=home)
    assert console.stdout.strip() == "door open"
    status = json.loads(tapir("sim", "status", "--json", home=home).stdout)
    assert status["status"]["door"] == "open"
    bad = tapir("sim", "console", "DOOR", "AJAR", home=home)
    assert one_error_line(bad, code=1) == "tapir: DOOR takes OPEN or CLOSE, not 'AJAR'"
    quoted = tapir("sim", "console", "DOOR CLOSE", home=home)  # the whole line as one word
    assert quoted.returncode == 0, quoted.stderr
    assert quoted.stdout.strip() == "door closed"


def test_foreground_daemon_logs_clients_and_saves_on_sigint(tmp_path: Path, config: Path) -> None:
    state = tmp_path / "state"
    daemon = Daemon(state)
    try:
        daemon.start(config)
        assert tapir("sim", "console", "DOOR", "OPEN", "--state", str(state)).returncode == 0
        daemon.proc.send_signal(signal.SIGINT)
        assert daemon.proc.wait(10) == 0
    finally:
        daemon.kill()
    log = daemon.log()
    assert f"socket:  {state / 'hwsim.sock'}" in log
    assert "client 1 connected" in log and "client 1 disconnected" in log
    assert "stopping: saving library state" in log
    assert json.loads((state / "library.json").read_text())["door_open"] is True


def test_bad_toml_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[library]\nslots = 'many'\n")
    for detach in ([], ["--detach"]):
        result = tapir(
            "sim", "start", *detach, "--config", str(bad), "--state", str(tmp_path / "s")
        )
        line = one_error_line(result)
        assert line.startswith(f"tapir: {bad}: ")
        assert "slots" in line
    broken = tmp_path / "broken.toml"
    broken.write_text("[library\n")
    line = one_error_line(tapir("sim", "start", "--config", str(broken), "--state", str(tmp_path)))
    assert line.startswith(f"tapir: {broken}: ") and "TOML" in line
    missing = tmp_path / "missing.toml"
    line = one_error_line(tapir("sim", "start", "--config", str(missing), "--state", str(tmp_path)))
    assert str(missing) in line


def test_missing_or_corrupt_state_is_one_line_exit_2(tmp_path: Path, config: Path) -> None:
    nowhere = tmp_path / "nowhere"
    for command in (["status"], ["inventory"], ["fault", "list"]):
        line = one_error_line(tapir("sim", *command, "--state", str(nowhere)))
        assert str(nowhere) in line and "no simulated library" in line
    assert not nowhere.exists()
    state = tmp_path / "state"
    Daemon(state).start(config).stop()
    (state / "library.json").write_text("{ not json")
    line = one_error_line(tapir("sim", "inventory", "--state", str(state)))
    assert f"{state / 'library.json'}: corrupt" in line
    line = one_error_line(tapir("sim", "start", "--state", str(state)))
    assert "corrupt" in line


def test_second_daemon_on_the_same_state_is_refused(tmp_path: Path, config: Path) -> None:
    state = tmp_path / "state"
    first = Daemon(state).start(config)
    try:
        line = one_error_line(tapir("sim", "start", "--state", str(state)), code=1)
        assert "a hwsim daemon is already running" in line
        # without its socket the daemon is still found by the state directory's lock
        hidden = state / "hidden.sock"
        (state / "hwsim.sock").rename(hidden)
        line = one_error_line(tapir("sim", "start", "--state", str(state)))
        assert f"library in {state} is in use by pid {first.proc.pid}" in line
        hidden.rename(state / "hwsim.sock")
        assert first.control("PING")["lines"] == ["PONG"]  # the first one still serves
    finally:
        first.kill()


def test_realtime_start_paces_the_drives(tmp_path: Path, config: Path) -> None:
    state = tmp_path / "state"
    started = tapir(
        "sim", "start", "--detach", "--realtime", "--config", str(config), "--state", str(state)
    )
    assert started.returncode == 0, started.stderr
    pid = int((state / "hwsim.pid").read_text())
    try:
        report = json.loads(tapir("sim", "status", "--state", str(state), "--json").stdout)
        assert [d["realtime"] for d in report["status"]["drives"].values()] == [True, True]
    finally:
        assert tapir("sim", "stop", "--state", str(state)).returncode == 0
        if psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)
