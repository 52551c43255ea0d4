"""Administrators' (and the manager's own) control of jobs: cancel, suspend, resume, priority,
and the interrupt a preempting job asks for.

A job that holds nothing (NOT_SUBMITTED, QUEUED, WAITING, SUSPENDED) is moved at once: a
cancel ends it (CANCELED before start, or while running for a job whose run was interrupted
and is waiting to resume: the jobs store tells them apart by whether its run started); a
suspend makes it SUSPENDED. A job at work (RUNNING, INTERRUPT_PENDING, SUSPEND_PENDING) gets
the request recorded in its ``job_queue`` row (with the completion status a cancel must end
with) and moves to CANCEL_PENDING / SUSPEND_PENDING / INTERRUPT_PENDING; its holder polls
``pending_control`` at each checkpoint, stops there, releases everything and ends or waits
(runner.py). A holder that died is dealt with by the sweeper, which honours the request.

``request_cancel`` is the one path for every cancel: the administrator's (CANCELED) and the
schedule's timeout watchdog (CANCELED_TIMED_OUT).

Every function is safe from any process: moves are compare-and-set (JobsStore.transition);
a job that moved meanwhile is read again and the request applied to its new state.
"""

from __future__ import annotations

from engine.catalog.db import Catalog
from engine.catalog.jobs_model import JobsError, StaleJob
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager import queue
from engine.manager.clock import SYSTEM_CLOCK, Clock
from engine.manager.jobtypes import JobType, job_type
from engine.manager.queue import ControlAction, ControlRequest

S = JobState
IDLE = frozenset({S.NOT_SUBMITTED, S.QUEUED, S.WAITING, S.SUSPENDED})
AT_WORK = frozenset({S.RUNNING, S.INTERRUPT_PENDING, S.SUSPEND_PENDING})
CANCEL_STATUSES = frozenset({CompletionStatus.CANCELED, CompletionStatus.CANCELED_TIMED_OUT})
ATTEMPTS = 5
"""Compare-and-set retries: each lost race means the job moved; five in a row is a bug."""


class ControlError(JobsError):
    """A control request the job's state or type does not allow; one sentence."""

    code = "jobs.control"


def _default_reason(status: CompletionStatus, actor: str) -> str:
    if status is CompletionStatus.CANCELED_TIMED_OUT:
        return "Canceled: it ran past its allowed time."
    return f"Canceled by {actor}."


