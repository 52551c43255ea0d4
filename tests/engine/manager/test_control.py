"""Cancel, suspend, resume and priority in every state, on a real catalog."""

from __future__ import annotations

import pytest

from engine.catalog.db import Catalog
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.jobs.vocabulary import Detail
from engine.manager import control, queue
from engine.manager.control import ControlError
from engine.manager.queue import ControlAction

S = JobState
C = CompletionStatus


def _job(catalog: Catalog, jobs: JobsStore, type_: str = "backup", *, to: S = S.QUEUED) -> int:
    job_id = jobs.create_job(type_, f"{type_} job", {})
    if to is S.NOT_SUBMITTED:
        return job_id
    queue.submit(catalog, job_id)
    if to is S.WAITING:
        jobs.transition(job_id, S.WAITING, actor="t", reason="No drives available.")
    if to in (S.RUNNING, S.INTERRUPT_PENDING, S.SUSPEND_PENDING):
        jobs.transition(job_id, S.RUNNING, actor="t", reason="Started.")
        jobs.start_run(job_id)
    if to is S.INTERRUPT_PENDING:
        assert control.request_interrupt(catalog, job_id, by_job=999)
    if to is S.SUSPEND_PENDING:
        control.request_suspend(catalog, job_id)
    if to is S.SUSPENDED:
        control.request_suspend(catalog, job_id)
    return job_id


@pytest.mark.parametrize("state", [S.NOT_SUBMITTED, S.QUEUED, S.WAITING, S.SUSPENDED])
def test_cancel_before_start_ends_at_once(catalog: Catalog, jobs: JobsStore, state: S) -> None:
    job_id = _job(catalog, jobs, to=state)
    assert jobs.get_job(job_id).state is state
    assert control.request_cancel(catalog, job_id, actor="alice") is S.ENDED
    job = jobs.get_job(job_id)
    assert (job.state, job.status, job.detail) == (
        S.ENDED,
        C.CANCELED,
        Detail.CANCELED_BEFORE_START,
    )
    assert job.state_reason == "Canceled by alice."
    assert jobs.runs(job_id)[-1].started_at is None


@pytest.mark.parametrize("state", [S.RUNNING, S.INTERRUPT_PENDING, S.SUSPEND_PENDING])
def test_cancel_at_work_is_pending_with_its_status(
    catalog: Catalog, jobs: JobsStore, state: S
) -> None:
    job_id = _job(catalog, jobs, to=state)
    got = control.request_cancel(catalog, job_id, C.CANCELED_TIMED_OUT, actor="watchdog")
    assert got is S.CANCEL_PENDING
    assert jobs.get_job(job_id).state is S.CANCEL_PENDING
    pending = control.pending_control(catalog, job_id)
    assert pending is not None
    assert (pending.action, pending.status, pending.actor) == (
        ControlAction.CANCEL,
        C.CANCELED_TIMED_OUT,
        "watchdog",
    )
    # a second cancel keeps the first one's status
    assert control.request_cancel(catalog, job_id) is S.CANCEL_PENDING
    assert control.pending_control(catalog, job_id).status is C.CANCELED_TIMED_OUT  # type: ignore[union-attr]


def test_cancel_of_ended_job_refused(catalog: Catalog, jobs: JobsStore) -> None:
    job_id = _job(catalog, jobs)
    control.request_cancel(catalog, job_id)
    with pytest.raises(ControlError, match="has ended"):
        control.request_cancel(catalog, job_id)
    with pytest.raises(ValueError):
        control.request_cancel(catalog, job_id, C.FAILED)


def test_suspend_resume(catalog: Catalog, jobs: JobsStore) -> None:
    waiting = _job(catalog, jobs, to=S.WAITING)
    assert control.request_suspend(catalog, waiting) is S.SUSPENDED
    assert control.resume(catalog, waiting) is S.QUEUED
    running = _job(catalog, jobs, to=S.RUNNING)
    assert control.request_suspend(catalog, running) is S.SUSPEND_PENDING
    with pytest.raises(ControlError, match="still stopping"):
        control.resume(catalog, running)
    assert control.pending_control(catalog, running).action is ControlAction.SUSPEND  # type: ignore[union-attr]
    with pytest.raises(ControlError, match="not SUSPENDED"):
        control.resume(catalog, waiting)


def test_non_preemptable_running_job_cannot_be_suspended(catalog: Catalog, jobs: JobsStore) -> None:
    job_id = _job(catalog, jobs, "label", to=S.RUNNING)
    with pytest.raises(ControlError, match="not preemptable"):
        control.request_suspend(catalog, job_id)
    assert jobs.get_job(job_id).state is S.RUNNING


def test_priority_and_release_counter(catalog: Catalog, jobs: JobsStore) -> None:
    job_id = _job(catalog, jobs)
    before = queue.counter(catalog)
    control.set_priority(catalog, job_id, 5)
    assert jobs.get_job(job_id).priority == 5
    assert queue.counter(catalog) == before + 1
