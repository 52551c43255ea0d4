"""All-or-nothing reservations as leases in the catalog.

``reserve`` is one write transaction: lock the dispatch row (FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE already serialises writers), read every key held, set aside what the eligible
waiting jobs ahead of this one (better priority, then older) would take if they asked now
(so a lower-priority job in another process cannot slip in before them), then choose every
key of the request or none (resources.allocate). On success it inserts the holder's lease and
one reservation row per key; the unique ``(kind, key)`` constraint is the last guard that two
holders never share a drive. It also records the request in ``job_queue`` so the passes of
other processes can keep resources for this job by its priority.

A lease belongs to one execution of one job (holder ``job:N pid:P@host #token``); ``heartbeat``
renews it, ``release`` drops it with its reservations and bumps the ``released`` counter so
waiting jobs everywhere retry at once.

Each method is one transaction on its own connection: safe from any thread.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engine.catalog.db import Catalog
from engine.catalog.schema import job_queue, jobs, leases, reservations
from engine.jobs.states import JobState
from engine.manager import queue
from engine.manager.clock import SYSTEM_CLOCK, Clock
from engine.manager.resources import Grant, Key, Request, Shortfall, allocate

HOST = socket.gethostname()


def holder_id(job_id: int) -> str:
    """A new holder id for one execution of ``job_id`` in this process."""
    return f"job:{job_id} pid:{os.getpid()}@{HOST} #{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Lease:
    holder: str
    job_id: int
    run_id: int | None
    host: str
    pid: int
    heartbeat_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Held:
    job_id: int
    holder: str
    kind: str
    key: str
    grp: str


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Grant | Shortfall
    taken: Mapping[Key, int]
    """Every key held (or kept for jobs ahead) when the choice was made -> the job."""


class Reservations:
    def __init__(self, catalog: Catalog, *, lease_s: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self.catalog = catalog
        self.lease_s = lease_s
        self.clock = clock

    def reserve(self, job_id: int, holder: str, request: Request) -> Outcome:
        """Everything ``request`` needs for ``job_id`` under ``holder``, or nothing."""
        now = self.clock.now()
        with self.catalog.write() as conn:
            queue.lock_dispatch(conn)
            queue.update_entry(conn, job_id, request=request.to_dict())
            taken = _taken(conn)
            for ahead_id, ahead in _ahead(conn, job_id):
                kept = allocate(ahead, taken)
                if isinstance(kept, Grant):
                    taken.update({(k.value, key): ahead_id for k, key, _ in kept.keys})
            result = allocate(request, taken)
            if isinstance(result, Grant):
                conn.execute(
                    sa.insert(leases).values(
                        holder=holder,
                        job_id=job_id,
                        host=HOST,
                        pid=os.getpid(),
                        acquired_at=now,
                        heartbeat_at=now,
                        expires_at=now + timedelta(seconds=self.lease_s),
                    )
                )
                for kind, key, grp in result.keys:
                    conn.execute(
                        sa.insert(reservations).values(
                            holder=holder,
                            job_id=job_id,
                            kind=kind.value,
                            key=key,
                            grp=grp,
                            reserved_at=now,
                        )
                    )
            return Outcome(result, taken)

    def claim(self, holder: str, job_id: int, kind: str, key: str, grp: str) -> bool:
        """Add one key to what ``holder`` already holds, in the same transaction discipline as
        ``reserve`` (a job that spans onto its next tape, a restarted run moving to another
        drive): True when it is (now) held by ``job_id``; False when another job holds it or
        ``holder``'s lease is gone."""
        now = self.clock.now()
        with self.catalog.write() as conn:
            queue.lock_dispatch(conn)
            alive = conn.execute(sa.select(leases.c.holder).where(leases.c.holder == holder))
            if alive.first() is None:
                return False
            taken = _taken(conn)
            if (kind, key) in taken:
                return taken[(kind, key)] == job_id
            conn.execute(
                sa.insert(reservations).values(
                    holder=holder, job_id=job_id, kind=kind, key=key, grp=grp, reserved_at=now
                )
            )
            return True

    def unclaim(self, holder: str, kind: str, key: str) -> None:
        """Give back one key ``holder`` no longer uses (a drive that failed it)."""
        with self.catalog.write() as conn:
            conn.execute(
                sa.delete(reservations).where(
                    reservations.c.holder == holder,
                    reservations.c.kind == kind,
                    reservations.c.key == key,
                )
            )
            queue.bump(conn, queue.RELEASED)

    def heartbeat(self, holder: str, *, run_id: int | None = None) -> bool:
        """Renew the lease; False if it is gone (the sweeper took it: stop at once)."""
        now = self.clock.now()
        values: dict[str, Any] = {
            "heartbeat_at": now,
            "expires_at": now + timedelta(seconds=self.lease_s),
        }
        if run_id is not None:
            values["run_id"] = run_id
        with self.catalog.write() as conn:
            done = conn.execute(
                sa.update(leases).where(leases.c.holder == holder).values(**values)
            ).rowcount
        return done == 1

    def release(self, holder: str) -> int:
        """Drop the lease and its reservations; returns how many were held."""
        with self.catalog.write() as conn:
            count = _drop(conn, leases.c.holder == holder)
            queue.bump(conn, queue.RELEASED)
        return count

    def release_job(self, job_id: int) -> int:
        with self.catalog.write() as conn:
            count = _drop(conn, leases.c.job_id == job_id)
            queue.bump(conn, queue.RELEASED)
        return count

    def held(self, job_id: int | None = None) -> list[Held]:
        query = sa.select(reservations).order_by(reservations.c.id)
        if job_id is not None:
            query = query.where(reservations.c.job_id == job_id)
        with self.catalog.read() as conn:
            return [Held(r.job_id, r.holder, r.kind, r.key, r.grp) for r in conn.execute(query)]

    def leases(self) -> list[Lease]:
        with self.catalog.read() as conn:
            rows = conn.execute(sa.select(leases).order_by(leases.c.acquired_at))
            return [
                Lease(r.holder, r.job_id, r.run_id, r.host, r.pid, r.heartbeat_at, r.expires_at)
                for r in rows
            ]


