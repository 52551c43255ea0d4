"""The catalog reads the scheduler and the notifier need: the jobs of a definition and the
jobs still going. Read-only; every change goes through ``JobsStore.transition``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa

from engine.catalog.db import Catalog
from engine.catalog.jobs_model import Job, job_from_row
from engine.catalog.schema import jobs
from engine.jobs.states import JobState
from engine.schedule.jobspec import ScheduleInfo, Trigger, schedule_info


def open_jobs(catalog: Catalog) -> list[tuple[Job, ScheduleInfo]]:
    """Every job a definition submitted that has not ended, oldest first."""
    query = sa.select(jobs).where(jobs.c.state != JobState.ENDED.value).order_by(jobs.c.id)
    with catalog.read() as conn:
        rows = [job_from_row(r) for r in conn.execute(query)]
    return [(job, info) for job in rows if (info := schedule_info(job.spec)) is not None]


def definition_jobs(catalog: Catalog, name: str) -> Iterator[tuple[Job, ScheduleInfo]]:
    """The jobs definition ``name`` submitted, newest first (read lazily, in pages)."""
    last_id: int | None = None
    page = 50
    while True:
        query = sa.select(jobs).where(jobs.c.name == name).order_by(jobs.c.id.desc()).limit(page)
        if last_id is not None:
            query = query.where(jobs.c.id < last_id)
        with catalog.read() as conn:
            rows = [job_from_row(r) for r in conn.execute(query)]
        for job in rows:
            info = schedule_info(job.spec)
            if info is not None and info.definition == name:
                yield job, info
        if len(rows) < page:
            return
        last_id = rows[-1].id


def last_occurrence(catalog: Catalog, name: str) -> datetime | None:
    """The due time of the definition's latest scheduled job (retries carry their original's):
    the scheduler counts the next occurrences from it."""
    for _job, info in definition_jobs(catalog, name):
        if info.trigger in (Trigger.SCHEDULE, Trigger.RETRY) and info.occurrence is not None:
            return info.occurrence
    return None


def latest_job(catalog: Catalog, name: str) -> tuple[Job, ScheduleInfo] | None:
    return next(definition_jobs(catalog, name), None)


def ended_since(catalog: Catalog, since: datetime) -> list[Job]:
    """Jobs that ended at or after ``since`` (their last state change), oldest first."""
    query = (
        sa.select(jobs)
        .where(jobs.c.state == JobState.ENDED.value, jobs.c.state_since >= since)
        .order_by(jobs.c.id)
    )
    with catalog.read() as conn:
        return [job_from_row(r) for r in conn.execute(query)]
