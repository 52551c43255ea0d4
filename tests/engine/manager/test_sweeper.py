"""The sweeper: a holder killed with SIGKILL has its reservations released and its run ended
with the right status; a holder whose lease expired loses it and stops."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager import control, queue
from engine.manager.clock import ManualClock
from engine.manager.reservations import Reservations
from engine.manager.runner import JobContext, run_granted
from engine.manager.sweeper import Sweeper
from engine.site import Site
from tests.engine.manager.manager_util import (
    CONFIG,
    add_job,
    daemon_site_config,
    dispatcher,
    wait_until,
)
from tests.hwsim.daemon_util import REPO, cli_env

S = JobState
DRIVE = {"drive": "lib1"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    daemon, site_config = daemon_site_config(tmp_path)
    try:
        yield site_config
    finally:
        daemon.stop()


def holder(served: Any, job_id: int) -> subprocess.Popen[str]:
    """A real process holding ``job_id``'s reservations (tests/engine/manager/holder.py)."""
    state = str(served.libraries[0].state_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.engine.manager.holder", state, served.catalog, str(job_id)],
        cwd=REPO,
        env=cli_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    return proc


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


@pytest.mark.parametrize(
    ("kind", "state", "status"),
    [
        ("verify", S.QUEUED, CompletionStatus.RESUMED),  # restartable: queued again
        ("label", S.ENDED, CompletionStatus.FAILED),  # not restartable: the job fails
    ],
)
def test_a_holder_killed_with_sigkill_is_swept(
    served: Any, kind: str, state: JobState, status: CompletionStatus
) -> None:
    with Site(served) as site:
        catalog = site.catalog()
        job = add_job(site, kind, [DRIVE])
        waiting = add_job(site, "verify", [DRIVE], priority=300)
        proc = holder(served, job)
        reservations = Reservations(catalog, lease_s=CONFIG.lease_s)
        assert [h.key for h in reservations.held(job)] == ["lib1:drive0"]
        d = dispatcher(site, ManualClock())
        assert d.attempt(JobsStore(catalog).get_job(waiting)).grant is None
        sweeper = Sweeper(catalog, CONFIG)
        assert sweeper.sweep() == []  # alive: nothing to do
        kill(proc)
        swept = sweeper.sweep()
        jobs = JobsStore(catalog)
        final, runs = jobs.get_job(job), jobs.runs(job)
        entry = queue.get_entry(catalog, job)
        # a restartable job queued again goes first (better priority); else the waiting one
        first = job if state is S.QUEUED else waiting
        granted = d.attempt(jobs.get_job(first)).grant
    assert [(s.job_id, s.released, s.state, s.status) for s in swept] == [(job, 1, state, status)]
    assert reservations.held(job) == [] or first == job
    assert final.state is state
    assert runs[-1].status is status and runs[-1].ended_at is not None
    assert "stopped answering" in final.state_reason
    assert entry is not None and entry.owner is None  # any server may run it now
    assert granted is not None, "the drive the dead holder had is free again"


def test_an_expired_lease_is_swept_and_its_holder_stops(served: Any) -> None:
    clock = ManualClock()
    with Site(served) as site:
        catalog = site.catalog()
        job = add_job(site, "verify", [DRIVE], clock=clock)
        attempt = dispatcher(site, clock).attempt(JobsStore(catalog).get_job(job))
        assert attempt.grant is not None and attempt.holder is not None
        reservations = Reservations(catalog, lease_s=CONFIG.lease_s, clock=clock)
        started, release = threading.Event(), threading.Event()
        seen: list[bool] = []

        def work(ctx: JobContext) -> None:
            JobsStore(ctx.catalog).transition(ctx.job.id, S.RUNNING, actor="t", reason="go")
            JobsStore(ctx.catalog).start_run(ctx.job.id)
            started.set()
            release.wait(60)
            seen.append(ctx.should_stop())

        job_row = JobsStore(catalog).get_job(job)
        ctx = JobContext(
            job_row, attempt.grant, attempt.holder, catalog, site, CONFIG, reservations
        )
        ctx.clock = clock
        thread = threading.Thread(target=run_granted, args=(ctx, work))
        thread.start()
        assert started.wait(30)
        # the holder's clock stands still, so its heartbeats renew to now + lease; the
        # sweeper's clock is far past that: for it the lease expired
        later = ManualClock(clock.now())
        later.advance(CONFIG.lease_s * 10)
        swept = Sweeper(catalog, CONFIG, clock=later).sweep()
        wait_until(ctx.lost.is_set, "the holder notices its lease is gone")
        release.set()
        thread.join(30)
        final = JobsStore(catalog).get_job(job)
    assert [s.job_id for s in swept] == [job]
    assert seen == [True]
    assert final.state is S.QUEUED


def test_cancel_pending_of_a_dead_holder_ends_with_the_cancels_status(served: Any) -> None:
    with Site(served) as site:
        catalog = site.catalog()
        job = add_job(site, "verify", [DRIVE])
        proc = holder(served, job)
        control.request_cancel(catalog, job, CompletionStatus.CANCELED_TIMED_OUT, actor="wd")
        kill(proc)
        Sweeper(catalog, CONFIG).sweep()
        final = JobsStore(catalog).get_job(job)
    assert (final.state, final.status) == (S.ENDED, CompletionStatus.CANCELED_TIMED_OUT)
