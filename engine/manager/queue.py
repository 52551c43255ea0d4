"""The manager's bookkeeping of submitted jobs (``job_queue``) and its shared counters.

A job enters the queue with ``submit`` (NOT_SUBMITTED -> QUEUED plus its row). The row carries
who runs it, its retry progress, its last resource request, whom it waits for, and the pending
control request (control.py). ``released`` is bumped by every release of resources so waiting
jobs in every process retry at once (``wait_for_release`` polls it).

Each function is one transaction on its own connection, except those taking ``conn``, which
run inside the caller's write transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.catalog.db import Catalog
from engine.catalog.jobs_store import JobsStore
from engine.catalog.schema import job_queue, manager_counters
from engine.jobs.states import CompletionStatus, JobState
from engine.manager.clock import SYSTEM_CLOCK, Clock

RELEASED = "released"
DISPATCH = "dispatch"


class ControlAction(enum.StrEnum):
    CANCEL = "cancel"
    SUSPEND = "suspend"
    INTERRUPT = "interrupt"


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """What the holder of a running job is asked to do at its next checkpoint."""

    action: ControlAction
    status: CompletionStatus | None
    """The completion status a cancel ends with (CANCELED or CANCELED_TIMED_OUT)."""
    reason: str
    actor: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class QueueEntry:
    job_id: int
    owner: str | None
    attempts: int
    next_attempt_at: datetime | None
    request: dict[str, Any] | None
    blocked_by: list[int]
    control: ControlRequest | None


def _entry(row: sa.Row[Any]) -> QueueEntry:
    control = None
    if row.control is not None:
        control = ControlRequest(
            ControlAction(row.control),
            CompletionStatus(row.control_status) if row.control_status else None,
            row.control_reason or "",
            row.control_actor or "tapir",
            row.control_at,
        )
    return QueueEntry(
        row.job_id,
        row.owner,
        row.attempts,
        row.next_attempt_at,
        row.request,
        list(row.blocked_by or []),
        control,
    )


def ensure_entry(conn: sa.Connection, job_id: int, owner: str | None = None) -> None:
    """The job's queue row exists (inside the caller's transaction)."""
    found = conn.execute(sa.select(job_queue.c.job_id).where(job_queue.c.job_id == job_id)).first()
    if found is None:
        conn.execute(sa.insert(job_queue).values(job_id=job_id, owner=owner, attempts=0))


def submit(
    catalog: Catalog,
    job_id: int,
    *,
    owner: str | None = None,
    actor: str = "tapir",
    reason: str | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    """Put a NOT_SUBMITTED (or already QUEUED) job in the queue, run by ``owner`` (None:
    any server). Raises the jobs store's errors (UnknownJob, IllegalTransition)."""
    jobs = JobsStore(catalog)
    if jobs.get_job(job_id).state is JobState.NOT_SUBMITTED:
        jobs.transition(
            job_id,
            JobState.QUEUED,
            actor=actor,
            reason=reason or f"Submitted by {actor}.",
            expected=JobState.NOT_SUBMITTED,
            now=clock.now(),
        )
    with catalog.write() as conn:
        ensure_entry(conn, job_id, owner)
        conn.execute(sa.update(job_queue).where(job_queue.c.job_id == job_id).values(owner=owner))
        bump(conn, RELEASED)  # a new job is a reason for every dispatcher to look


def get_entry(catalog: Catalog, job_id: int) -> QueueEntry | None:
    with catalog.read() as conn:
        row = conn.execute(sa.select(job_queue).where(job_queue.c.job_id == job_id)).first()
    return _entry(row) if row is not None else None


def read_entries(conn: sa.Connection, job_ids: list[int]) -> dict[int, QueueEntry]:
    if not job_ids:
        return {}
    rows = conn.execute(sa.select(job_queue).where(job_queue.c.job_id.in_(job_ids)))
    return {r.job_id: _entry(r) for r in rows}


def set_control(
    catalog: Catalog,
    job_id: int,
    action: ControlAction | None,
    *,
    status: CompletionStatus | None = None,
    reason: str | None = None,
    actor: str | None = None,
    at: datetime | None = None,
) -> None:
    """Record (or clear, with None) the job's pending control request."""
    with catalog.write() as conn:
        ensure_entry(conn, job_id)
        conn.execute(
            sa.update(job_queue)
            .where(job_queue.c.job_id == job_id)
            .values(
                control=action.value if action is not None else None,
                control_status=status.value if status is not None else None,
                control_reason=reason,
                control_actor=actor,
                control_at=at,
            )
        )


def update_entry(conn: sa.Connection, job_id: int, **values: Any) -> None:
    ensure_entry(conn, job_id)
    conn.execute(sa.update(job_queue).where(job_queue.c.job_id == job_id).values(**values))


def bump(conn: sa.Connection, name: str) -> None:
    done = conn.execute(
        sa.update(manager_counters)
        .where(manager_counters.c.name == name)
        .values(value=manager_counters.c.value + 1)
    ).rowcount
    if done == 0:
        conn.execute(sa.insert(manager_counters).values(name=name, value=1))


def counter(catalog: Catalog, name: str = RELEASED) -> int:
    with catalog.read() as conn:
        value = conn.execute(
            sa.select(manager_counters.c.value).where(manager_counters.c.name == name)
        ).scalar()
    return int(value or 0)


def lock_dispatch(conn: sa.Connection) -> None:
    """Serialise reservation transactions across processes: on PostgreSQL the ``dispatch``
    row is locked FOR UPDATE until commit; on SQLite BEGIN IMMEDIATE already did it."""
    row = conn.execute(
        sa.select(manager_counters.c.value)
        .where(manager_counters.c.name == DISPATCH)
        .with_for_update()
    ).first()
    if row is None:
        conn.execute(sa.insert(manager_counters).values(name=DISPATCH, value=0))
