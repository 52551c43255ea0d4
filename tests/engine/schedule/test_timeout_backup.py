"""A real backup to the simulated library, submitted by the scheduler and run by the job
manager, is canceled CANCELED_TIMED_OUT when it runs past its definition's max run time: the
scheduler asks (through the manager's cancel request), the run stops at its next checkpoint.

The test keeps the backup running by holding one source file's open until it has moved its
manual clock past the max run time (no sleeps, no timed assertions)."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from engine.backup.job_spec import BackupSpec
from engine.backup.pipeline import PipelineOptions
from engine.backup.reader import open_source
from engine.catalog.db import open_catalog
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager.clock import ManualClock
from engine.manager.foreground import run_managed
from engine.schedule.scheduler import Scheduler
from engine.schedule.store import DefinitionsStore
from tests.engine.backup.backup_util import MIB, RECORD, make_site
from tests.engine.manager.manager_util import CONFIG

FILES = 30
FILE_SIZE = 200_000
HELD = "f12.bin"


def test_a_running_backup_past_its_max_run_time_ends_canceled_timed_out(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for n in range(FILES):
        (src / f"f{n:02}.bin").write_bytes(os.urandom(FILE_SIZE))
    store = DefinitionsStore(tmp_path / "jobs.toml")
    store.path.write_text(
        f'[jobs.nightly]\nsource = "{src}"\ntarget = "lib1"\n'
        'schedule = "* * * * *"\nwindow = "1h"\nmax_run_time = "2h"\n'
    )
    site = make_site(tmp_path)
    catalog = open_catalog(site.config.catalog)
    clock = ManualClock(datetime.now(UTC))
    scheduler = Scheduler(catalog, store, clock=clock)
    (job_id,) = scheduler.tick().submitted

    reached, gate = threading.Event(), threading.Event()

    def opener(path: str):  # the test keeps the backup running at one file
        if path.endswith(HELD):
            reached.set()
            gate.wait(60)
        return open_source(path)

    spec = BackupSpec(
        str(src),
        "lib1",
        record_size=RECORD,
        checkpoint_bytes=MIB,
        name="nightly",
        tuning=PipelineOptions(opener=opener),
    )
    outcome: list[object] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            run_managed(site, site.catalog(), job_id, CONFIG, extras={"spec": spec})
        )
    )
    worker.start()
    try:
        assert reached.wait(60), "the backup never got to the held file"
        jobs = JobsStore(catalog)
        assert jobs.get_job(job_id).state is JobState.RUNNING
        clock.advance(2 * 3600 - 60)
        assert scheduler.tick().timed_out == []
        clock.advance(120)  # the run started a moment after the clock was read
        assert scheduler.tick().timed_out == [job_id]
        assert jobs.get_job(job_id).state is JobState.CANCEL_PENDING
    finally:
        gate.set()
        worker.join(120)
    site.close()
    job = jobs.get_job(job_id)
    assert (job.state, job.status) == (JobState.ENDED, CompletionStatus.CANCELED_TIMED_OUT)
    assert "maximum run time of 2h" in job.state_reason
    (run,) = jobs.runs(job_id)
    assert run.status is CompletionStatus.CANCELED_TIMED_OUT and run.started_at is not None
    committed = FilesStore(catalog).run_summaries(job_id)
    assert committed  # what was flushed before the stop stays catalogued
    assert 0 < run.files < FILES  # it stopped at a checkpoint, not at the end
    catalog.close()
