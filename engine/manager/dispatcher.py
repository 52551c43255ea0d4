"""One dispatcher pass: the eligible jobs by priority (lower number first) then age, each given
all its resources or told why it waits.

``Dispatcher`` belongs to one process: ``owner`` None takes the jobs any server may run (the
``tapir server`` loop), a holder-process id takes only that process's own jobs (a foreground
``tapir backup``). Either way the reservations go through the catalog (reservations.py), so
processes never hand out one drive twice and jobs ahead keep what they would take.

A job that cannot get everything:
- if freeing resources held by lower-priority jobs it may preempt (jobtypes.py) would do, those
  are asked to yield (control.request_interrupt: INTERRUPT_PENDING) and it waits with
  "Waiting for job(s) [N] to release the resources.";
- else it waits with the reason of the first need it could not meet (reasons.py).
Its retry policy: a timed attempt that fails counts; after ``max_attempts`` the job ends
FAILED. A release anywhere makes every waiting job try again at once (not counted).
A job whose request cannot even be made (unknown target, nothing to restore) ends
FAILED_TO_START with the sentence.

Not thread-safe (one per loop); everything it writes is compare-and-set or one transaction.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import sqlalchemy as sa

from engine.catalog.db import Catalog
from engine.catalog.jobs_model import Job, StaleJob
from engine.catalog.jobs_store import JobsStore
from engine.catalog.schema import job_queue, jobs, leases
from engine.jobs.states import CompletionStatus, JobState
from engine.manager import control, queue, reasons
from engine.manager.clock import SYSTEM_CLOCK, Clock
from engine.manager.config import ManagerConfig
from engine.manager.reservations import Outcome, Reservations, holder_id
from engine.manager.resources import Grant, Request, Shortfall, allocate

S = JobState
ACTOR = "tapir-manager"
PREEMPTABLE_STATES = frozenset({S.RUNNING, S.INTERRUPT_PENDING})


class ProbeRefused(Exception):
    """The job can never start as defined; the message says why (FAILED_TO_START)."""


class Prober(Protocol):
    def request_for(self, job: Job) -> Request:
        """What ``job`` needs now (probe.py). Raises ``ProbeRefused``."""
        ...


@dataclass(frozen=True, slots=True)
class Attempt:
    job: Job
    grant: Grant | None
    holder: str | None
    reason: str | None
    """Why it waits (or ended), None when granted."""


class Dispatcher:
    def __init__(
        self,
        catalog: Catalog,
        config: ManagerConfig,
        prober: Prober,
        *,
        owner: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        fail_fast: bool = False,
    ) -> None:
        self.catalog = catalog
        self.config = config
        self.prober = prober
        self.owner = owner
        self.clock = clock
        self.jobs = JobsStore(catalog)
        self.reservations = Reservations(catalog, lease_s=config.lease_s, clock=clock)
        self.fail_fast = fail_fast
        """Foreground jobs: a request no release could satisfy (unknown target, library
        offline, no medium or disk path at all) runs the job without reservations, so it
        ends FAILED_TO_START with its own sentence, as it did before the manager existed."""
        self._seen_release = -1

    def eligible(self) -> list[Job]:
        """QUEUED and WAITING jobs of this dispatcher's owner, best first: all of them when
        something was released since the last pass, else those due on their retry policy."""
        released = queue.counter(self.catalog)
        everything = released != self._seen_release
        self._seen_release = released
        now = self.clock.now()
        owner = (
            job_queue.c.owner.is_(None) if self.owner is None else job_queue.c.owner == self.owner
        )
        query = (
            sa.select(jobs.c.id)
            .join(job_queue, job_queue.c.job_id == jobs.c.id)
            .where(
                jobs.c.state.in_([S.QUEUED.value, S.WAITING.value]),
                owner,
                ~sa.exists().where(leases.c.job_id == jobs.c.id),  # granted, starting
            )
            .order_by(jobs.c.priority, jobs.c.id)
        )
        if not everything:
            query = query.where(
                sa.or_(job_queue.c.next_attempt_at.is_(None), job_queue.c.next_attempt_at <= now)
            )
        with self.catalog.read() as conn:
            ids = [r.id for r in conn.execute(query)]
        return [self.jobs.get_job(i) for i in ids]

    def attempt(self, job: Job) -> Attempt:
        """Try to reserve everything ``job`` needs (module docstring)."""
        holder = holder_id(job.id)
        try:
            request = self.prober.request_for(job)
        except ProbeRefused as why:
            if self.fail_fast:
                return self._unreserved(job, holder)
            self._end(job, CompletionStatus.FAILED_TO_START, str(why))
            return Attempt(job, None, None, str(why))
        outcome = self.reservations.reserve(job.id, holder, request)
        if self.fail_fast and isinstance(outcome.result, Shortfall) and _hopeless(outcome.result):
            return self._unreserved(job, holder)
        if isinstance(outcome.result, Grant):
            with self.catalog.write() as conn:
                queue.update_entry(conn, job.id, blocked_by=None, next_attempt_at=None)
            return Attempt(job, outcome.result, holder, None)
        victims = self._preempt(job, request, outcome)
        reason = reasons.waiting_for_jobs(victims) if victims else outcome.result.reason
        return Attempt(job, None, None, self._wait(job, reason, victims))

    def _unreserved(self, job: Job, holder: str) -> Attempt:
        outcome = self.reservations.reserve(job.id, holder, Request())
        assert isinstance(outcome.result, Grant)
        return Attempt(job, outcome.result, holder, None)

    def _preempt(self, job: Job, request: Request, outcome: Outcome) -> set[int]:
        """The jobs to interrupt so ``job`` gets everything (empty: preemption cannot help)."""
        assert isinstance(outcome.result, Shortfall)
        me = self.config.job_type(job.type)
        holders = set(outcome.taken.values())
        yielding: set[int] = set()
        for other_id in holders:
            other = self.jobs.get_job(other_id)
            kind = self.config.job_type(other.type)
            if (
                other.state in PREEMPTABLE_STATES
                and other.priority > job.priority
                and me.may_preempt(kind)
            ):
                yielding.add(other_id)
        if not yielding:
            return set()
        left = {k: v for k, v in outcome.taken.items() if v not in yielding}
        freed = allocate(request, left)
        if not isinstance(freed, Grant):
            return set()
        victims = {outcome.taken[(k.value, key)] for k, key, _ in freed.keys} & yielding
        for victim in victims:
            control.request_interrupt(self.catalog, victim, job.id, clock=self.clock)
        return victims

    def _wait(self, job: Job, reason: str, victims: set[int]) -> str:
        """WAITING with ``reason``; count a timed attempt; end the job past its policy."""
        policy = self.config.job_type(job.type).retry
        now = self.clock.now()
        entry = queue.get_entry(self.catalog, job.id)
        attempts = entry.attempts if entry is not None else 0
        due = entry is None or entry.next_attempt_at is None or entry.next_attempt_at <= now
        if due:
            attempts += 1
            if policy.max_attempts is not None and attempts > policy.max_attempts:
                ended = reasons.gave_up(attempts - 1, reason)
                self._end(job, CompletionStatus.FAILED, ended)
                return ended
        with self.catalog.write() as conn:
            values = {"attempts": attempts, "blocked_by": sorted(victims) or None}
            if due:
                values["next_attempt_at"] = now + timedelta(seconds=policy.interval_s)
            queue.update_entry(conn, job.id, **values)
        try:
            if job.state is S.QUEUED:
                self.jobs.transition(
                    job.id, S.WAITING, actor=ACTOR, reason=reason, expected=S.QUEUED, now=now
                )
            elif job.state_reason != reason:
                set_waiting_reason(self.catalog, job.id, reason)
        except StaleJob:
            pass  # canceled or suspended meanwhile: that wins
        return reason

    def _end(self, job: Job, status: CompletionStatus, reason: str) -> None:
        with contextlib.suppress(StaleJob):
            self.jobs.transition(
                job.id, S.ENDED, actor=ACTOR, reason=reason, status=status, expected=job.state
            )


def _hopeless(short: Shortfall) -> bool:
    """No release by another job could meet this need."""
    need = short.need
    return need.unavailable is not None or len(need.candidates) < need.count


def set_waiting_reason(catalog: Catalog, job_id: int, reason: str) -> None:
    """A WAITING job's reason for delay changed (not a state change: no transition row)."""
    with catalog.write() as conn:
        conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == job_id, jobs.c.state == S.WAITING.value)
            .values(state_reason=reason)
        )
