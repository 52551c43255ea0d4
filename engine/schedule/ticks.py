"""The scheduler's and the notifier's periodic work, as ``tapir server`` ticks
(engine/manager/server.py ``Server.ticks``: ``(name, interval_s, callable)``).

``server_ticks`` is what the server adds to its loop; ``tick_once`` is one pass of both for
``tapir schedule tick`` (cron, systemd timers, scripts). Both read the definitions file afresh
at every pass, so ``tapir job create|edit`` needs no restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.catalog.db import Catalog
from engine.manager.clock import SYSTEM_CLOCK, Clock
from engine.notify.notifier import Notifier, NotifyReport
from engine.schedule.scheduler import Scheduler, TickReport
from engine.schedule.store import DefinitionsStore

log = logging.getLogger(__name__)

SCHEDULER_INTERVAL_S = 15.0
"""Cron's grain is a minute: a job starts at most a quarter of one late."""
NOTIFIER_INTERVAL_S = 30.0
"""Notices are not urgent to the second; SMTP and HTTP calls stay off the dispatch path."""

Tick = tuple[str, float, Callable[[], None]]


def server_ticks(
    catalog: Catalog,
    definitions: Path,
    *,
    clock: Clock = SYSTEM_CLOCK,
    log_line: Callable[[str], None] | None = None,
) -> list[Tick]:
    """The scheduler's and the notifier's ticks for ``Server(ticks=...)``; what each pass did
    and every problem it met go to ``log_line`` (the server's log) and the logging module."""
    store = DefinitionsStore(definitions)
    scheduler = Scheduler(catalog, store, clock=clock)
    notifier = Notifier(catalog, store, clock=clock)
    say = log_line or log.info

    def schedule() -> None:
        report = scheduler.tick()
        for line in describe_schedule(report) + report.problems:
            say(f"tapir scheduler: {line}")

    def notify() -> None:
        report = notifier.tick()
        for line in describe_notify(report) + report.failures() + report.problems:
            say(f"tapir notifier: {line}")

    return [
        ("scheduler", SCHEDULER_INTERVAL_S, schedule),
        ("notifier", NOTIFIER_INTERVAL_S, notify),
    ]


def tick_once(
    catalog: Catalog, definitions: Path, *, clock: Clock = SYSTEM_CLOCK
) -> tuple[TickReport, NotifyReport]:
    """One scheduler pass, then one notifier pass."""
    store = DefinitionsStore(definitions)
    report = Scheduler(catalog, store, clock=clock).tick()
    return report, Notifier(catalog, store, clock=clock).tick()


def describe_schedule(report: TickReport) -> list[str]:
    """One line per kind of thing a scheduler pass did."""
    lines = []
    for key in ("submitted", "held", "released", "missed", "timed_out", "retried"):
        ids: list[int] = getattr(report, key)
        if ids:
            lines.append(f"{key.replace('_', ' ')}: jobs {', '.join(map(str, ids))}")
    if report.busy:
        lines.append("another scheduler pass was running: nothing done")
    return lines


def describe_notify(report: NotifyReport) -> list[str]:
    lines: list[str] = []
    for notice in report.sent:
        ok = sum(1 for d in notice["deliveries"] if d["ok"])
        lines.append(
            f"job {notice['job']} {notice['event']}: {ok} of {len(notice['deliveries'])} sent"
        )
    if report.summary is not None:
        ok = sum(1 for d in report.summary if d["ok"])
        lines.append(f"daily summary: {ok} of {len(report.summary)} sent")
    return lines


def report_dict(schedule: TickReport, notify: NotifyReport) -> dict[str, Any]:
    out = schedule.to_dict()
    out["notifications"] = notify.sent
    out["summary"] = notify.summary
    out["problems"] = list(schedule.problems) + list(notify.problems)
    return out
