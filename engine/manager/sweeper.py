"""The sweeper: releases what dead holders held and ends their runs (rq's
StartedJobRegistry.cleanup; seed 004's cleanup of reservations of abruptly terminated jobs,
every ``cleanup_interval_min``, 1440 by default).

A holder is dead when its lease expired (no heartbeat for ``lease_s``), or, on this host, when
its process no longer exists (no need to wait for the lease). For each dead holder, in this
order: its reservations and lease are dropped (waiting jobs retry at once), then its job:
- a pending cancel is honoured: the run ends with the cancel's status, the job ENDED;
- a pending suspend: the run ends RESUMED, the job SUSPENDED;
- a restartable job: the run ends RESUMED and the job is queued again for any server (its
  next run resumes from its last checkpoint); a preempted one waits ("No resources
  available.");
- otherwise the run ends FAILED with the sentence, and the job ENDED.
Jobs queued by a foreground process that died before they ran are handed to the servers.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import sqlalchemy as sa

from engine.catalog.db import Catalog
from engine.catalog.jobs_model import JobsError
from engine.catalog.jobs_store import JobsStore
from engine.catalog.schema import job_queue, jobs
from engine.jobs.states import ACTIVE_STATES, CompletionStatus, JobState
from engine.manager import queue, reasons
from engine.manager.clock import SYSTEM_CLOCK, Clock
from engine.manager.config import ManagerConfig
from engine.manager.queue import ControlAction
from engine.manager.reservations import HOST, Lease, Reservations

ACTOR = "tapir-sweeper"
S = JobState


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (signal 0 checks without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def owner_alive(owner: str) -> bool:
    """An owner id ``pid:P@HOST #t``: False only when it is on this host and P is gone."""
    head = owner.split(" ", 1)[0]
    if not head.startswith("pid:") or "@" not in head:
        return True
    pid, _, host = head[4:].partition("@")
    return host != HOST or not pid.isdigit() or process_alive(int(pid))


@dataclass(frozen=True, slots=True)
class Swept:
    job_id: int
    holder: str
    released: int
    state: JobState
    status: CompletionStatus | None


class Sweeper:
    def __init__(
        self, catalog: Catalog, config: ManagerConfig, *, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.catalog = catalog
        self.config = config
        self.clock = clock
        self.jobs = JobsStore(catalog)
        self.reservations = Reservations(catalog, lease_s=config.lease_s, clock=clock)

    def dead(self, lease: Lease) -> bool:
        if lease.expires_at < self.clock.now():
            return True
        return lease.host == HOST and not process_alive(lease.pid)

    def sweep(self) -> list[Swept]:
        """One sweep (module docstring); what it did, per dead holder."""
        done = [self._bury(lease) for lease in self.reservations.leases() if self.dead(lease)]
        self._orphans()
        return done

    def _bury(self, lease: Lease) -> Swept:
        released = self.reservations.release(lease.holder)
        who = f"its holder (pid {lease.pid} on {lease.host}) stopped answering"
        job = self.jobs.get_job(lease.job_id)
        if job.state not in ACTIVE_STATES:
            return Swept(job.id, lease.holder, released, job.state, None)
        control = queue.get_entry(self.catalog, job.id)
        request = control.control if control is not None else None
        kind = self.config.job_type(job.type)
        if request is not None and request.action is ControlAction.CANCEL:
            status = request.status or CompletionStatus.CANCELED
            target, why = S.ENDED, request.reason
        elif request is not None and request.action is ControlAction.SUSPEND:
            status, target, why = CompletionStatus.RESUMED, S.SUSPENDED, request.reason
        elif kind.restartable and job.state is S.INTERRUPT_PENDING:
            status, target, why = CompletionStatus.RESUMED, S.WAITING, reasons.NO_RESOURCES
        elif kind.restartable:
            status, target = CompletionStatus.RESUMED, S.QUEUED
            why = f"Queued again: {who}; it resumes from its last checkpoint."
        else:
            status, target = CompletionStatus.FAILED, S.ENDED
            why = f"Failed: {who}."
        self._end(job.id, job.state, status, target, why)
        return Swept(job.id, lease.holder, released, target, status)

    def _end(
        self, job_id: int, state: JobState, status: CompletionStatus, target: JobState, why: str
    ) -> None:
        now = self.clock.now()
        run = self.jobs.open_run(job_id)
        if run is not None:
            # the run's own record says why it ended, RESUMED too: its holder died under it
            self.jobs.end_run(run.id, status, error=why, now=now)
        with contextlib.suppress(JobsError):
            if target is S.ENDED:
                self.jobs.transition(
                    job_id, S.ENDED, actor=ACTOR, reason=why, status=status, expected=state, now=now
                )
            else:
                self.jobs.transition(
                    job_id, target, actor=ACTOR, reason=why, expected=state, now=now
                )
        queue.set_control(self.catalog, job_id, None)
        with self.catalog.write() as conn:  # any server may run it now
            queue.update_entry(conn, job_id, owner=None, next_attempt_at=None)
            queue.bump(conn, queue.RELEASED)

    def _orphans(self) -> None:
        """Jobs waiting for a foreground process that died: hand them to the servers."""
        with self.catalog.read() as conn:
            rows = conn.execute(
                sa.select(job_queue.c.job_id, job_queue.c.owner)
                .join(jobs, jobs.c.id == job_queue.c.job_id)
                .where(
                    job_queue.c.owner.is_not(None),
                    jobs.c.state.in_([S.QUEUED.value, S.WAITING.value, S.SUSPENDED.value]),
                )
            ).all()
        for row in rows:
            if not owner_alive(row.owner):
                with self.catalog.write() as conn:
                    queue.update_entry(conn, row.job_id, owner=None)
                    queue.bump(conn, queue.RELEASED)
