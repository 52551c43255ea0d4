"""A backup restarted after its drive failed (BackupSpec.restarts) moves to another drive only
once it has reserved it: with the other drive held by another job it waits, WAITING with the
reason for delay, and goes on when that drive is released. In-process hwsim, two drives."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.backup.job_spec import BackupSpec
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager import reasons
from engine.manager.foreground import run_managed
from engine.manager.reservations import Reservations, holder_id
from engine.manager.resources import Kind, Request, drives
from hwsim.faults import Fault
from tests.engine.backup.backup_util import RECORD, make_site
from tests.engine.backup.fault_util import quick_robot, sim_faults
from tests.engine.manager.manager_util import CONFIG, wait_until

S = JobState


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


def test_a_restarted_run_waits_for_a_drive_it_can_reserve(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for n in range(40):
        (src / f"f{n:02}").write_bytes(os.urandom(50_000))
    with make_site(tmp_path) as site:
        quick_robot(site)
        catalog = site.catalog()
        jobs = JobsStore(catalog)
        reservations = Reservations(catalog, lease_s=CONFIG.lease_s)
        other = jobs.create_job("label", "holds drive1", {})
        other_holder = holder_id(other)
        reservations.reserve(other, other_holder, Request((drives("lib1", ["lib1:drive1"]),)))
        sim_faults(site).arm(Fault("drive_offline", "drive0", nth=5, opcode="WRITE_6"))
        spec = BackupSpec(
            str(src), "lib1", record_size=RECORD, checkpoint_bytes=400_000, drive_wait_s=0.05,
            restarts=1,
        )  # fmt: skip
        job = jobs.create_job("backup", spec.job_name(), spec.to_dict())
        out: dict[str, Any] = {}

        def run() -> None:
            out["outcome"] = run_managed(site, catalog, job, CONFIG, extras={"spec": spec})

        thread = threading.Thread(target=run)
        thread.start()
        try:
            wait_until(lambda: jobs.get_job(job).state is S.WAITING, "the restart waits")
            waiting = jobs.get_job(job).state_reason
            mine = {h.key for h in reservations.held(job) if h.kind == Kind.DRIVE.value}
            reservations.release(other_holder)
        finally:
            thread.join(120)
        assert not thread.is_alive()
        runs = jobs.runs(job)
        final_held = reservations.held(job)
    assert waiting.startswith(reasons.NO_DRIVES) and "Drive drive0 failed it" in waiting
    assert "lib1:drive1" not in mine  # never used without its reservation
    assert out["outcome"].status is CompletionStatus.COMPLETED, out["outcome"].error
    assert [r.status for r in runs] == [CompletionStatus.RESUMED, CompletionStatus.COMPLETED]
    assert final_held == []
