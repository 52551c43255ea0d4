"""A running backup preempted by a higher-priority restore: the backup stops at its next
checkpoint and waits, the restore runs, then the backup resumes from that checkpoint without
writing again what it had written. Real threads, one catalog, a hwsim daemon with one drive."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.backup.job_spec import BackupSpec
from engine.backup.pipeline import PipelineOptions
from engine.backup.reader import open_source
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager import reasons
from engine.manager.foreground import run_managed
from engine.restore.job import JOB_TYPE as RESTORE
from engine.restore.job import RestoreSpec
from engine.site import Site
from tests.engine.backup.backup_util import RECORD
from tests.engine.format.treecmp import compare_trees
from tests.engine.manager.manager_util import CONFIG, daemon_site_config, wait_until

FILES = 30
FILE_SIZE = 150_000
GATE_AT = 12
"""The backup's reader blocks at this file until the test opens the gate."""
S = JobState


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    daemon, site_config = daemon_site_config(tmp_path)
    try:
        yield site_config
    finally:
        daemon.stop()


def tree(root: Path, files: int, size: int) -> Path:
    root.mkdir(parents=True)
    for n in range(files):
        (root / f"f{n:02}.bin").write_bytes(os.urandom(size))
    return root


def run_job(site_config: Any, job_id: int, extras: dict[str, Any], out: dict[int, Any]) -> None:
    with Site(site_config) as site:
        out[job_id] = run_managed(site, site.catalog(), job_id, CONFIG, extras=extras)


def test_restore_preempts_backup_which_resumes_from_its_checkpoint(
    tmp_path: Path, served: Any
) -> None:
    small = tree(tmp_path / "small", 3, 10_000)
    big = tree(tmp_path / "big", FILES, FILE_SIZE)
    gate = threading.Event()

    def gated(path: str) -> Any:
        if path.endswith(f"f{GATE_AT:02}.bin"):
            gate.wait(60)
        return open_source(path)

    with Site(served) as site:
        jobs = JobsStore(site.catalog())
        first = BackupSpec(str(small), "lib1", record_size=RECORD)
        a = jobs.create_job("backup", first.job_name(), first.to_dict())
        assert run_managed(site, site.catalog(), a, CONFIG, extras={"spec": first}).status is (
            CompletionStatus.COMPLETED
        )
        spec_b = BackupSpec(
            str(big), "lib1", record_size=RECORD, checkpoint_bytes=RECORD,
            tuning=PipelineOptions(opener=gated, readers=1),
        )  # fmt: skip
        b = jobs.create_job("backup", spec_b.job_name(), spec_b.to_dict(), priority=200)
        restore = RestoreSpec((str(small),), root=str(tmp_path / "dst"), as_of_job=a)
        r = jobs.create_job(RESTORE, "restore small", restore.to_dict(), priority=10)
    out: dict[int, Any] = {}
    backup = threading.Thread(target=run_job, args=(served, b, {"spec": spec_b}, out))
    backup.start()
    with Site(served) as site:
        jobs = JobsStore(site.catalog())
        wait_until(lambda: jobs.get_job(b).state is S.RUNNING, "the backup runs")
        restoring = threading.Thread(target=run_job, args=(served, r, {"spec": restore}, out))
        restoring.start()
        wait_until(lambda: jobs.get_job(b).state is S.INTERRUPT_PENDING, "backup interrupted")
        wait_until(lambda: jobs.get_job(r).state is S.WAITING, "the restore waits")
        assert jobs.get_job(r).state_reason == f"Waiting for job(s) [{b}] to release the resources."
        gate.set()
        restoring.join(120)
        backup.join(120)
        assert not restoring.is_alive() and not backup.is_alive()
        moves = [(t.old, t.new, t.reason) for t in jobs.transitions(b)]
        runs = jobs.runs(b)
        final_b, final_r = jobs.get_job(b), jobs.get_job(r)
        r_started = jobs.runs(r)[-1].started_at
    assert (S.INTERRUPT_PENDING, S.WAITING, reasons.NO_RESOURCES) in moves
    assert final_r.status is CompletionStatus.COMPLETED, final_r.state_reason
    assert compare_trees(small, tmp_path / "dst" / str(small).lstrip("/")) == []
    assert final_b.status is CompletionStatus.COMPLETED, final_b.state_reason
    assert [run.status for run in runs] == [CompletionStatus.RESUMED, CompletionStatus.COMPLETED]
    # the restore ran while the backup waited, between its two runs
    assert runs[0].ended_at is not None and r_started is not None
    assert runs[0].ended_at <= r_started <= runs[1].started_at  # type: ignore[operator]
    # resumed from the checkpoint: nothing the first run wrote was written again
    assert 0 < runs[0].files < FILES
    assert runs[0].files + runs[1].files == FILES
    assert runs[1].bytes == (FILES - runs[0].files) * FILE_SIZE
