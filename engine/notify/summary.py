"""The daily summary: every run of the last 24 hours, counted by how it ended, sent once a day
at the ``[summary]`` time (engine/notify/config.py) by email and/or webhook.

The rows come from the catalog's job history (``JobsStore.history``: one row per run that
overlapped the period, open runs included), so foreground ``tapir backup`` jobs are in it as
well as scheduled ones. Which day was last sent is kept in ``<data dir>/notify-state.json``,
written (atomically) before sending: a crash loses one summary rather than
sending it twice.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from engine.catalog.db import Catalog
from engine.catalog.jobs_query import JobQuery
from engine.catalog.jobs_store import JobsStore
from engine.notify.channels import deliver, post_json, send_email
from engine.schedule.definitions import Definitions
from engine.schedule.store import write_atomic

log = logging.getLogger(__name__)

SUMMARY_STATE_FILE = "notify-state.json"
"""In the data directory: the day whose summary was last sent."""
PERIOD = timedelta(hours=24)
SHOWN_ROWS = 200
"""Runs listed in the email (all are counted); a busy day's list stays readable."""


@dataclass(frozen=True, slots=True)
class Summary:
    since: datetime
    until: datetime
    counts: dict[str, int]
    rows: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": "summary",
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "counts": self.counts,
            "runs": self.rows,
        }

    def subject(self) -> str:
        parts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        runs = f"{len(self.rows)} run{'' if len(self.rows) == 1 else 's'}"
        return f"tapir: daily summary, {runs} ({parts or 'none'})"

    def body(self) -> str:
        lines = [f"Runs from {self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M} UTC:", ""]
        for status, n in sorted(self.counts.items()):
            lines.append(f"  {status:<28}{n}")
        lines.append("")
        for row in self.rows[:SHOWN_ROWS]:
            lines.append(
                f"  job {row['job']:>6} run {row['run']:>3}  {row['outcome']:<26} "
                f"{row['name']}: {row['reason']}"
            )
        if len(self.rows) > SHOWN_ROWS:
            lines.append(f"  ... and {len(self.rows) - SHOWN_ROWS} more: tapir jobs history")
        return "\n".join(lines) + "\n"


def build_summary(catalog: Catalog, until: datetime, period: timedelta = PERIOD) -> Summary:
    """Every run that overlapped ``(until - period, until]``, oldest first."""
    since = until - period
    rows = JobsStore(catalog).history(JobQuery(since=since, until=until, sort=("id", "run")))
    out: list[dict[str, Any]] = []
    for row in rows:
        job, run = row.job, row.run
        status = run.status if run is not None and run.status is not None else None
        outcome = status.value if status is not None else job.state.value
        out.append(
            {
                "job": job.id,
                "run": run.number if run is not None else 0,
                "name": job.name,
                "type": job.type,
                "outcome": outcome,
                "reason": (run.error if run is not None and run.error else None)
                or job.state_reason,
                "files": run.files if run is not None else 0,
                "bytes": run.bytes if run is not None else 0,
            }
        )
    return Summary(since, until, dict(Counter(r["outcome"] for r in out)), out)


class DailySummary:
    """Sends the summary once per day (in the summary's time zone) after its time."""

    def __init__(self, catalog: Catalog, state_path: Path) -> None:
        self.catalog = catalog
        self.state_path = state_path

    def _last_sent(self) -> date | None:
        try:
            raw = json.loads(self.state_path.read_text(encoding="utf-8"))
            return date.fromisoformat(raw["summary"]["date"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def _write(self, day: date, now: datetime, deliveries: list[dict[str, Any]]) -> None:
        state = {
            "summary": {"date": day.isoformat(), "at": now.isoformat(), "deliveries": deliveries}
        }
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.state_path, json.dumps(state, indent=1).encode(), mode=0o644)

    def due(self, defs: Definitions, now: datetime) -> date | None:
        """The local day whose summary is due now, or None."""
        settings = defs.notify.summary
        if settings is None:
            return None
        local = now.astimezone(ZoneInfo(settings.timezone))
        if local.time() < settings.at:
            return None
        last = self._last_sent()
        return local.date() if last is None or last < local.date() else None

    def tick(self, defs: Definitions, now: datetime) -> list[dict[str, Any]] | None:
        """Send today's summary if due; its deliveries, or None when nothing was due."""
        day = self.due(defs, now)
        if day is None:
            return None
        self._write(day, now, [])  # claimed: at most once a day
        deliveries = send_summary(defs, build_summary(self.catalog, now))
        self._write(day, now, deliveries)
        return deliveries


def send_summary(defs: Definitions, summary: Summary) -> list[dict[str, Any]]:
    """To the ``[summary]`` addresses and webhook; each delivery's outcome."""
    settings = defs.notify.summary
    assert settings is not None
    deliveries = []
    if settings.email:
        deliveries.append(
            deliver(
                "email",
                ", ".join(settings.email),
                lambda: send_email(
                    defs.notify.smtp,
                    settings.email,
                    summary.subject(),
                    summary.body(),
                    source=defs.source,
                ),
            )
        )
    if settings.webhook:
        url = settings.webhook
        deliveries.append(deliver("webhook", url, lambda: post_json(url, summary.to_dict())))
    return deliveries
