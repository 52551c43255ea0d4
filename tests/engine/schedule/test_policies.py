"""Duplicate control, max run time (CANCELED_TIMED_OUT through the manager's cancel request),
retries and "Backup Now", on a real catalog with a manual clock."""

from __future__ import annotations

from collections.abc import Callable

from engine.catalog.db import Catalog
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager.clock import ManualClock
from engine.manager.control import pending_control
from engine.manager.queue import ControlAction
from engine.schedule.jobspec import Trigger, schedule_info
from engine.schedule.scheduler import Scheduler
from engine.schedule.store import DefinitionsStore
from engine.schedule.submit import run_now
from tests.engine.schedule.test_scheduler import HOUR, NIGHTLY

HOURLY = """
[jobs.hourly]
source = "/srv/data"
target = "lib1"
schedule = "0 * * * *"
window = "30m"
"""


def _start(jobs: JobsStore, job_id: int, clock: ManualClock) -> None:
    """What the dispatcher does when it starts a job (the test plays the dispatcher)."""
    jobs.transition(job_id, JobState.RUNNING, actor="test", reason="Started.", now=clock.now())
    jobs.start_run(job_id, now=clock.now())


def _end(jobs: JobsStore, job_id: int, clock: ManualClock, status: CompletionStatus) -> None:
    jobs.transition(
        job_id, JobState.ENDED, actor="test", reason="Done.", status=status, now=clock.now()
    )


def test_skip_records_the_occurrence_missed_while_the_previous_run_goes(
    scheduler: Scheduler, jobs: JobsStore, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(HOURLY)
    clock.advance(1)
    (first,) = scheduler.tick().submitted  # 21:00's
    _start(jobs, first, clock)
    clock.advance(HOUR)
    report = scheduler.tick()
    assert report.submitted == [] and len(report.missed) == 1
    skipped = jobs.get_job(report.missed[0])
    assert skipped.status is CompletionStatus.MISSED
    assert f"previous run, job {first}, is still RUNNING" in skipped.state_reason
    assert "duplicates = skip" in skipped.state_reason
    _end(jobs, first, clock, CompletionStatus.COMPLETED)
    clock.advance(HOUR)
    assert len(scheduler.tick().submitted) == 1  # the next one runs again


def test_queue_holds_the_occurrence_until_the_previous_run_ends(
    scheduler: Scheduler, jobs: JobsStore, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(HOURLY + 'duplicates = "queue"\n')
    clock.advance(1)
    (first,) = scheduler.tick().submitted
    _start(jobs, first, clock)
    clock.advance(HOUR)
    (held,) = scheduler.tick().held
    assert jobs.get_job(held).state is JobState.NOT_SUBMITTED
    clock.advance(60)
    assert scheduler.tick().released == []  # still going
    _end(jobs, first, clock, CompletionStatus.COMPLETED)
    clock.advance(60)
    assert scheduler.tick().released == [held]
    job = jobs.get_job(held)
    assert job.state is JobState.QUEUED and "previous run ended" in job.state_reason


def test_a_held_occurrence_whose_window_ends_first_is_missed(
    scheduler: Scheduler, jobs: JobsStore, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(HOURLY + 'duplicates = "queue"\n')
    clock.advance(1)
    (first,) = scheduler.tick().submitted
    _start(jobs, first, clock)
    clock.advance(HOUR)
    (held,) = scheduler.tick().held
    clock.advance(30 * 60)  # its window (30m) is over, the first still runs
    report = scheduler.tick()
    assert held in report.missed
    assert jobs.get_job(held).status is CompletionStatus.MISSED


def test_a_run_past_its_max_run_time_is_canceled_timed_out(
    scheduler: Scheduler,
    catalog: Catalog,
    jobs: JobsStore,
    clock: ManualClock,
    write_defs: Callable[[str], None],
) -> None:
    write_defs(NIGHTLY + 'max_run_time = "3h"\n')
    clock.advance(HOUR)
    (job_id,) = scheduler.tick().submitted
    clock.advance(600)
    _start(jobs, job_id, clock)  # started 22:10
    clock.advance(3 * HOUR - 1)
    assert scheduler.tick().timed_out == []
    clock.advance(1)
    assert scheduler.tick().timed_out == [job_id]
    job = jobs.get_job(job_id)
    assert job.state is JobState.CANCEL_PENDING
    assert "maximum run time of 3h" in job.state_reason
    control = pending_control(catalog, job_id)
    assert control is not None and control.action is ControlAction.CANCEL
    assert control.status is CompletionStatus.CANCELED_TIMED_OUT
    clock.advance(60)
    assert scheduler.tick().timed_out == []  # asked once; its holder is stopping


def test_failed_scheduled_runs_are_retried_by_the_policy(
    scheduler: Scheduler, jobs: JobsStore, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(NIGHTLY + 'retry = { attempts = 2, interval = "20m" }\n')
    clock.advance(HOUR)
    (job_id,) = scheduler.tick().submitted
    attempts = [job_id]
    for _ in range(2):
        _start(jobs, attempts[-1], clock)
        _end(jobs, attempts[-1], clock, CompletionStatus.FAILED)
        clock.advance(20 * 60 - 1)
        assert scheduler.tick().retried == []
        clock.advance(1)
        (retry,) = scheduler.tick().retried
        info = schedule_info(jobs.get_job(retry).spec)
        assert info is not None and info.trigger is Trigger.RETRY
        assert info.retry_of == attempts[-1] and info.attempt == len(attempts) + 1
        attempts.append(retry)
    _start(jobs, attempts[-1], clock)
    _end(jobs, attempts[-1], clock, CompletionStatus.FAILED)
    clock.advance(HOUR)
    assert scheduler.tick().retried == []  # two retries, no more


def test_canceled_runs_are_not_retried(
    scheduler: Scheduler, jobs: JobsStore, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(NIGHTLY + 'retry = { attempts = 2, interval = "20m" }\n')
    clock.advance(HOUR)
    (job_id,) = scheduler.tick().submitted
    _start(jobs, job_id, clock)
    _end(jobs, job_id, clock, CompletionStatus.CANCELED_TIMED_OUT)
    clock.advance(HOUR)
    assert scheduler.tick().retried == []


def test_run_now_submits_at_once_without_a_window(
    scheduler: Scheduler,
    catalog: Catalog,
    store: DefinitionsStore,
    jobs: JobsStore,
    clock: ManualClock,
    write_defs: Callable[[str], None],
) -> None:
    write_defs(NIGHTLY + 'max_run_time = "1h"\n')
    job_id = run_now(catalog, store.get("nightly"), clock=clock, actor="admin")
    job = jobs.get_job(job_id)
    assert job.state is JobState.QUEUED and "Backup Now" in job.state_reason
    info = schedule_info(job.spec)
    assert info is not None and info.trigger is Trigger.MANUAL
    assert info.window_end is None and info.max_run_time is not None
    clock.advance(10 * HOUR)
    report = scheduler.tick()
    assert job_id not in report.missed  # no window to miss
    assert report.submitted == [] and report.missed == []  # a new definition owes no past window
