"""A drive that stops answering beyond the job's device timeout (``BackupSpec.drive_wait_s``,
``tapir backup --drive-wait``) ends the job TIMED_OUT with the drive named; one that answers
again within it does not. Through the manager, in-process hwsim."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.backup.job_spec import BackupSpec
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager.foreground import run_managed
from engine.manager.reservations import Reservations
from hwsim.faults import Fault
from tests.engine.backup.backup_util import RECORD, make_site
from tests.engine.backup.fault_util import sim_faults
from tests.engine.manager.manager_util import CONFIG


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


def test_a_drive_that_stops_answering_ends_the_job_timed_out(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for n in range(40):
        (src / f"f{n:02}").write_bytes(os.urandom(50_000))
    with make_site(tmp_path) as site:
        catalog = site.catalog()
        jobs = JobsStore(catalog)
        sim_faults(site).arm(Fault("drive_offline", "drive0", nth=5, opcode="WRITE_6"))
        spec = BackupSpec(
            str(src), "lib1", record_size=RECORD, checkpoint_bytes=400_000, drive_wait_s=0.05
        )
        job = jobs.create_job("backup", spec.job_name(), spec.to_dict())
        out = run_managed(site, catalog, job, CONFIG, extras={"spec": spec})
        final, (run,) = jobs.get_job(job), jobs.runs(job)
        held = Reservations(catalog, lease_s=CONFIG.lease_s).held(job)
    assert out.status is CompletionStatus.TIMED_OUT, out.error
    assert (final.state, final.status) == (JobState.ENDED, CompletionStatus.TIMED_OUT)
    assert run.status is CompletionStatus.TIMED_OUT
    assert "Drive drive0 stopped answering while writing" in (run.error or "")
    assert "did not answer again within 0.05 s" in (run.error or "")
    assert held == []
