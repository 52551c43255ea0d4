"""Lifecycle states, completion statuses and the one table of allowed transitions.

Every change of a job's state goes through ``check_transition`` (the persistence layer calls
it before writing, with the time, actor and reason), so an illegal move is an error, never a
silent overwrite. WAITING always carries a reason for delay; ENDED always carries the run's
completion status.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class JobState(enum.StrEnum):
    """Where a job is now (shared/JOB-STATUS.md, axis 1)."""

    NOT_SUBMITTED = "NOT_SUBMITTED"
    QUEUED = "QUEUED"
    WAITING = "WAITING"
    RUNNING = "RUNNING"
    INTERRUPT_PENDING = "INTERRUPT_PENDING"
    SUSPEND_PENDING = "SUSPEND_PENDING"
    SUSPENDED = "SUSPENDED"
    CANCEL_PENDING = "CANCEL_PENDING"
    ENDED = "ENDED"


class CompletionStatus(enum.StrEnum):
    """How one run ended (shared/JOB-STATUS.md, axis 2)."""

    COMPLETED = "COMPLETED"
    COMPLETED_WITH_EXCEPTIONS = "COMPLETED_WITH_EXCEPTIONS"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    FAILED_TO_START = "FAILED_TO_START"
    FAILED_OVER = "FAILED_OVER"
    RESUMED = "RESUMED"
    CANCELED = "CANCELED"
    CANCELED_TIMED_OUT = "CANCELED_TIMED_OUT"
    TIMED_OUT = "TIMED_OUT"
    RECOVERED = "RECOVERED"
    MISSED = "MISSED"


S = JobState

ALLOWED: Mapping[JobState, frozenset[JobState]] = {
    # defined, not yet in the queue: submit it, or drop it
    S.NOT_SUBMITTED: frozenset({S.QUEUED, S.ENDED}),
    # dispatched to wait for resources or run; ended when canceled, missed or unstartable
    S.QUEUED: frozenset({S.WAITING, S.RUNNING, S.SUSPENDED, S.ENDED}),
    # holds nothing: it may start, be suspended or ended directly (no cleanup to wait for)
    S.WAITING: frozenset({S.RUNNING, S.QUEUED, S.SUSPENDED, S.ENDED}),
    # back to QUEUED/WAITING when a run ended and the job goes on (retry, failover, resume)
    S.RUNNING: frozenset(
        {
            S.WAITING,
            S.QUEUED,
            S.INTERRUPT_PENDING,
            S.SUSPEND_PENDING,
            S.CANCEL_PENDING,
            S.ENDED,
        }
    ),
    # yields at its next checkpoint: back to WAITING ("No resources available")
    S.INTERRUPT_PENDING: frozenset({S.WAITING, S.CANCEL_PENDING, S.SUSPEND_PENDING, S.ENDED}),
    S.SUSPEND_PENDING: frozenset({S.SUSPENDED, S.CANCEL_PENDING, S.ENDED}),
    # resume re-queues it; a suspended job holds no drive, so cancel ends it at once
    S.SUSPENDED: frozenset({S.QUEUED, S.ENDED}),
    S.CANCEL_PENDING: frozenset({S.ENDED}),
    S.ENDED: frozenset(),
}

TERMINAL_STATES = frozenset(s for s, targets in ALLOWED.items() if not targets)
ACTIVE_STATES = frozenset(
    {S.RUNNING, S.INTERRUPT_PENDING, S.SUSPEND_PENDING, S.CANCEL_PENDING}
)  # may hold resources and be doing work
IDLE_STATES = frozenset(JobState) - TERMINAL_STATES - ACTIVE_STATES  # hold nothing

# completion statuses after which the job itself continues as a new run
CONTINUING_STATUSES = frozenset({CompletionStatus.FAILED_OVER, CompletionStatus.RESUMED})
SUCCESS_STATUSES = frozenset(
    {CompletionStatus.COMPLETED, CompletionStatus.COMPLETED_WITH_EXCEPTIONS}
)


class IllegalTransition(Exception):
    """A state change the table does not allow; names both states and the job."""

    def __init__(self, job: object, current: JobState, target: JobState) -> None:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "nothing (it ended)"
        super().__init__(
            f"job {job}: cannot go from {current.value} to {target.value}; "
            f"from {current.value} it may go to {allowed}"
        )
        self.current = current
        self.target = target


class MissingReason(ValueError):
    """WAITING without a reason for delay, or ENDED without a completion status."""


def check_transition(
    job: object,
    current: JobState,
    target: JobState,
    *,
    reason: str | None = None,
    status: CompletionStatus | None = None,
) -> None:
    """Validate one state change; raise ``IllegalTransition`` or ``MissingReason``."""
    if target not in ALLOWED[current]:
        raise IllegalTransition(job, current, target)
    if target is S.WAITING and not reason:
        raise MissingReason(f"job {job}: WAITING needs a reason for delay")
    if target is S.ENDED and status is None:
        raise MissingReason(f"job {job}: ENDED needs the run's completion status")
