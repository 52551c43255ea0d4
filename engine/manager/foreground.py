"""A job run by the command that asked for it (``tapir backup``, ``tapir restore``): submit,
reserve (waiting, with the reason shown, while others hold what it needs), run, release.

The process is the job's owner: only it dispatches the job, through the same catalog
transactions as ``tapir server``, so the two never hold one drive. While waiting it polls the
``released`` counter (``POLL_S``), so it retries as soon as anything is released anywhere, and
its retry policy's timed attempts. A job preempted while it runs goes back to waiting here and
resumes from its checkpoint once it gets its resources again. Ctrl-C while waiting cancels it
(CANCELED before start); while it runs the job records CANCELED itself.

Call from one thread; ``on_wait`` is called from it whenever the reason for delay changes.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from engine.catalog.db import Catalog
from engine.catalog.jobs_model import Job
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import ACTIVE_STATES, JobState
from engine.manager import control, queue
from engine.manager.clock import SYSTEM_CLOCK, Clock
from engine.manager.config import ManagerConfig
from engine.manager.dispatcher import Dispatcher
from engine.manager.executors import executor_for
from engine.manager.probe import SiteProber
from engine.manager.reservations import HOST, Reservations
from engine.manager.runner import JobContext, run_granted
from engine.manager.sweeper import Sweeper

POLL_S = 0.25
"""How often a waiting foreground job looks for released resources (one small read)."""
S = JobState


def process_owner() -> str:
    """This process as a job owner (the sweeper hands its jobs to servers once it is gone)."""
    return f"pid:{os.getpid()}@{HOST} #{secrets.token_hex(4)}"


def run_managed(
    site: Any,
    catalog: Catalog,
    job_id: int,
    config: ManagerConfig,
    *,
    actor: str = "tapir",
    extras: dict[str, Any] | None = None,
    on_wait: Callable[[Job, str], None] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    poll_s: float = POLL_S,
) -> Any:
    """Run ``job_id`` here once it has its resources (module docstring). Returns what the
    executor produced last (the backup's ``RunOutcome``), or None if it never ran."""
    owner = process_owner()
    # a holder of this job that died (tapir backup killed, then --resume) must not keep it
    Sweeper(catalog, config, clock=clock).sweep()
    queue.submit(catalog, job_id, owner=owner, actor=actor, clock=clock)
    jobs = JobsStore(catalog)
    prober = SiteProber(site, config)
    dispatcher = Dispatcher(catalog, config, prober, owner=owner, clock=clock, fail_fast=True)
    reservations = Reservations(catalog, lease_s=config.lease_s, clock=clock)
    outcome = None
    shown: str | None = None
    try:
        while True:
            job = jobs.get_job(job_id)
            if job.state is S.ENDED:
                return outcome
            reason = job.state_reason
            if job.state in (S.QUEUED, S.WAITING) and any(
                j.id == job_id for j in dispatcher.eligible()
            ):
                attempt = dispatcher.attempt(job)
                if attempt.grant is not None and attempt.holder is not None:
                    ctx = JobContext(
                        job,
                        attempt.grant,
                        attempt.holder,
                        catalog,
                        site,
                        config,
                        reservations,
                        actor=actor,
                        clock=clock,
                        extras=dict(extras or {}),
                    )
                    run_granted(ctx, executor_for(job.type))
                    outcome = ctx.outcome if ctx.outcome is not None else outcome
                    if jobs.get_job(job_id).state in ACTIVE_STATES:
                        return outcome  # the executor left it at work: nothing more to do here
                    shown = None
                    continue
                reason = attempt.reason or reason
            if reason != shown and on_wait is not None and job.state is not S.RUNNING:
                on_wait(jobs.get_job(job_id), reason)
            shown = reason
            time.sleep(poll_s)
    except KeyboardInterrupt:
        state = jobs.get_job(job_id).state
        if state in (S.QUEUED, S.WAITING, S.SUSPENDED):
            control.request_cancel(catalog, job_id, actor=actor, clock=clock)
        raise
