"""Which notices a job has had, kept on the job itself: ``jobs.spec["notifications"]``, a table
keyed by notice (``"ended"``, ``"waiting:<since>"``) of ``{"at", "event", "deliveries": [{"channel",
"to", "ok", "error"}]}``.

``claim`` is a compare-and-set in one write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL:
the row locked FOR UPDATE): of two notifier ticks, only one sends. A notice is claimed before
it is sent and its deliveries recorded after, so a crash in between loses that notice rather
than sending it twice (at most once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.catalog.db import Catalog
from engine.catalog.schema import jobs

NOTIFICATIONS_KEY = "notifications"


def _update(catalog: Catalog, job_id: int, change: Any) -> bool:
    with catalog.write() as conn:
        row = conn.execute(
            sa.select(jobs.c.spec).where(jobs.c.id == job_id).with_for_update()
        ).first()
        if row is None:
            return False
        spec = dict(row.spec)
        notices = dict(spec.get(NOTIFICATIONS_KEY) or {})
        if not change(notices):
            return False
        spec[NOTIFICATIONS_KEY] = notices
        conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(spec=spec))
        return True


def claim(catalog: Catalog, job_id: int, key: str, event: str, at: datetime) -> bool:
    """True if this caller may send notice ``key`` of the job (nobody has claimed it)."""

    def take(notices: dict[str, Any]) -> bool:
        if key in notices:
            return False
        notices[key] = {"at": at.isoformat(), "event": event, "deliveries": []}
        return True

    return _update(catalog, job_id, take)


def record(catalog: Catalog, job_id: int, key: str, deliveries: list[dict[str, Any]]) -> None:
    """The outcome of each delivery of a claimed notice."""

    def put(notices: dict[str, Any]) -> bool:
        notices[key] = {**notices.get(key, {}), "deliveries": deliveries}
        return True

    _update(catalog, job_id, put)


def notices(spec: dict[str, Any]) -> dict[str, Any]:
    """The notices recorded on a job's spec."""
    return dict(spec.get(NOTIFICATIONS_KEY) or {})
