"""Job lists and job history from the catalog: filter by state, completion status, type,
client and date range; sort by any column shown.

``list_jobs`` gives one row per job with its latest run (one query: the latest run id per job
is a grouped subquery joined back); ``history`` gives one row per run with its job. Filtering
and sorting happen in SQL so a long history is not read whole; ``limit`` bounds the answer.

Date range: a job matches ``[since, until]`` when it was active in it (its last state change
is not before ``since`` and it was created not after ``until``); a run matches when it
overlapped it (ended, or is still going, not before ``since``; started or recorded not after
``until``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.catalog.db import Catalog
from engine.catalog.jobs_model import Job, Run, job_from_row, run_from_row
from engine.catalog.schema import jobs, runs
from engine.jobs.states import CompletionStatus, JobState

_R = runs.alias("r")

JOB_SORT: dict[str, sa.ColumnElement[Any]] = {
    "id": jobs.c.id,
    "type": jobs.c.type,
    "name": jobs.c.name,
    "priority": jobs.c.priority,
    "client": jobs.c.client,
    "source": jobs.c.source,
    "state": jobs.c.state,
    "status": jobs.c.status,
    "since": jobs.c.state_since,
    "created": jobs.c.created_at,
    "reason": jobs.c.state_reason,
    "run": _R.c.number,
    "started": _R.c.started_at,
    "ended": _R.c.ended_at,
    "files": _R.c.files,
    "bytes": _R.c.bytes,
    "exceptions": _R.c.exceptions,
}
"""Sort keys of ``list_jobs`` and ``history`` (the columns ``tapir jobs`` shows)."""
SORT_ALIASES = {"job": "id", "state_since": "since", "created_at": "created"}


class UnknownColumn(ValueError):
    code = "jobs.unknown_column"


@dataclass(frozen=True, slots=True)
class JobQuery:
    """What to list. Empty collections mean "any"; filters of different kinds combine with
    AND, except ``states`` and ``statuses``: a row matches either. ``statuses`` match an ended
    job's last run (``list_jobs``) or each run (``history``, where ``states`` match the
    open runs of jobs in those states)."""

    states: frozenset[JobState] = frozenset()
    statuses: frozenset[CompletionStatus] = frozenset()
    types: frozenset[str] = frozenset()
    clients: frozenset[str] = frozenset()
    job_ids: frozenset[int] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    sort: tuple[str, ...] = field(default=("id",))
    """Column names; a leading ``-`` sorts that column descending."""
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class JobRow:
    job: Job
    run: Run | None
    """The latest run (list) or this row's run (history)."""
    runs: int = 0
    """How many runs the job has had (list only)."""


def sort_key(name: str) -> tuple[str, bool]:
    """``"-files"`` -> ``("files", True)``; raises ``UnknownColumn`` with the valid names."""
    descending = name.startswith("-")
    key = name.lstrip("-").lower()
    key = SORT_ALIASES.get(key, key)
    if key not in JOB_SORT:
        raise UnknownColumn(
            f"Cannot sort by {name.lstrip('-')!r}; columns: {', '.join(sorted(JOB_SORT))}."
        )
    return key, descending


def _order(sort: Iterable[str], tiebreak: Iterable[sa.ColumnElement[Any]]) -> list[Any]:
    order: list[Any] = []
    for name in sort:
        key, descending = sort_key(name)
        column = JOB_SORT[key]
        order.append(column.desc().nulls_last() if descending else column.asc().nulls_first())
    return [*order, *tiebreak]


def _job_filters(q: JobQuery) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if q.types:
        where.append(jobs.c.type.in_(sorted(q.types)))
    if q.clients:
        where.append(jobs.c.client.in_(sorted(q.clients)))
    if q.job_ids:
        where.append(jobs.c.id.in_(sorted(q.job_ids)))
    return where


def _values(members: Iterable[Any]) -> list[str]:
    return sorted(m.value for m in members)


def _either(*conditions: sa.ColumnElement[bool] | None) -> sa.ColumnElement[bool] | None:
    """``--status RUNNING --status FAILED``: a state or a completion status matches."""
    present = [c for c in conditions if c is not None]
    return sa.or_(*present) if present else None


def _split(row: sa.Row[Any]) -> tuple[Job, Run | None]:
    mapping = row._mapping
    job = job_from_row(sa_row(mapping, jobs, ""))
    if mapping["r_id"] is None:
        return job, None
    return job, run_from_row(sa_row(mapping, _R, "r_"))


class _Fields:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def sa_row(mapping: Any, table: sa.FromClause, prefix: str) -> Any:
    """The columns of ``table`` out of a joined row whose labels carry ``prefix``."""
    return _Fields({c.name: mapping[f"{prefix}{c.name}"] for c in table.columns})


def _columns() -> list[Any]:
    return [*jobs.columns, *(c.label(f"r_{c.name}") for c in _R.columns)]


def list_jobs(catalog: Catalog, q: JobQuery) -> list[JobRow]:
    """One row per job with its latest run and its run count."""
    latest = (
        sa.select(
            runs.c.job_id,
            sa.func.max(runs.c.id).label("run_id"),
            sa.func.count(runs.c.id).label("count"),
        )
        .group_by(runs.c.job_id)
        .subquery("latest")
    )
    query = (
        sa.select(*_columns(), sa.func.coalesce(latest.c.count, 0).label("run_count"))
        .select_from(
            jobs.outerjoin(latest, latest.c.job_id == jobs.c.id).outerjoin(
                _R, _R.c.id == latest.c.run_id
            )
        )
        .where(*_job_filters(q))
    )
    either = _either(
        jobs.c.state.in_([s.value for s in q.states]) if q.states else None,
        sa.and_(jobs.c.state == JobState.ENDED.value, jobs.c.status.in_(_values(q.statuses)))
        if q.statuses
        else None,
    )
    if either is not None:
        query = query.where(either)
    if q.since is not None:
        query = query.where(jobs.c.state_since >= q.since)
    if q.until is not None:
        query = query.where(jobs.c.created_at <= q.until)
    query = query.order_by(*_order(q.sort, [jobs.c.id])).limit(q.limit)
    with catalog.read() as conn:
        rows = conn.execute(query).all()
    return [JobRow(*_split(r), runs=r.run_count) for r in rows]


def history(catalog: Catalog, q: JobQuery) -> list[JobRow]:
    """One row per run (a job's history), with its job."""
    query = (
        sa.select(*_columns())
        .select_from(jobs.join(_R, _R.c.job_id == jobs.c.id))
        .where(*_job_filters(q))
    )
    either = _either(
        sa.and_(_R.c.ended_at.is_(None), jobs.c.state.in_(_values(q.states))) if q.states else None,
        _R.c.status.in_(_values(q.statuses)) if q.statuses else None,
    )
    if either is not None:
        query = query.where(either)
    if q.since is not None:
        query = query.where(sa.or_(_R.c.ended_at.is_(None), _R.c.ended_at >= q.since))
    if q.until is not None:
        began = sa.func.coalesce(_R.c.started_at, _R.c.ended_at)
        query = query.where(began <= q.until)
    query = query.order_by(*_order(q.sort, [jobs.c.id, _R.c.number])).limit(q.limit)
    with catalog.read() as conn:
        rows = conn.execute(query).all()
    result = []
    for r in rows:
        job, run = _split(r)
        result.append(JobRow(job, run))
    return result
