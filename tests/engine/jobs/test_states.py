"""The transition table and the vocabulary table (shared/JOB-STATUS.md)."""

from __future__ import annotations

import itertools

import pytest

from engine.jobs.states import (
    ACTIVE_STATES,
    ALLOWED,
    IDLE_STATES,
    TERMINAL_STATES,
    CompletionStatus,
    IllegalTransition,
    JobState,
    MissingReason,
    check_transition,
)
from engine.jobs.vocabulary import (
    STATUS_NAMES,
    Detail,
    Vocabulary,
    display_name,
)


def test_derived_sets_partition_the_states() -> None:
    assert set(JobState) == TERMINAL_STATES | ACTIVE_STATES | IDLE_STATES
    for a, b in itertools.combinations([TERMINAL_STATES, ACTIVE_STATES, IDLE_STATES], 2):
        assert not a & b
    assert {JobState.ENDED} == TERMINAL_STATES


def test_every_state_has_a_row_and_every_state_can_end() -> None:
    assert set(ALLOWED) == set(JobState)
    for state in set(JobState) - TERMINAL_STATES:
        seen, frontier = {state}, [state]
        while frontier:  # ENDED is reachable from every live state
            for nxt in ALLOWED[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert JobState.ENDED in seen, state


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (JobState.ENDED, JobState.QUEUED),
        (JobState.SUSPENDED, JobState.RUNNING),  # resume goes through the queue
        (JobState.CANCEL_PENDING, JobState.RUNNING),
        (JobState.NOT_SUBMITTED, JobState.RUNNING),
        (JobState.WAITING, JobState.INTERRUPT_PENDING),  # a waiting job holds nothing
    ],
)
def test_illegal_transitions_raise_naming_both_states(current: JobState, target: JobState) -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition(17, current, target, reason="x", status=CompletionStatus.FAILED)
    assert f"job 17: cannot go from {current.value} to {target.value}" in str(err.value)


def test_waiting_needs_a_reason_and_ended_a_status() -> None:
    with pytest.raises(MissingReason):
        check_transition(1, JobState.QUEUED, JobState.WAITING)
    check_transition(1, JobState.QUEUED, JobState.WAITING, reason="No drives available.")
    with pytest.raises(MissingReason):
        check_transition(1, JobState.RUNNING, JobState.ENDED)
    check_transition(1, JobState.RUNNING, JobState.ENDED, status=CompletionStatus.COMPLETED)


def test_every_completion_status_has_names_in_every_vocabulary() -> None:
    named = {status for status, _ in STATUS_NAMES}
    assert named == set(CompletionStatus)
    for status, vocab in itertools.product(CompletionStatus, Vocabulary):
        assert display_name(vocab, JobState.ENDED, status)


@pytest.mark.parametrize(
    ("vocab", "status", "detail", "expected"),
    [
        (
            Vocabulary.BACKUPEXEC,
            CompletionStatus.COMPLETED_WITH_EXCEPTIONS,
            Detail.NONE,
            "Completed with exceptions",
        ),
        (
            Vocabulary.BACKUPEXEC,
            CompletionStatus.CANCELED_TIMED_OUT,
            Detail.NONE,
            "Canceled, timed out",
        ),
        (
            Vocabulary.HMC,
            CompletionStatus.CANCELED,
            Detail.CANCELED_BEFORE_START,
            "CANCELED_BEFORE_START",
        ),
        (Vocabulary.HMC, CompletionStatus.CANCELED, Detail.NONE, "CANCELED_WHILE_RUNNING"),
        (
            Vocabulary.HMC,
            CompletionStatus.FAILED,
            Detail.WILL_RETRY,
            "FAILED_BEFORE_COMPLETION_RETRY",
        ),
        (Vocabulary.HISTORY, CompletionStatus.COMPLETED, Detail.UP_TO_DATE, "Up to Date"),
        (Vocabulary.HISTORY, CompletionStatus.COMPLETED, Detail.MODIFIED, "Modified"),
        (Vocabulary.HISTORY, CompletionStatus.TIMED_OUT, Detail.NONE, "Timed Out"),
        (Vocabulary.CCP, CompletionStatus.MISSED, Detail.NONE, "Cancelled"),
        (Vocabulary.COMMVAULT, CompletionStatus.FAILED, Detail.WILL_RETRY, "Pending"),
        (
            Vocabulary.COMMVAULT,
            CompletionStatus.COMPLETED_WITH_ERRORS,
            Detail.NONE,
            "Completed w/ one or more errors",
        ),
        (Vocabulary.TAPIR, CompletionStatus.RESUMED, Detail.NONE, "RESUMED"),
    ],
)
def test_ended_names(
    vocab: Vocabulary, status: CompletionStatus, detail: Detail, expected: str
) -> None:
    assert display_name(vocab, JobState.ENDED, status, detail) == expected


def test_live_state_names_and_fallback_to_canonical() -> None:
    assert display_name(Vocabulary.COMMVAULT, JobState.INTERRUPT_PENDING) == "Interrupt Pending"
    assert display_name(Vocabulary.HMC, JobState.WAITING) == "NOT_STARTED"
    assert display_name(Vocabulary.HMC, JobState.WAITING, detail=Detail.HAS_RUN) == "RUNNING"
    assert display_name(Vocabulary.CCP, JobState.NOT_SUBMITTED) == "NotSubmitted"
    # Backup Exec names completion statuses only
    assert display_name(Vocabulary.BACKUPEXEC, JobState.RUNNING) == "RUNNING"
    with pytest.raises(ValueError):
        display_name(Vocabulary.HMC, JobState.ENDED)