def request_cancel(
    catalog: Catalog,
    job_id: int,
    status: CompletionStatus = CompletionStatus.CANCELED,
    reason: str | None = None,
    actor: str = "tapir",
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> JobState:
    """Cancel ``job_id``; returns its state after the request (ENDED, or CANCEL_PENDING while
    its holder stops). ``status``: CANCELED or CANCELED_TIMED_OUT. Raises ``ControlError``
    for a job that already ended, ``UnknownJob``."""
    if status not in CANCEL_STATUSES:
        raise ValueError(f"a cancel ends CANCELED or CANCELED_TIMED_OUT, not {status.value}")
    reason = reason or _default_reason(status, actor)
    jobs = JobsStore(catalog)
    for _ in range(ATTEMPTS):
        job = jobs.get_job(job_id)
        try:
            if job.state in IDLE:
                jobs.transition(
                    job_id,
                    S.ENDED,
                    actor=actor,
                    reason=reason,
                    status=status,
                    expected=job.state,
                    now=clock.now(),
                )
                queue.set_control(catalog, job_id, None)
                return S.ENDED
            if job.state in AT_WORK:
                queue.set_control(
                    catalog,
                    job_id,
                    ControlAction.CANCEL,
                    status=status,
                    reason=reason,
                    actor=actor,
                    at=clock.now(),
                )
                jobs.transition(
                    job_id,
                    S.CANCEL_PENDING,
                    actor=actor,
                    reason=reason,
                    expected=job.state,
                    now=clock.now(),
                )
                return S.CANCEL_PENDING
        except StaleJob:
            continue
        if job.state is S.CANCEL_PENDING:
            return S.CANCEL_PENDING  # the first cancel's status stands
        raise ControlError(f"Job {job_id} has ended ({_status(job.status)}): nothing to cancel.")
    raise ControlError(f"Job {job_id} kept changing state; try again.")


def request_suspend(
    catalog: Catalog,
    job_id: int,
    reason: str | None = None,
    actor: str = "tapir",
    *,
    types: dict[str, JobType] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> JobState:
    """Suspend ``job_id`` (it then holds no drive). A non-preemptable job cannot be suspended
    (seed 004): ``ControlError`` says to cancel it instead."""
    jobs = JobsStore(catalog)
    reason = reason or f"Suspended by {actor}."
    for _ in range(ATTEMPTS):
        job = jobs.get_job(job_id)
        kind = (types or {}).get(job.type) or job_type(job.type)
        if not kind.preemptable and job.state not in (S.NOT_SUBMITTED, S.QUEUED, S.WAITING):
            raise ControlError(
                f"Job {job_id} ({job.type}) is not preemptable: it cannot be suspended while "
                "it runs; cancel it instead."
            )
        try:
            if job.state in (S.QUEUED, S.WAITING):
                jobs.transition(
                    job_id,
                    S.SUSPENDED,
                    actor=actor,
                    reason=reason,
                    expected=job.state,
                    now=clock.now(),
                )
                return S.SUSPENDED
            if job.state in (S.RUNNING, S.INTERRUPT_PENDING):
                queue.set_control(
                    catalog,
                    job_id,
                    ControlAction.SUSPEND,
                    reason=reason,
                    actor=actor,
                    at=clock.now(),
                )
                jobs.transition(
                    job_id,
                    S.SUSPEND_PENDING,
                    actor=actor,
                    reason=reason,
                    expected=job.state,
                    now=clock.now(),
                )
                return S.SUSPEND_PENDING
        except StaleJob:
            continue
        if job.state in (S.SUSPENDED, S.SUSPEND_PENDING):
            return job.state
        raise ControlError(f"Job {job_id} is {job.state.value}: it cannot be suspended.")
    raise ControlError(f"Job {job_id} kept changing state; try again.")


def resume(
    catalog: Catalog, job_id: int, actor: str = "tapir", *, clock: Clock = SYSTEM_CLOCK
) -> JobState:
    """Put a SUSPENDED job back in the queue (it resumes from its last checkpoint)."""
    jobs = JobsStore(catalog)
    job = jobs.get_job(job_id)
    if job.state is S.SUSPEND_PENDING:
        raise ControlError(
            f"Job {job_id} is still stopping at its next checkpoint; resume it once it is "
            "SUSPENDED."
        )
    if job.state is not S.SUSPENDED:
        raise ControlError(f"Job {job_id} is {job.state.value}, not SUSPENDED: nothing to resume.")
    jobs.transition(
        job_id,
        S.QUEUED,
        actor=actor,
        reason=f"Resumed by {actor}.",
        expected=S.SUSPENDED,
        now=clock.now(),
    )
    queue.set_control(catalog, job_id, None)
    with catalog.write() as conn:
        queue.update_entry(conn, job_id, next_attempt_at=None)
        queue.bump(conn, queue.RELEASED)
    return S.QUEUED


def set_priority(catalog: Catalog, job_id: int, priority: int) -> None:
    """Change the priority (lower numbers go first); waiting jobs are looked at again."""
    jobs = JobsStore(catalog)
    if jobs.get_job(job_id).state is S.ENDED:
        raise ControlError(f"Job {job_id} has ended: its priority no longer matters.")
    jobs.set_priority(job_id, priority)
    with catalog.write() as conn:
        queue.bump(conn, queue.RELEASED)


def request_interrupt(
    catalog: Catalog,
    job_id: int,
    by_job: int,
    *,
    actor: str = "tapir-manager",
    clock: Clock = SYSTEM_CLOCK,
) -> bool:
    """Ask the RUNNING preemptable ``job_id`` to yield its resources to ``by_job`` at its next
    checkpoint. False when it is no longer RUNNING (it already stops or ended)."""
    reason = f"Interrupted by job {by_job}, which needs its resources."
    queue.set_control(
        catalog, job_id, ControlAction.INTERRUPT, reason=reason, actor=actor, at=clock.now()
    )
    try:
        JobsStore(catalog).transition(
            job_id,
            S.INTERRUPT_PENDING,
            actor=actor,
            reason=reason,
            expected=S.RUNNING,
            now=clock.now(),
        )
    except StaleJob:
        return False
    return True


def pending_control(catalog: Catalog, job_id: int) -> ControlRequest | None:
    """What the job's holder is asked to do at its next checkpoint, if anything."""
    entry = queue.get_entry(catalog, job_id)
    return entry.control if entry is not None else None


def _status(status: CompletionStatus | None) -> str:
    return status.value if status is not None else "no status"
