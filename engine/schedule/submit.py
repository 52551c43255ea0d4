"""Turning a definition into a job in the catalog: submitted (QUEUED), held behind its
previous run (NOT_SUBMITTED), or recorded as MISSED without ever being queued.

Called by the scheduler (engine/schedule/scheduler.py) for due occurrences and retries, and
by ``tapir job run-now`` ("Backup Now": submitted at once, no window). Jobs are named after
the definition; ``jobs.spec`` carries what the dispatcher runs and the schedule part
(engine/schedule/jobspec.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine.catalog.db import Catalog
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager import queue as manager_queue
from engine.manager.clock import Clock
from engine.schedule.definitions import JobDefinition
from engine.schedule.jobspec import ScheduleInfo, Trigger, job_spec

TIME_FORMAT = "%Y-%m-%d %H:%M %Z"


def show_time(when: datetime) -> str:
    """A time as reasons show it: UTC, to the minute."""
    return when.astimezone(UTC).strftime(TIME_FORMAT)


def create(
    jobs: JobsStore, definition: JobDefinition, info: ScheduleInfo, *, now: datetime, actor: str
) -> int:
    """The job, NOT_SUBMITTED (held until ``queue`` or ``end``)."""
    return jobs.create_job(
        definition.type,
        definition.name,
        job_spec(definition, info),
        priority=definition.priority,
        actor=actor,
        now=now,
    )


def queue(catalog: Catalog, job_id: int, *, reason: str, clock: Clock, actor: str) -> None:
    """Into the job manager's queue (engine/manager/queue.py): any ``tapir server`` runs it."""
    manager_queue.submit(catalog, job_id, actor=actor, reason=reason, clock=clock)


def submit(
    catalog: Catalog,
    definition: JobDefinition,
    info: ScheduleInfo,
    *,
    reason: str,
    clock: Clock,
    actor: str,
) -> int:
    """A QUEUED job for ``definition``; the dispatcher takes it from there."""
    job_id = create(JobsStore(catalog), definition, info, now=clock.now(), actor=actor)
    queue(catalog, job_id, reason=reason, clock=clock, actor=actor)
    return job_id


def record_missed(
    jobs: JobsStore,
    definition: JobDefinition,
    info: ScheduleInfo,
    *,
    reason: str,
    now: datetime,
    actor: str,
) -> int:
    """An occurrence that never got into the queue, recorded as a MISSED job so the history
    shows it (and counts from it)."""
    job_id = create(jobs, definition, info, now=now, actor=actor)
    jobs.transition(
        job_id,
        JobState.ENDED,
        actor=actor,
        reason=reason,
        status=CompletionStatus.MISSED,
        expected=JobState.NOT_SUBMITTED,
        now=now,
    )
    return job_id


def run_now(catalog: Catalog, definition: JobDefinition, *, clock: Clock, actor: str) -> int:
    """ "Backup Now": a QUEUED job for the definition at once, with no start window (its max
    run time still applies). Disabled definitions may be run by hand."""
    info = ScheduleInfo(
        definition=definition.name,
        trigger=Trigger.MANUAL,
        max_run_time=definition.max_run_time,
    )
    return submit(
        catalog,
        definition,
        info,
        reason=f"Submitted now by {actor} (Backup Now).",
        clock=clock,
        actor=actor,
    )
