"""Job states and run outcomes in the words of the products administrators know.

One table, transcribed from shared/JOB-STATUS.md "Mapping to the vocabularies in the seeds":
Backup Exec (seed 000), HMC job status (seed 001), job-history outcome (seed 002), HPC Pack
JobStatus (seed 003) and the Commvault Job Controller (seed 004). Where a product has no word
for a state ("—" in the table) the canonical tapir name is shown.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from engine.jobs.states import CompletionStatus, JobState


class Vocabulary(enum.StrEnum):
    TAPIR = "tapir"
    BACKUPEXEC = "backupexec"
    HMC = "hmc"
    HISTORY = "history"
    CCP = "ccp"
    COMMVAULT = "commvault"


class Detail(enum.StrEnum):
    """The nuances some vocabularies name apart."""

    NONE = "none"
    CANCELED_BEFORE_START = "canceled_before_start"
    CANCELED_WHILE_RUNNING = "canceled_while_running"
    WILL_RETRY = "will_retry"  # failed because busy; the job retries by its policy
    UP_TO_DATE = "up_to_date"  # a backup that found nothing changed
    MODIFIED = "modified"  # a backup that found changes
    HAS_RUN = "has_run"  # WAITING after it had started (preempted): HMC says RUNNING


@dataclass(frozen=True, slots=True)
class Names:
    backupexec: str | None
    hmc: str
    history: str
    ccp: str
    commvault: str | None


_ST = JobState
_CS = CompletionStatus
_D = Detail

STATE_NAMES: dict[tuple[JobState, Detail], Names] = {
    (_ST.NOT_SUBMITTED, _D.NONE): Names(None, "NOT_STARTED", "Pending", "NotSubmitted", None),
    (_ST.QUEUED, _D.NONE): Names(None, "NOT_STARTED", "Pending", "Queued", "Pending"),
    (_ST.WAITING, _D.NONE): Names(None, "NOT_STARTED", "Pending", "Queued", "Waiting"),
    (_ST.WAITING, _D.HAS_RUN): Names(None, "RUNNING", "Pending", "Queued", "Waiting"),
    (_ST.RUNNING, _D.NONE): Names(None, "RUNNING", "In Progress", "Running", "Running"),
    (_ST.INTERRUPT_PENDING, _D.NONE): Names(
        None, "RUNNING", "In Progress", "Running", "Interrupt Pending"
    ),
    (_ST.SUSPEND_PENDING, _D.NONE): Names(
        None, "RUNNING", "In Progress", "Running", "Suspend Pending"
    ),
    (_ST.SUSPENDED, _D.NONE): Names(None, "RUNNING", "In Progress", "Running", "Suspended"),
    (_ST.CANCEL_PENDING, _D.NONE): Names(None, "RUNNING", "In Progress", "Running", "Kill Pending"),
}

STATUS_NAMES: dict[tuple[CompletionStatus, Detail], Names] = {
    (_CS.COMPLETED, _D.NONE): Names(
        "Successful", "COMPLETED_OK", "Up to Date", "Finished", "Completed"
    ),
    (_CS.COMPLETED, _D.UP_TO_DATE): Names(
        "Successful", "COMPLETED_OK", "Up to Date", "Finished", "Completed"
    ),
    (_CS.COMPLETED, _D.MODIFIED): Names(
        "Successful", "COMPLETED_OK", "Modified", "Finished", "Completed"
    ),
    (_CS.COMPLETED_WITH_EXCEPTIONS, _D.NONE): Names(
        "Completed with exceptions",
        "COMPLETED_WITH_WARNINGS",
        "Modified",
        "Finished",
        "Completed w/ one or more warnings",
    ),
    (_CS.COMPLETED_WITH_EXCEPTIONS, _D.UP_TO_DATE): Names(
        "Completed with exceptions",
        "COMPLETED_WITH_WARNINGS",
        "Up to Date",
        "Finished",
        "Completed w/ one or more warnings",
    ),
    (_CS.COMPLETED_WITH_EXCEPTIONS, _D.MODIFIED): Names(
        "Completed with exceptions",
        "COMPLETED_WITH_WARNINGS",
        "Modified",
        "Finished",
        "Completed w/ one or more warnings",
    ),
    (_CS.COMPLETED_WITH_ERRORS, _D.NONE): Names(
        "Failed", "COMPLETED_WITH_ERROR", "Failed", "Failed", "Completed w/ one or more errors"
    ),
    (_CS.FAILED, _D.NONE): Names(
        "Failed", "FAILED_BEFORE_COMPLETION", "Failed", "Failed", "Failed"
    ),
    (_CS.FAILED, _D.WILL_RETRY): Names(
        "Failed", "FAILED_BEFORE_COMPLETION_RETRY", "Failed", "Failed", "Pending"
    ),
    (_CS.FAILED_TO_START, _D.NONE): Names(
        "Failed", "FAILED_TO_START", "Failed", "Failed", "Failed to Start"
    ),
    (_CS.FAILED_OVER, _D.NONE): Names(
        "Failed over", "FAILED_BEFORE_COMPLETION", "Failed", "Failed", "Failed"
    ),
    (_CS.RESUMED, _D.NONE): Names(
        "Resumed", "FAILED_BEFORE_COMPLETION", "Failed", "Failed", "Failed"
    ),
    (_CS.CANCELED, _D.CANCELED_BEFORE_START): Names(
        "Canceled", "CANCELED_BEFORE_START", "Failed", "Cancelled", "Killed"
    ),
    (_CS.CANCELED, _D.CANCELED_WHILE_RUNNING): Names(
        "Canceled", "CANCELED_WHILE_RUNNING", "Failed", "Cancelled", "Killed"
    ),
    (_CS.CANCELED_TIMED_OUT, _D.NONE): Names(
        "Canceled, timed out", "CANCELED_WHILE_RUNNING", "Timed Out", "Cancelled", "Killed"
    ),
    (_CS.TIMED_OUT, _D.NONE): Names(
        "Failed", "FAILED_BEFORE_COMPLETION", "Timed Out", "Failed", "Failed"
    ),
    (_CS.RECOVERED, _D.NONE): Names(
        "Recovered", "FAILED_BEFORE_COMPLETION", "Failed", "Failed", "Failed"
    ),
    (_CS.MISSED, _D.NONE): Names(
        "Missed", "CANCELED_BEFORE_START", "Failed", "Cancelled", "Failed"
    ),
}


def display_name(
    vocabulary: Vocabulary,
    state: JobState,
    status: CompletionStatus | None = None,
    detail: Detail = Detail.NONE,
) -> str:
    """The word ``vocabulary`` uses for a job in ``state`` (and, when ENDED, ``status``).

    A detail a row does not distinguish falls back to the row without it; CANCELED needs
    to know whether it was before start or while running and defaults to while running.
    """
    if state is JobState.ENDED:
        if status is None:
            raise ValueError("an ended job needs its completion status to be named")
        canonical = status.value
        if status is CompletionStatus.CANCELED and detail is Detail.NONE:
            detail = Detail.CANCELED_WHILE_RUNNING
        names = STATUS_NAMES.get((status, detail)) or STATUS_NAMES.get((status, Detail.NONE))
    else:
        canonical = state.value
        names = STATE_NAMES.get((state, detail)) or STATE_NAMES[(state, Detail.NONE)]
    if vocabulary is Vocabulary.TAPIR or names is None:
        return canonical
    word = getattr(names, vocabulary.value)
    return word if word is not None else canonical
