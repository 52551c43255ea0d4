"""What the jobs store returns: jobs, runs, transitions, and its errors (records only; the
store is ``jobs_store.py``, the list and history queries ``jobs_query.py``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.jobs.states import CompletionStatus, JobState
from engine.jobs.vocabulary import Detail


class JobsError(Exception):
    """A job or run the catalog cannot act on; the message is one sentence for the user."""

    code = "jobs.error"


class UnknownJob(JobsError):
    code = "jobs.unknown"


class UnknownRun(JobsError):
    code = "jobs.unknown_run"


class StaleJob(JobsError):
    """Another process moved the job first (compare-and-set lost)."""

    code = "jobs.stale"


class RunConflict(JobsError):
    """A run is already open (start) or already ended (end)."""

    code = "jobs.run_conflict"


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    type: str
    name: str
    spec: dict[str, Any]
    priority: int
    client: str | None
    source: str | None
    state: JobState
    state_reason: str
    state_actor: str
    state_since: datetime
    status: CompletionStatus | None
    """Completion status of the last ended run (None before any run ended)."""
    detail: Detail | None
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    job_id: int
    number: int
    level: str | None
    base_run_id: int | None
    started_at: datetime | None
    started_ns: int | None
    ended_at: datetime | None
    status: CompletionStatus | None
    detail: Detail | None
    error: str | None
    phase: str | None
    files: int
    bytes: int
    rate: float | None
    exceptions: int
    volume: str | None
    drive: str | None
    counters: dict[str, Any]
    heartbeat_at: datetime | None


@dataclass(frozen=True, slots=True)
class Transition:
    job_id: int
    run_id: int | None
    old: JobState | None
    new: JobState
    status: CompletionStatus | None
    detail: Detail | None
    reason: str
    actor: str
    at: datetime


def enum_or_none(cls: Any, value: str | None) -> Any:
    return cls(value) if value is not None else None


def job_from_row(r: sa.Row[Any]) -> Job:
    return Job(
        r.id,
        r.type,
        r.name,
        r.spec,
        r.priority,
        r.client,
        r.source,
        JobState(r.state),
        r.state_reason,
        r.state_actor,
        r.state_since,
        enum_or_none(CompletionStatus, r.status),
        enum_or_none(Detail, r.detail),
        r.created_at,
        r.created_by,
    )


_RUN_PLAIN = tuple(f.name for f in dataclasses.fields(Run) if f.name not in ("status", "detail"))


def run_from_row(r: sa.Row[Any]) -> Run:
    values = {name: getattr(r, name) for name in _RUN_PLAIN}
    return Run(
        status=enum_or_none(CompletionStatus, r.status),
        detail=enum_or_none(Detail, r.detail),
        **values,
    )
