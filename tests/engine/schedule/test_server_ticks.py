"""End to end under the manager's server loop: the scheduler tick submits a due backup, the
dispatcher runs it (to a disk mount path), and the notifier tick posts its completion to a
local HTTP receiver."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from engine.catalog.db import open_catalog
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager.config import ManagerConfig
from engine.manager.server import Server
from engine.schedule.ticks import server_ticks
from tests.engine.backup.backup_util import make_site
from tests.engine.notify.conftest import Receiver, receiver  # noqa: F401  (fixture)

DEADLINE_S = 60.0
"""Upper bound on waiting for the server (not a timing assertion: the loop polls)."""


def _wait_for(check: object, what: str) -> None:
    end = time.monotonic() + DEADLINE_S
    while not check():  # type: ignore[operator]
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.1)


def test_the_server_runs_the_scheduler_dispatcher_and_notifier(
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811
) -> None:
    src, disk = tmp_path / "src", tmp_path / "disk"
    src.mkdir()
    disk.mkdir()
    for n in range(5):
        (src / f"file{n}.txt").write_text(f"content {n}\n" * 100)
    definitions = tmp_path / "jobs.toml"
    definitions.write_text(
        f'[jobs.often]\nsource = "{src}"\ntarget = "{disk}"\n'
        'schedule = "* * * * *"\nwindow = "1h"\n'
        f'[[jobs.often.notify]]\non = ["completed", "failed"]\nwebhook = "{receiver.url}"\n'
    )
    site = make_site(tmp_path, mounts=(disk,))
    catalog = open_catalog(site.config.catalog)
    ticks = [(name, 0.2, tick) for name, _, tick in server_ticks(catalog, definitions)]
    server = Server(
        lambda: make_site(tmp_path, mounts=(disk,)),
        catalog,
        ManagerConfig(dispatch_interval_s=0.2, cleanup_interval_min=60.0),
        ticks=ticks,
        log=lambda line: None,
    )
    thread = threading.Thread(target=server.run)
    thread.start()
    jobs = JobsStore(catalog)
    try:
        _wait_for(lambda: jobs.list_jobs(), "the scheduler to submit the job")
        job_id = jobs.list_jobs()[0].job.id
        _wait_for(lambda: jobs.get_job(job_id).state is JobState.ENDED, "the backup to end")
        _wait_for(lambda: receiver.posts, "the completion notice")
    finally:
        server.stop()
        thread.join(DEADLINE_S)
    job = jobs.get_job(job_id)
    assert job.name == "often" and job.status is CompletionStatus.COMPLETED, job.state_reason
    (run,) = jobs.runs(job_id)
    assert run.files >= 5
    ((_, _, doc),) = [p for p in receiver.posts if p[2]["job"]["id"] == job_id]
    assert doc["event"] == "completed" and doc["definition"] == "often"
    site.close()
    catalog.close()
