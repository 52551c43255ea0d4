"""Running a job that got its resources: lease heartbeats, control at checkpoints, release.

``run_granted`` starts a ``LeaseKeeper`` thread (renews the holder's lease every
``heartbeat_s``; a lease found gone means the sweeper declared this holder dead: the job is
told to stop), runs the job type's executor (executors.py) in the calling thread, and always
releases the lease and its reservations at the end, which wakes every waiting job.

The executor polls ``JobContext.should_stop`` at each checkpoint; when it stops,
``JobContext.stop_as`` says how the run ends, from the pending control request:
cancel -> the cancel's status (CANCELED / CANCELED_TIMED_OUT) and ENDED; suspend -> RESUMED and
SUSPENDED; interrupt (preemption) or a lost lease -> RESUMED and WAITING with "No resources
available." (seed 004); the job's next run resumes from that checkpoint.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.catalog.db import Catalog
from engine.catalog.jobs_model import Job
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager import queue, reasons
from engine.manager.clock import SYSTEM_CLOCK, Clock
from engine.manager.config import ManagerConfig
from engine.manager.control import pending_control
from engine.manager.queue import ControlAction
from engine.manager.reservations import Reservations
from engine.manager.resources import Grant, Kind

LEASE_LOST = (
    "Its reservations were released while it ran (its lease expired); it resumes from its last "
    "checkpoint."
)


@dataclass
class JobContext:
    """What an executor gets: the job, what was reserved for it, and the stop protocol."""

    job: Job
    grant: Grant
    holder: str
    catalog: Catalog
    site: Any
    config: ManagerConfig
    reservations: Reservations
    actor: str = "tapir-manager"
    clock: Clock = SYSTEM_CLOCK
    extras: dict[str, Any] = field(default_factory=dict)
    """Callbacks of a foreground command (``progress``, ``on_item_error``)."""
    lost: threading.Event = field(default_factory=threading.Event)
    outcome: Any = None
    """What the executor returns (the backup's ``RunOutcome``), for the foreground CLI."""

    def _shutting_down(self) -> bool:
        event = self.extras.get("shutdown")
        return event is not None and event.is_set()

    def should_stop(self) -> bool:
        """Polled at each checkpoint (any thread, one catalog read)."""
        return (
            self.lost.is_set()
            or self._shutting_down()
            or pending_control(self.catalog, self.job.id) is not None
        )

    def cancel_requested(self) -> bool:
        """What a non-preemptable job (restore, verify) polls between members: it cannot be
        suspended or interrupted, only canceled (one catalog read)."""
        request = pending_control(self.catalog, self.job.id)
        return request is not None and request.action is ControlAction.CANCEL

    def cancel_as(self) -> tuple[CompletionStatus, str]:
        """The pending cancel's status (CANCELED / CANCELED_TIMED_OUT) and reason."""
        request = pending_control(self.catalog, self.job.id)
        if request is None or request.action is not ControlAction.CANCEL:
            return CompletionStatus.CANCELED, "Canceled."
        return request.status or CompletionStatus.CANCELED, request.reason

    def stop_as(self) -> tuple[CompletionStatus, JobState, str]:
        if self.lost.is_set():
            return CompletionStatus.RESUMED, JobState.WAITING, LEASE_LOST
        request = pending_control(self.catalog, self.job.id)
        if request is None and self._shutting_down():
            state = JobsStore(self.catalog).get_job(self.job.id).state
            then = JobState.QUEUED if state is JobState.RUNNING else JobState.WAITING
            return CompletionStatus.RESUMED, then, SHUTDOWN_REASON
        if request is not None and request.action is ControlAction.CANCEL:
            status = request.status or CompletionStatus.CANCELED
            return status, JobState.ENDED, request.reason
        if request is not None and request.action is ControlAction.SUSPEND:
            return CompletionStatus.RESUMED, JobState.SUSPENDED, request.reason
        return CompletionStatus.RESUMED, JobState.WAITING, reasons.NO_RESOURCES

    def claim(self, kind: Kind, key: str, grp: str) -> bool:
        """Reserve one more key while running (reservations.py ``claim``)."""
        return self.reservations.claim(self.holder, self.job.id, kind.value, key, grp)

    def others_media(self) -> set[str]:
        """Media reserved by other jobs (a backup's target never picks them)."""
        return {
            h.key
            for h in self.reservations.held()
            if h.kind == Kind.MEDIUM.value and h.job_id != self.job.id
        }


SHUTDOWN_REASON = "Stopped with its server; it resumes from its last checkpoint."
Executor = Callable[[JobContext], None]


class LeaseKeeper:
    """A daemon thread renewing one lease until ``stop``."""

    def __init__(self, ctx: JobContext, every_s: float) -> None:
        self.ctx = ctx
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"tapir-lease-{ctx.job.id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        jobs = JobsStore(self.ctx.catalog)
        while not self._stop.wait(self.every_s):
            run = jobs.open_run(self.ctx.job.id)
            alive = self.ctx.reservations.heartbeat(
                self.ctx.holder, run_id=run.id if run is not None else None
            )
            if not alive:
                self.ctx.lost.set()
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_granted(ctx: JobContext, executor: Executor) -> None:
    """Run ``executor`` holding ``ctx.grant`` (module docstring); always releases."""
    keeper = LeaseKeeper(ctx, ctx.config.heartbeat_s)
    keeper.start()
    try:
        executor(ctx)
    finally:
        keeper.stop()
        ctx.reservations.release(ctx.holder)
        _clear_control(ctx.catalog, ctx.job.id)


def _clear_control(catalog: Catalog, job_id: int) -> None:
    """A request the job has acted on (it is no longer at work) is done."""
    state = JobsStore(catalog).get_job(job_id).state
    if state not in (JobState.RUNNING, JobState.CANCEL_PENDING, JobState.SUSPEND_PENDING):
        with contextlib.suppress(Exception):
            queue.set_control(catalog, job_id, None)
