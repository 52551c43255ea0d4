"""The server loop in a thread: it runs a queued backup; stopped meanwhile, the backup stops
at its next checkpoint and is queued again; the next server resumes it from there."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.backup.pipeline import PipelineOptions
from engine.backup.reader import open_source
from engine.catalog.db import open_catalog
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager import executors, queue
from engine.manager.executors import backup_spec_from_dict
from engine.manager.runner import SHUTDOWN_REASON, JobContext
from engine.manager.server import Server
from engine.site import Site
from tests.engine.backup.backup_util import RECORD
from tests.engine.manager.manager_util import CONFIG, daemon_site_config, wait_until

FILES, SIZE, GATE_AT = 16, 100_000, 6
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


def test_stopping_the_server_queues_its_backup_which_the_next_server_resumes(
    tmp_path: Path, served: Any
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for n in range(FILES):
        (src / f"f{n:02}.bin").write_bytes(os.urandom(SIZE))
    gate = threading.Event()

    def gated(path: str) -> Any:
        if path.endswith(f"f{GATE_AT:02}.bin"):
            gate.wait(60)
        return open_source(path)

    def backup(ctx: JobContext) -> None:  # the real executor, with a reader that waits
        spec = backup_spec_from_dict(ctx.job.spec, name=ctx.job.name)
        ctx.extras["spec"] = dataclasses.replace(
            spec, tuning=PipelineOptions(opener=gated, readers=1)
        )
        executors.backup(ctx)

    catalog = open_catalog(served.catalog)
    jobs = JobsStore(catalog)
    spec = {"source": str(src), "target": "lib1", "record_size": RECORD,
            "checkpoint_bytes": RECORD}  # fmt: skip
    job = jobs.create_job("backup", "nightly", spec)
    queue.submit(catalog, job)

    def serve() -> tuple[Server, threading.Thread]:
        server = Server(lambda: Site(served), catalog, CONFIG, executors={"backup": backup},
                        log=lambda _: None)  # fmt: skip
        thread = threading.Thread(target=server.run)
        thread.start()
        return server, thread

    try:
        server, thread = serve()
        wait_until(lambda: jobs.get_job(job).state is S.RUNNING, "the server runs it")
        server.stop()
        gate.set()
        thread.join(60)
        stopped = jobs.get_job(job)
        server, thread = serve()
        wait_until(lambda: jobs.get_job(job).state is S.ENDED, "the next server resumes it", 120)
        server.stop()
        thread.join(60)
        final, runs = jobs.get_job(job), jobs.runs(job)
    finally:
        gate.set()
        catalog.close()
    assert (stopped.state, stopped.state_reason) == (S.QUEUED, SHUTDOWN_REASON)
    assert final.status is CompletionStatus.COMPLETED, final.state_reason
    assert [r.status for r in runs] == [CompletionStatus.RESUMED, CompletionStatus.COMPLETED]
    assert runs[0].files + runs[1].files == FILES
