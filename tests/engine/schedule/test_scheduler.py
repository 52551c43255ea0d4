"""The scheduler tick against a real catalog and a manual clock: due times, windows (MISSED and
the next window), catch-up after downtime, new and disabled definitions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager.clock import ManualClock
from engine.manager.queue import get_entry
from engine.schedule.jobspec import Trigger, schedule_info
from engine.schedule.scheduler import Scheduler
from tests.engine.schedule.conftest import START

NIGHTLY = """
[jobs.nightly]
source = "/srv/data"
target = "lib1"
level = "incremental"
schedule = "0 22 * * *"
window = "2h"
"""
HOUR = 3600


def _until(clock: ManualClock, when: datetime) -> None:
    clock.advance((when - clock.now()).total_seconds())


def test_due_occurrence_is_submitted_once_with_its_window(
    scheduler: Scheduler, jobs: JobsStore, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(NIGHTLY)
    assert scheduler.tick().submitted == []  # 21:00: not yet due
    clock.advance(HOUR + 30)  # 22:00:30
    report = scheduler.tick()
    assert len(report.submitted) == 1
    job = jobs.get_job(report.submitted[0])
    assert (job.type, job.name, job.state) == ("backup", "nightly", JobState.QUEUED)
    assert job.spec["source"] == "/srv/data" and job.spec["level"] == "incremental"
    info = schedule_info(job.spec)
    assert info is not None and info.trigger is Trigger.SCHEDULE
    assert info.occurrence == datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    assert info.window_end == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    assert "window until 2026-11-24 00:00 UTC" in job.state_reason
    assert get_entry(scheduler.catalog, job.id) is not None  # in the manager's queue
    clock.advance(60)
    assert scheduler.tick().submitted == []  # not twice
    clock.advance(24 * HOUR)  # the next evening
    assert len(scheduler.tick().submitted) == 1


def test_job_that_cannot_start_in_its_window_is_missed_and_the_next_window_comes(
    scheduler: Scheduler, jobs: JobsStore, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(NIGHTLY)
    clock.advance(HOUR)
    (first,) = scheduler.tick().submitted
    clock.advance(2 * HOUR - 1)  # 23:59:59: still inside
    assert scheduler.tick().missed == []
    clock.advance(1)  # 00:00: the window is over, it never started
    assert scheduler.tick().missed == [first]
    job = jobs.get_job(first)
    assert (job.state, job.status) == (JobState.ENDED, CompletionStatus.MISSED)
    assert "Could not start inside its window" in job.state_reason
    assert "next window at 2026-11-24 22:00 UTC" in job.state_reason
    (run,) = jobs.runs(first)
    assert run.status is CompletionStatus.MISSED and run.started_at is None
    _until(clock, datetime(2026, 11, 24, 22, 0, 5, tzinfo=UTC))
    (second,) = scheduler.tick().submitted
    assert jobs.get_job(second).state is JobState.QUEUED


def test_a_job_that_started_inside_its_window_is_not_missed(
    scheduler: Scheduler, jobs: JobsStore, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(NIGHTLY)
    clock.advance(HOUR)
    (job_id,) = scheduler.tick().submitted
    jobs.transition(job_id, JobState.RUNNING, actor="test", reason="Started.", now=clock.now())
    jobs.start_run(job_id, now=clock.now())
    clock.advance(5 * HOUR)
    report = scheduler.tick()
    assert report.missed == [] and report.timed_out == []
    assert jobs.get_job(job_id).state is JobState.RUNNING


def test_occurrences_while_the_scheduler_was_down_are_recorded_missed(
    scheduler: Scheduler, jobs: JobsStore, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(NIGHTLY)
    clock.advance(HOUR)
    (first,) = scheduler.tick().submitted
    jobs.transition(first, JobState.ENDED, actor="t", reason="x", status=CompletionStatus.FAILED)
    _until(clock, datetime(2026, 11, 26, 22, 30, tzinfo=UTC))  # down for three evenings
    report = scheduler.tick()
    assert len(report.missed) == 2 and len(report.submitted) == 1
    for job_id in report.missed:
        job = jobs.get_job(job_id)
        assert job.status is CompletionStatus.MISSED
        assert "the scheduler was not running" in job.state_reason
    occurrences = [schedule_info(jobs.get_job(j).spec).occurrence for j in report.missed]
    assert [o.day for o in occurrences if o] == [24, 25]


def test_a_new_definition_runs_its_current_window_only(
    scheduler: Scheduler, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    clock.advance(HOUR + 30 * 60)  # 22:30, inside tonight's window
    write_defs(NIGHTLY)
    report = scheduler.tick()
    assert len(report.submitted) == 1 and report.missed == []


def test_a_new_definition_after_its_window_waits_for_the_next(
    scheduler: Scheduler, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    clock.advance(3 * HOUR + 1)  # 00:00:01, tonight's window is over
    write_defs(NIGHTLY)
    report = scheduler.tick()
    assert report.submitted == [] and report.missed == []


def test_a_disabled_definition_owes_nothing_when_enabled_again(
    scheduler: Scheduler, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(NIGHTLY + "enabled = false\n")
    clock.advance(HOUR)
    assert scheduler.tick().submitted == []
    clock.advance(3 * 24 * HOUR - HOUR)  # Thursday 21:00
    assert scheduler.tick().submitted == []
    write_defs(NIGHTLY)
    clock.advance(HOUR + 60)
    report = scheduler.tick()
    assert report.missed == [] and len(report.submitted) == 1  # tonight's, nothing owed


def test_definitions_without_schedule_are_never_due(
    scheduler: Scheduler, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(NIGHTLY.replace('schedule = "0 22 * * *"\n', ""))
    for _ in range(3):
        clock.advance(12 * HOUR)
        assert scheduler.tick().submitted == []


def test_schedule_in_a_time_zone(
    scheduler: Scheduler, jobs: JobsStore, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(NIGHTLY.replace('window = "2h"', 'window = "2h"\ntimezone = "Asia/Tokyo"'))
    _until(clock, datetime(2026, 11, 24, 13, 0, 1, tzinfo=UTC))  # 22:00:01 in Tokyo
    (job_id,) = scheduler.tick().submitted
    info = schedule_info(jobs.get_job(job_id).spec)
    assert info is not None and info.occurrence == START.replace(day=24, hour=13)


def test_a_broken_definitions_file_still_lets_windows_end(
    scheduler: Scheduler, jobs: JobsStore, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(NIGHTLY)
    clock.advance(HOUR)
    (job_id,) = scheduler.tick().submitted
    write_defs(NIGHTLY + 'window = "2x"\n')  # a duplicate key: a TOML error
    clock.advance(3 * HOUR)
    report = scheduler.tick()
    assert report.missed == [job_id]
    assert len(report.problems) == 1 and "jobs.toml" in report.problems[0]
    assert "no next window" in jobs.get_job(job_id).state_reason


def test_another_tick_in_progress_makes_this_one_do_nothing(
    scheduler: Scheduler, clock: ManualClock, write_defs: Callable[[str], None]
) -> None:
    write_defs(NIGHTLY)
    clock.advance(HOUR)
    with scheduler._lock() as got:
        assert got
        assert scheduler.tick().busy
    assert len(scheduler.tick().submitted) == 1


def test_tick_report_is_json_ready(scheduler: Scheduler, write_defs: Callable[[str], None]) -> None:
    write_defs(NIGHTLY)
    out = scheduler.tick().to_dict()
    assert out["at"] == START.isoformat() and out["submitted"] == []
