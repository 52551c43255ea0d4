"""Reading the job definitions file: TOML text -> ``Definitions``, or one ``DefinitionError``
naming the file, the field and what to write ("jobs.toml: jobs.nightly.schedule: ...").

The format (the file's place: engine/schedule/store.py)::

    [jobs.nightly-home]
    description = "Home directories, weeknights"
    source = "/home"                    # required: an absolute path
    target = "lib1"                     # required: as tapir backup --to
    level = "incremental"               # full (default) | incremental | differential
    pool = "weekly"
    includes = ["*.conf"]               # gitignore-like patterns, as --include/--exclude
    excludes = ["*.o", "cache/"]
    one_file_system = true
    priority = 50                       # default 100
    schedule = "0 22 * * 1-5"           # cron (croniter); leave out for on-demand only
    timezone = "Europe/Berlin"          # of the schedule's hours; default UTC
    window = "4h"                       # may start until due time + window; then MISSED
    max_run_time = "8h"                 # a run going longer: CANCELED_TIMED_OUT
    duplicates = "skip"                 # previous run still going: skip | queue
    enabled = true
    retry = { attempts = 3, interval = "20m" }   # a failed scheduled run is retried

    [[jobs.nightly-home.notify]]        # rules: engine/notify/config.py
    on = ["failed", "exceptions"]
    email = ["ops@example.com"]

``[smtp]`` and ``[summary]`` (engine/notify/config.py) are the file-wide settings.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import UTC, datetime
from typing import Any

from croniter import CroniterError, croniter

from engine.backup.levels import Level
from engine.backup.patterns import parse as parse_pattern
from engine.catalog.jobs_store import DEFAULT_PRIORITY
from engine.notify.config import (
    NotifySettings,
    check_timezone,
    parse_rule,
    parse_smtp,
    parse_summary,
)
from engine.schedule.definitions import (
    DEFAULT_RETRY_INTERVAL,
    DEFAULT_WINDOW,
    JOB_TYPES,
    MAX_PRIORITY,
    Definitions,
    Duplicates,
    JobDefinition,
    RetryPolicy,
)
from engine.schedule.fields import DefinitionError, Fields

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NAME_RULE = "1..64 of A-Z a-z 0-9 _ . - (starting with a letter or digit)"
_TOP_KEYS = {"jobs": dict, "smtp": dict, "summary": dict}
_JOB_KEYS: dict[str, type | tuple[type, ...]] = {
    "description": str,
    "type": str,
    "source": str,
    "target": str,
    "level": str,
    "pool": str,
    "includes": list,
    "excludes": list,
    "one_file_system": bool,
    "priority": int,
    "schedule": str,
    "timezone": str,
    "window": str,
    "max_run_time": str,
    "duplicates": str,
    "enabled": bool,
    "retry": dict,
    "notify": list,
}
_RETRY_KEYS = {"attempts": int, "interval": str}
CRON_PROBE = datetime(2000, 1, 1, tzinfo=UTC)
"""Any date: an expression with no next occurrence from it has none at all."""
MAX_RETRY_ATTEMPTS = 144
"""Seed 004's largest default (a restore waiting for media: every 20 minutes, 144 times)."""


def parse_definitions(text: str, source: str) -> Definitions:
    """Validate the whole file; ``source`` names it in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(source, "", f"TOML syntax error: {exc}") from None
    top = Fields(source, "", raw, _TOP_KEYS)
    jobs: dict[str, JobDefinition] = {}
    for name, entry in top.get("jobs", {}).items():
        jobs[name] = parse_definition(source, name, entry)
    notify = NotifySettings(
        smtp=parse_smtp(source, top.raw["smtp"]) if "smtp" in top.raw else None,
        summary=parse_summary(source, top.raw["summary"]) if "summary" in top.raw else None,
    )
    return Definitions(jobs=jobs, notify=notify, source=source)


def check_name(source: str, name: str) -> str:
    if not NAME_RE.match(name):
        raise DefinitionError(source, f"jobs.{name}", f"the name must be {NAME_RULE}")
    return name


def check_cron(expression: str) -> str | None:
    """Why ``expression`` is not a schedule croniter accepts, or None."""
    if not croniter.is_valid(expression):
        return (
            f"{expression!r} is not a cron schedule; write 5 fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 22 * * 1-5', or @daily"
        )
    if len(expression.split()) > 5:
        return f"{expression!r} has more than 5 fields; seconds and years are not supported"
    try:
        croniter(expression, CRON_PROBE).get_next(datetime)
    except CroniterError:
        return f"{expression!r} never falls on a date (e.g. the 30th of February)"
    return None


def parse_definition(source: str, name: str, raw: Any) -> JobDefinition:
    """One ``[jobs.NAME]`` table."""
    check_name(source, name)
    f = Fields(source, f"jobs.{name}", raw, _JOB_KEYS)
    job_type = f.choice("type", "backup", JOB_TYPES)
    source_path = f.text("source", required=True)
    if not os.path.isabs(source_path):
        raise f.error("source", f"{source_path!r} must be an absolute path")
    level = f.choice("level", Level.FULL.value, tuple(lv.value for lv in Level))
    includes, excludes = f.strings("includes"), f.strings("excludes")
    for key, patterns in (("includes", includes), ("excludes", excludes)):
        for i, pattern in enumerate(patterns, 1):
            try:
                parse_pattern(pattern)
            except ValueError as exc:
                raise f.error(f"{key}[{i}]", f"{pattern!r}: {exc}") from None
    schedule = f.text("schedule")
    if schedule is not None and (problem := check_cron(schedule)):
        raise f.error("schedule", problem)
    retry = RetryPolicy()
    if "retry" in f.raw:
        r = Fields(source, f.place("retry"), f.raw["retry"], _RETRY_KEYS)
        retry = RetryPolicy(
            attempts=r.integer("attempts", 0, 0, MAX_RETRY_ATTEMPTS),
            interval=r.duration("interval", DEFAULT_RETRY_INTERVAL),
        )
    rules = tuple(
        parse_rule(source, f"{f.place('notify')}[{i}]", entry)
        for i, entry in enumerate(f.get("notify", []), 1)
    )
    return JobDefinition(
        name=name,
        source=source_path,
        target=f.text("target", required=True),
        type=job_type,
        level=Level(level),
        pool=f.text("pool"),
        includes=includes,
        excludes=excludes,
        one_file_system=bool(f.get("one_file_system", False)),
        priority=f.integer("priority", DEFAULT_PRIORITY, 0, MAX_PRIORITY),
        schedule=schedule,
        timezone=check_timezone(f, "timezone"),
        window=f.duration("window", DEFAULT_WINDOW),
        max_run_time=f.duration("max_run_time", None),
        duplicates=Duplicates(f.choice("duplicates", "skip", tuple(d.value for d in Duplicates))),
        retry=retry,
        notify=rules,
        enabled=bool(f.get("enabled", True)),
        description=f.get("description", ""),
    )
