"""``tapir verify`` is a job of the job manager like backups and restores: while another
process holds the only drive it waits and says why, then reads its tapes once the holder is
gone (killed here, released by the sweeper)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.catalog.db import open_catalog
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus
from engine.manager import queue, reasons
from engine.manager.sweeper import Sweeper
from tests.engine.manager.manager_util import (
    CONFIG,
    daemon_site_config,
    site_config_toml,
    wait_until,
)
from tests.engine.manager.test_sweeper import holder, kill
from tests.hwsim.daemon_util import REPO, cli_env


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    daemon, site_config = daemon_site_config(tmp_path)
    try:
        yield site_config
    finally:
        daemon.stop()


def tapir(tmp: Path, *args: str, out: Path | None = None, err: Path | None = None) -> Any:
    env = cli_env(tmp / "home")
    env["XDG_CONFIG_HOME"] = str(tmp / "xdg-config")
    env["TAPIR_CONFIG"] = str(site_config_toml(tmp))
    command = [sys.executable, "-m", "engine.cli.main", *args]
    if out is None or err is None:
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    with open(out, "wb") as o, open(err, "wb") as e:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=o, stderr=e)


def test_verify_waits_for_the_drive_with_its_reason_then_runs(tmp_path: Path, served: Any) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for n in range(3):
        (src / f"f{n}").write_bytes(bytes([n]) * 70_000)
    backed = tapir(tmp_path, "backup", str(src), "--to", "lib1")
    assert backed.returncode == 0, backed.stderr
    catalog = open_catalog(served.catalog)
    jobs = JobsStore(catalog)
    label = jobs.create_job("label", "label a tape", {"resources": [{"drive": "lib1"}]})
    queue.submit(catalog, label)
    proc = holder(served, label)
    out, err = tmp_path / "verify.out", tmp_path / "verify.err"
    verify = tapir(tmp_path, "verify", "1", out=out, err=err)
    try:
        wait_until(lambda: f"waiting: {reasons.NO_DRIVES}" in err.read_text(), "verify says why")
        assert verify.poll() is None, "it waits while the drive is held"
        kill(proc)
        Sweeper(catalog, CONFIG).sweep()
        assert verify.wait(120) == 0, err.read_text()
    finally:
        if verify.poll() is None:
            verify.kill()
            verify.wait()
    rows = [j.job for j in jobs.list_jobs() if j.job.type == "verify"]
    catalog.close()
    assert "verified: 3 files" in out.read_text()
    assert [(j.name, j.status) for j in rows] == [("verify job 1", CompletionStatus.COMPLETED)]