def _drop(conn: sa.Connection, where: sa.ColumnElement[bool]) -> int:
    holders = [r.holder for r in conn.execute(sa.select(leases.c.holder).where(where))]
    if not holders:
        return 0
    count = conn.execute(sa.delete(reservations).where(reservations.c.holder.in_(holders))).rowcount
    conn.execute(sa.delete(leases).where(leases.c.holder.in_(holders)))
    return int(count)


def _taken(conn: sa.Connection) -> dict[Key, int]:
    rows = conn.execute(sa.select(reservations.c.kind, reservations.c.key, reservations.c.job_id))
    return {(r.kind, r.key): r.job_id for r in rows}


def _ahead(conn: sa.Connection, job_id: int) -> list[tuple[int, Request]]:
    """The waiting jobs that go before ``job_id``, best first, with their last requests (a
    job that never asked keeps nothing). Every waiting job retries when anything is released,
    so one whose timed retry is far off still asks first for what was freed."""
    me = conn.execute(sa.select(jobs.c.priority).where(jobs.c.id == job_id)).one()
    better = sa.or_(
        jobs.c.priority < me.priority,
        sa.and_(jobs.c.priority == me.priority, jobs.c.id < job_id),
    )
    rows = conn.execute(
        sa.select(jobs.c.id, job_queue.c.request)
        .join(job_queue, job_queue.c.job_id == jobs.c.id)
        .where(
            jobs.c.state.in_([JobState.QUEUED.value, JobState.WAITING.value]),
            jobs.c.id != job_id,
            better,
            ~sa.exists().where(leases.c.job_id == jobs.c.id),  # granted, not started yet
            job_queue.c.request.is_not(None),
        )
        .order_by(jobs.c.priority, jobs.c.id)
    )
    return [(r.id, Request.from_dict(r.request)) for r in rows]
