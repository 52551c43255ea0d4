"""``tapir backup`` in the foreground goes through the job manager: while another process
holds the only drive it waits and says why, retries as soon as the drive is released (here by
the sweeper, after the holder was killed with SIGKILL), then runs; Ctrl-C while waiting
cancels it before start."""

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
from engine.jobs.vocabulary import Detail
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

S = JobState


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    daemon, site_config = daemon_site_config(tmp_path)
    try:
        yield site_config
    finally:
        daemon.stop()


def backup(tmp: Path, src: Path, name: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    env = cli_env(tmp / "home")
    env["XDG_CONFIG_HOME"] = str(tmp / "xdg-config")
    env["TAPIR_CONFIG"] = str(site_config_toml(tmp))
    out, err = tmp / f"{name}.out", tmp / f"{name}.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli.main", "backup", str(src), "--to", "lib1",
             "--name", name],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
        )  # fmt: skip
    return proc, out, err


def test_foreground_backup_waits_with_its_reason_and_runs_once_released(
    tmp_path: Path, served: Any
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello\n")
    catalog = open_catalog(served.catalog)
    jobs = JobsStore(catalog)
    label = jobs.create_job("label", "label a tape", {"resources": [{"drive": "lib1"}]})
    queue.submit(catalog, label)
    proc = holder(served, label)
    first, first_out, first_err = backup(tmp_path, src, "first")
    second, _, second_err = backup(tmp_path, src, "second")
    try:
        waiting = f"waiting: {reasons.NO_DRIVES}"
        wait_until(lambda: waiting in first_err.read_text(), "the first backup says why")
        wait_until(lambda: waiting in second_err.read_text(), "the second backup says why")
        second.send_signal(signal.SIGINT)
        assert second.wait(60) == 130, second_err.read_text()
        kill(proc)
        swept = Sweeper(catalog, CONFIG).sweep()
        assert first.wait(120) == 0, first_err.read_text()
    finally:
        for p in (first, second):
            if p.poll() is None:
                p.kill()
                p.wait()
    rows = {j.job.name: j.job for j in jobs.list_jobs()}
    catalog.close()
    assert [s.job_id for s in swept] == [label]
    assert "COMPLETED" in first_out.read_text()
    assert rows["first"].status is CompletionStatus.COMPLETED
    assert (rows["second"].state, rows["second"].status, rows["second"].detail) == (
        S.ENDED,
        CompletionStatus.CANCELED,
        Detail.CANCELED_BEFORE_START,
    )
