"""``JobsStore``: jobs, their state transitions and their runs, in the catalog.

Every state change goes through ``transition``: it validates the move with
``engine.jobs.states.check_transition`` (THE table) and, in one write transaction, updates the
job only if its stored state is still the one it read or the caller's ``expected`` state
(compare-and-set in the UPDATE's WHERE clause), and inserts the transition row with time, actor
and reason. So two processes (the daemon's dispatcher, a foreground CLI job) cannot both move a
job: the loser gets ``StaleJob`` and nothing is written.

A job has one history record per run (``runs``). ``start_run`` opens one, ``update_progress``
reports on it (and is its heartbeat), ``end_run`` closes it with the completion status. Going
to ENDED closes a run still open with the same status; a job that ends without ever starting
(canceled before start, missed, failed to start) gets a run record that never started, so
the history shows it too.

Each method is one transaction and takes its own connection: safe from several threads.
Job listing and history queries live in ``jobs_query.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from engine.catalog import jobs_query
from engine.catalog.db import Catalog
from engine.catalog.files_read import DROP_UNLISTED
from engine.catalog.jobs_model import (
    Job,
    Run,
    RunConflict,
    StaleJob,
    Transition,
    UnknownJob,
    UnknownRun,
    enum_or_none,
    job_from_row,
    run_from_row,
)
from engine.catalog.jobs_query import JobQuery, JobRow
from engine.catalog.schema import job_transitions, jobs, runs
from engine.jobs.states import ACTIVE_STATES, CompletionStatus, JobState, check_transition
from engine.jobs.vocabulary import Detail

DEFAULT_PRIORITY = 100
"""A job created without a priority gets this one (the job manager orders by it)."""
CREATED_REASON = "Job created."


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


COUNTER_COLUMNS = ("files", "bytes", "exceptions", "rate")
ENDED_PHASE = "ended"
PROGRESS_FIELDS = frozenset({"phase", "files", "bytes", "rate", "volume", "drive", "exceptions"})
"""What ``update_progress`` may set on the open run."""


class JobsStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- jobs ----------------------------------------------------------------------------

    def create_job(
        self,
        type: str,
        name: str,
        spec: dict[str, Any],
        priority: int = DEFAULT_PRIORITY,
        actor: str = "tapir",
        *,
        client: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """A new job in NOT_SUBMITTED; ``client`` and ``source`` default to the spec's keys."""
        at = _now(now)
        source = spec.get("source")
        with self.catalog.write() as conn:
            job_id: int = conn.execute(
                sa.insert(jobs).values(
                    type=type,
                    name=name,
                    spec=spec,
                    priority=priority,
                    client=client if client is not None else spec.get("client"),
                    source=str(source) if source is not None else None,
                    state=JobState.NOT_SUBMITTED.value,
                    state_reason=CREATED_REASON,
                    state_actor=actor,
                    state_since=at,
                    created_at=at,
                    created_by=actor,
                )
            ).inserted_primary_key[0]
            conn.execute(
                sa.insert(job_transitions).values(
                    job_id=job_id,
                    old_state=None,
                    new_state=JobState.NOT_SUBMITTED.value,
                    reason=CREATED_REASON,
                    actor=actor,
                    at=at,
                )
            )
        return job_id

    def get_job(self, job_id: int) -> Job:
        with self.catalog.read() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise UnknownJob(f"Job {job_id} is not in the catalog.")
        return job_from_row(row)

    def set_priority(self, job_id: int, priority: int) -> None:
        with self.catalog.write() as conn:
            done = conn.execute(
                sa.update(jobs).where(jobs.c.id == job_id).values(priority=priority)
            ).rowcount
        if done != 1:
            raise UnknownJob(f"Job {job_id} is not in the catalog.")

    def transition(
        self,
        job_id: int,
        target: JobState,
        *,
        actor: str,
        reason: str,
        status: CompletionStatus | None = None,
        detail: Detail | None = None,
        expected: JobState | None = None,
        now: datetime | None = None,
    ) -> Transition:
        """Move the job to ``target`` (validated by the transition table) and record it.

        ``expected``: the state the caller believes the job is in; if another process moved
        it since, ``StaleJob`` is raised and nothing is written. Raises ``IllegalTransition``
        or ``MissingReason`` (engine.jobs.states), ``UnknownJob``.
        """
        at = _now(now)
        with self.catalog.write() as conn:
            row = conn.execute(sa.select(jobs.c.state).where(jobs.c.id == job_id)).first()
            if row is None:
                raise UnknownJob(f"Job {job_id} is not in the catalog.")
            current = JobState(row.state)
            if expected is not None and current is not expected:
                raise _stale(job_id, current, expected)
            check_transition(job_id, current, target, reason=reason, status=status)
            open_run = self._open_run(conn, job_id)
            values: dict[str, Any] = {
                "state": target.value,
                "state_reason": reason,
                "state_actor": actor,
                "state_since": at,
            }
            run_id = open_run.id if open_run is not None else None
            if target is JobState.ENDED:
                assert status is not None  # check_transition requires it
                started = (
                    open_run.started_at is not None
                    if open_run is not None
                    else self._ever_started(conn, job_id)
                )
                detail = _default_detail(status, detail, started=started)
                run_id = self._end_or_record_run(
                    conn, job_id, current, open_run, status, detail, at
                )
                values.update(status=status.value, detail=_value(detail))
            done = conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == current.value)
                .values(**values)
            ).rowcount
            if done != 1:  # another writer got in between (databases without BEGIN IMMEDIATE)
                raise _stale(job_id, None, current)
            change = Transition(job_id, run_id, current, target, status, detail, reason, actor, at)
            conn.execute(
                sa.insert(job_transitions).values(
                    job_id=job_id,
                    run_id=run_id,
                    old_state=current.value,
                    new_state=target.value,
                    status=_value(status),
                    detail=_value(detail),
                    reason=reason,
                    actor=actor,
                    at=at,
                )
            )
        return change

    def transitions(self, job_id: int) -> list[Transition]:
        """The job's state changes, oldest first (its creation included)."""
        t = job_transitions
        query = sa.select(t).where(t.c.job_id == job_id).order_by(t.c.at, t.c.id)
        with self.catalog.read() as conn:
            return [
                Transition(
                    r.job_id,
                    r.run_id,
                    enum_or_none(JobState, r.old_state),
                    JobState(r.new_state),
                    enum_or_none(CompletionStatus, r.status),
                    enum_or_none(Detail, r.detail),
                    r.reason,
                    r.actor,
                    r.at,
                )
                for r in conn.execute(query)
            ]

    # -- runs ----------------------------------------------------------------------------

    def start_run(
        self,
        job_id: int,
        *,
        level: str | None = None,
        base_run_id: int | None = None,
        started_ns: int | None = None,
        now: datetime | None = None,
    ) -> Run:
        """Open the job's next run (number 1, 2, ...). Raises ``RunConflict`` if one is open."""
        at = _now(now)
        with self.catalog.write() as conn:
            if conn.execute(sa.select(jobs.c.id).where(jobs.c.id == job_id)).first() is None:
                raise UnknownJob(f"Job {job_id} is not in the catalog.")
            open_run = self._open_run(conn, job_id)
            if open_run is not None:
                raise RunConflict(f"Job {job_id} already has run {open_run.number} open.")
            run_id = self._insert_run(
                conn,
                job_id,
                level=level,
                base_run_id=base_run_id,
                started_at=at,
                started_ns=started_ns if started_ns is not None else _ns(at),
                heartbeat_at=at,
            )
            return run_from_row(conn.execute(sa.select(runs).where(runs.c.id == run_id)).one())

    def update_progress(self, run_id: int, *, now: datetime | None = None, **progress: Any) -> None:
        """Set any of ``PROGRESS_FIELDS`` on the open run; also its heartbeat."""
        unknown = set(progress) - PROGRESS_FIELDS
        if unknown:
            raise TypeError(f"unknown progress fields: {', '.join(sorted(unknown))}")
        with self.catalog.write() as conn:
            done = conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id, runs.c.ended_at.is_(None))
                .values(heartbeat_at=_now(now), **progress)
            ).rowcount
            if done != 1:
                self._raise_run(conn, run_id)

    def end_run(
        self,
        run_id: int,
        status: CompletionStatus,
        *,
        detail: Detail | None = None,
        error: str | None = None,
        counters: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Run:
        """Close the run with its completion status. ``counters`` keys ``files``, ``bytes``,
        ``exceptions`` and ``rate`` fill those columns; every key is kept in ``counters``."""
        counters = dict(counters or {})
        values: dict[str, Any] = {
            name: counters[name]
            for name in ("files", "bytes", "exceptions", "rate")
            if name in counters
        }
        with self.catalog.write() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
            if row is None or row.ended_at is not None:
                self._raise_run(conn, run_id)
            detail = _default_detail(status, detail, started=row.started_at is not None)
            conn.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(
                    ended_at=_now(now),
                    phase=ENDED_PHASE,  # a finished run is in no working phase any more
                    status=status.value,
                    detail=_value(detail),
                    error=error,
                    counters={**row.counters, **counters},
                    **values,
                )
            )
            conn.execute(sa.text(DROP_UNLISTED), {"run": run_id})  # no checkpoint covers them
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == row.job_id)
                .values(status=status.value, detail=_value(detail))
            )
            return run_from_row(conn.execute(sa.select(runs).where(runs.c.id == run_id)).one())

    def get_run(self, run_id: int) -> Run:
        with self.catalog.read() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        if row is None:
            raise UnknownRun(f"Run {run_id} is not in the catalog.")
        return run_from_row(row)

    def runs(self, job_id: int) -> list[Run]:
        """The job's history: one record per run, oldest first."""
        query = sa.select(runs).where(runs.c.job_id == job_id).order_by(runs.c.number)
        with self.catalog.read() as conn:
            return [run_from_row(r) for r in conn.execute(query)]

    def list_jobs(self, query: JobQuery | None = None) -> list[JobRow]:
        """Jobs with their latest run, filtered and sorted (engine/catalog/jobs_query.py)."""
        return jobs_query.list_jobs(self.catalog, query or JobQuery())

    def history(self, query: JobQuery | None = None) -> list[JobRow]:
        """One row per run with its job, filtered and sorted."""
        return jobs_query.history(self.catalog, query or JobQuery())

    def open_run(self, job_id: int) -> Run | None:
        with self.catalog.read() as conn:
            return self._open_run(conn, job_id)

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _open_run(conn: sa.Connection, job_id: int) -> Run | None:
        row = conn.execute(
            sa.select(runs).where(runs.c.job_id == job_id, runs.c.ended_at.is_(None))
        ).first()
        return run_from_row(row) if row is not None else None

    @staticmethod
    def _ever_started(conn: sa.Connection, job_id: int) -> bool:
        """Whether any run of the job started: a job ending between runs (its run stopped at
        a checkpoint, then canceled while waiting or suspended) was canceled while running."""
        found = conn.execute(
            sa.select(runs.c.id).where(runs.c.job_id == job_id, runs.c.started_at.is_not(None))
        ).first()
        return found is not None

    @staticmethod
    def _insert_run(conn: sa.Connection, job_id: int, **values: Any) -> int:
        last = conn.execute(
            sa.select(sa.func.max(runs.c.number)).where(runs.c.job_id == job_id)
        ).scalar()
        return conn.execute(
            sa.insert(runs).values(
                job_id=job_id,
                number=(last or 0) + 1,
                files=0,
                bytes=0,
                exceptions=0,
                counters={},
                **values,
            )
        ).inserted_primary_key[0]

    def _end_or_record_run(
        self,
        conn: sa.Connection,
        job_id: int,
        current: JobState,
        open_run: Run | None,
        status: CompletionStatus,
        detail: Detail | None,
        at: datetime,
    ) -> int:
        """Close the open run with the job's final status; keep a run ``end_run`` already
        closed (the job was active); else record a run that never started, so canceled-before-
        start and missed jobs have their history record."""
        values = {"ended_at": at, "status": status.value, "detail": _value(detail)}
        if open_run is None:
            if current in ACTIVE_STATES:
                last = conn.execute(
                    sa.select(sa.func.max(runs.c.id)).where(runs.c.job_id == job_id)
                ).scalar()
                if last is not None:
                    return int(last)
            return self._insert_run(conn, job_id, **values)
        conn.execute(sa.update(runs).where(runs.c.id == open_run.id).values(**values))
        conn.execute(sa.text(DROP_UNLISTED), {"run": open_run.id})  # as in end_run
        return open_run.id

    @staticmethod
    def _raise_run(conn: sa.Connection, run_id: int) -> None:
        row = conn.execute(sa.select(runs.c.ended_at).where(runs.c.id == run_id)).first()
        if row is None:
            raise UnknownRun(f"Run {run_id} is not in the catalog.")
        raise RunConflict(f"Run {run_id} has already ended.")


def _stale(job_id: int, now: JobState | None, expected: JobState) -> StaleJob:
    shown = f"is {now.value} now" if now is not None else "was changed"
    return StaleJob(f"Job {job_id} {shown}, not {expected.value}: another process moved it first.")


def _default_detail(
    status: CompletionStatus, detail: Detail | None, *, started: bool
) -> Detail | None:
    """CANCELED is kept apart by when it happened (shared/JOB-STATUS.md)."""
    if status is CompletionStatus.CANCELED and detail in (None, Detail.NONE):
        return Detail.CANCELED_WHILE_RUNNING if started else Detail.CANCELED_BEFORE_START
    return detail


def _value(e: Any) -> str | None:
    return e.value if e is not None else None


def _ns(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1000
