"""``tapir server`` and ``tapir jobs ...`` as an administrator uses them, all real processes:
a drive held by another process, a submitted backup waiting in the server with the reason
``tapir jobs list`` shows, control from the command line, the holder killed with SIGKILL and
swept by the server, the backup then run by it, SIGTERM stopping the server cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.catalog.db import open_catalog
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager import queue, reasons
from tests.engine.cli_util import Tapir
from tests.engine.manager.manager_util import daemon_site_config, site_config_toml, wait_until
from tests.engine.manager.test_sweeper import holder, kill
from tests.hwsim.daemon_util import REPO, cli_env

S = JobState
MANAGER_TOML = "cleanup_interval_min = 0\ndispatch_interval_s = 0.5\nheartbeat_s = 0.5\n"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    daemon, site_config = daemon_site_config(tmp_path)
    try:
        yield site_config
    finally:
        daemon.stop()


def listed(tapir: Tapir) -> dict[int, dict[str, Any]]:
    return {j["id"]: j for j in tapir.json("jobs", "list")}


def start_server(tapir: Tapir, log: Path) -> subprocess.Popen[bytes]:
    env = cli_env(tapir.home)
    env["XDG_CONFIG_HOME"] = str(tapir.root / "xdg-config")
    env["TAPIR_CONFIG"] = str(tapir.config)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "engine.cli.main", "server"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )


def test_server_with_jobs_list_and_control(tmp_path: Path, served: Any) -> None:
    manager_dir = tmp_path / "xdg-config" / "tapir"
    manager_dir.mkdir(parents=True)
    (manager_dir / "manager.toml").write_text(MANAGER_TOML)
    tapir = Tapir(tmp_path, config=site_config_toml(tmp_path))
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello\n")
    catalog = open_catalog(served.catalog)
    jobs = JobsStore(catalog)
    held_by = jobs.create_job("label", "label a tape", {"resources": [{"drive": "lib1"}]})
    queue.submit(catalog, held_by)
    proc = holder(served, held_by)
    backup = int(tapir.ok("backup", str(src), "--to", "lib1", "--submit").split()[1].rstrip(":"))
    other = int(tapir.ok("backup", str(src), "--to", "lib1", "--submit").split()[1].rstrip(":"))
    log = tmp_path / "server.log"
    server = start_server(tapir, log)
    try:
        wait_until(lambda: jobs.get_job(backup).state is S.WAITING, "the backup waits")
        shown = listed(tapir)
        assert shown[backup]["state"] == "WAITING"
        assert shown[backup]["reason"] == reasons.NO_DRIVES
        assert shown[held_by]["state"] == "RUNNING"
        held = tapir.json("jobs", "reservations")
        assert [(r["job"], r["kind"], r["key"]) for r in held] == [
            (held_by, "drive", "lib1:drive0")
        ]
        assert tapir.ok("jobs", "cancel", str(other)).strip() == (
            f"job {other}: ENDED (CANCELED, canceled_before_start)"
        )
        assert tapir.ok("jobs", "suspend", str(backup)).strip() == f"job {backup}: SUSPENDED"
        assert tapir.ok("jobs", "resume", str(backup)).strip() == f"job {backup}: QUEUED"
        assert tapir.ok("jobs", "priority", str(backup), "5").strip() == f"job {backup}: priority 5"
        refused = tapir("jobs", "suspend", str(held_by))
        assert refused.returncode == 2 and "not preemptable" in refused.stderr
        kill(proc)  # the server's sweeper releases the drive; the backup gets it
        wait_until(lambda: jobs.get_job(backup).state is S.ENDED, "the backup ran", 120)
        shown = listed(tapir)
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(60)
        catalog.close()
    text = log.read_text()
    assert code == 0, text
    assert "tapir server: stopped" in text
    assert shown[backup]["status"] == CompletionStatus.COMPLETED.value, text
    assert shown[backup]["priority"] == 5
    assert shown[held_by]["state"] == "ENDED" and shown[held_by]["status"] == "FAILED"
    assert "stopped answering" in shown[held_by]["reason"]
