"""Job definitions: what a scheduled (or "Backup Now") job does, when, and who hears of it.

A definition is configuration, kept in the job definitions file (engine/schedule/store.py);
each run of it is a job in the catalog named after the definition, so its runs form the
backup level history (engine/backup/levels.py) and ``tapir jobs list`` shows them. The
values here are already checked (engine/schedule/validate.py parses the file); ``to_toml``
writes back only what differs from the defaults, so the file stays short.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from engine.backup.levels import Level
from engine.catalog.jobs_store import DEFAULT_PRIORITY
from engine.notify.config import (
    NotifyRule,
    NotifySettings,
    SmtpSettings,
    SummarySettings,
    rule_to_toml,
    smtp_to_toml,
    summary_to_toml,
)
from engine.schedule.durations import format_duration

JOB_TYPES = ("backup",)
"""What a definition may run today (restore and verify definitions come with their jobs)."""
DEFAULT_WINDOW = timedelta(hours=4)
"""Long enough for a nightly job to wait out a busy drive, short enough that a job the
library could not run at 22:00 does not start in the middle of the working day."""
DEFAULT_RETRY_INTERVAL = timedelta(minutes=20)
"""Seed 004's default retry interval."""
MAX_PRIORITY = 999


class Duplicates(enum.StrEnum):
    """What an occurrence does while the previous run of the same definition still goes."""

    SKIP = "skip"
    """Not started: recorded MISSED, naming the job still running."""
    QUEUE = "queue"
    """Held (NOT_SUBMITTED) until the previous run ends, then queued, inside its window."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A failed scheduled run is submitted again after ``interval``, up to ``attempts`` more
    times (0: never)."""

    attempts: int = 0
    interval: timedelta = DEFAULT_RETRY_INTERVAL


@dataclass(frozen=True, slots=True)
class JobDefinition:
    name: str
    source: str
    target: str
    type: str = "backup"
    level: Level = Level.FULL
    pool: str | None = None
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    one_file_system: bool = False
    priority: int = DEFAULT_PRIORITY
    schedule: str | None = None
    """A cron expression (croniter: 5 fields, or @daily, @hourly, ...); None: on demand only."""
    timezone: str = "UTC"
    """The zone the cron expression's hours are in (IANA name)."""
    window: timedelta = DEFAULT_WINDOW
    """How long after its due time an occurrence may still start; later it is MISSED."""
    max_run_time: timedelta | None = None
    """A run going longer is canceled: CANCELED_TIMED_OUT."""
    duplicates: Duplicates = Duplicates.SKIP
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    notify: tuple[NotifyRule, ...] = ()
    enabled: bool = True
    description: str = ""


@dataclass(frozen=True, slots=True)
class Definitions:
    """The whole file: definitions by name (in file order) and the notification settings."""

    jobs: dict[str, JobDefinition] = field(default_factory=dict)
    notify: NotifySettings = field(default_factory=NotifySettings)
    source: str = "<no file>"

    def get(self, name: str) -> JobDefinition | None:
        return self.jobs.get(name)


def definition_to_toml(d: JobDefinition) -> dict[str, Any]:
    """The definition's table, without its name and without fields left at their default."""
    out: dict[str, Any] = {}
    if d.description:
        out["description"] = d.description
    if d.type != "backup":
        out["type"] = d.type
    out["source"] = d.source
    out["target"] = d.target
    out["level"] = Level(d.level).value
    if d.pool is not None:
        out["pool"] = d.pool
    if d.includes:
        out["includes"] = list(d.includes)
    if d.excludes:
        out["excludes"] = list(d.excludes)
    if d.one_file_system:
        out["one_file_system"] = True
    if d.priority != DEFAULT_PRIORITY:
        out["priority"] = d.priority
    if d.schedule is not None:
        out["schedule"] = d.schedule
    if d.timezone != "UTC":
        out["timezone"] = d.timezone
    if d.window != DEFAULT_WINDOW:
        out["window"] = format_duration(d.window)
    if d.max_run_time is not None:
        out["max_run_time"] = format_duration(d.max_run_time)
    if d.duplicates is not Duplicates.SKIP:
        out["duplicates"] = d.duplicates.value
    if not d.enabled:
        out["enabled"] = False
    if d.retry != RetryPolicy():
        out["retry"] = {
            "attempts": d.retry.attempts,
            "interval": format_duration(d.retry.interval),
        }
    if d.notify:
        out["notify"] = [rule_to_toml(rule) for rule in d.notify]
    return out


def definitions_to_toml(defs: Definitions) -> dict[str, Any]:
    """The whole file as a TOML document (tomli_w writes it)."""
    out: dict[str, Any] = {}
    smtp: SmtpSettings | None = defs.notify.smtp
    summary: SummarySettings | None = defs.notify.summary
    if smtp is not None:
        out["smtp"] = smtp_to_toml(smtp)
    if summary is not None:
        out["summary"] = summary_to_toml(summary)
    if defs.jobs:
        out["jobs"] = {name: definition_to_toml(d) for name, d in defs.jobs.items()}
    return out
