"""The options of ``tapir job create|edit`` as definition fields (engine/cli/job_defs.py).

``Options.apply`` writes the given options into a definition's TOML table, which is then
checked by the file's own rules (engine/schedule/validate.py); ``option_problem`` names the
option behind a field the rules refused, so the error reads "--window: '4x' is not ...".
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Annotated, Any

import typer

OPTION_OF_FIELD = {
    "source": "--source",
    "target": "--to",
    "level": "--level",
    "pool": "--pool",
    "includes": "--include",
    "excludes": "--exclude",
    "priority": "--priority",
    "schedule": "--schedule",
    "timezone": "--timezone",
    "window": "--window",
    "max_run_time": "--max-run-time",
    "duplicates": "--duplicates",
    "retry.attempts": "--retry",
    "retry.interval": "--retry-interval",
    "notify.email": "--notify-email",
    "notify.webhook": "--notify-webhook",
    "notify.on": "--notify-on",
    "notify.waiting_after": "--waiting-after",
    "notify": "--notify-email or --notify-webhook",
}


@dataclasses.dataclass
class Options:
    """The definition fields given on the command line (None: not given)."""

    source: str | None = None
    target: str | None = None
    level: str | None = None
    pool: str | None = None
    includes: list[str] | None = None
    excludes: list[str] | None = None
    one_file_system: bool | None = None
    priority: int | None = None
    schedule: str | None = None
    timezone: str | None = None
    window: str | None = None
    max_run_time: str | None = None
    duplicates: str | None = None
    retry: int | None = None
    retry_interval: str | None = None
    notify_email: list[str] | None = None
    notify_webhook: str | None = None
    notify_on: str | None = None
    waiting_after: str | None = None
    description: str | None = None
    enabled: bool | None = None

    def apply(self, table: dict[str, Any]) -> dict[str, Any]:
        """``table`` (a definition as TOML) with the given options put in."""
        out = dict(table)
        if self.source is not None:
            out["source"] = os.path.abspath(os.path.expanduser(self.source))
        plain = ("target", "level", "pool", "priority", "schedule", "timezone", "window")
        plain += ("max_run_time", "duplicates", "description", "enabled", "one_file_system")
        for name in plain:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name in ("includes", "excludes"):
            if getattr(self, name):
                out[name] = list(getattr(self, name))
        if self.retry is not None or self.retry_interval is not None:
            retry = dict(out.get("retry", {}))
            if self.retry is not None:
                retry["attempts"] = self.retry
            if self.retry_interval is not None:
                retry["interval"] = self.retry_interval
            out["retry"] = retry
        rule = self.rule()
        if rule is not None:
            out["notify"] = [rule]
        return out

    def rule(self) -> dict[str, Any] | None:
        given = (self.notify_email, self.notify_webhook, self.notify_on, self.waiting_after)
        if not any(v is not None for v in given):
            return None
        rule: dict[str, Any] = {}
        if self.notify_email:
            rule["email"] = list(self.notify_email)
        if self.notify_webhook is not None:
            rule["webhook"] = self.notify_webhook
        if self.notify_on is not None:
            rule["on"] = [e.strip() for e in self.notify_on.split(",") if e.strip()]
        if self.waiting_after is not None:
            rule["waiting_after"] = self.waiting_after
        return rule


NameArg = Annotated[str, typer.Argument(help="Definition name (letters, digits, _ . -).")]
LevelOpt = Annotated[str | None, typer.Option("--level", help="full, incremental or differential.")]
PoolOpt = Annotated[str | None, typer.Option("--pool", help="Media pool.")]
IncludeOpt = Annotated[
    list[str] | None, typer.Option("--include", help="Back up only what matches (repeatable).")
]
ExcludeOpt = Annotated[
    list[str] | None, typer.Option("--exclude", help="Leave out what matches (repeatable).")
]
OneFsOpt = Annotated[
    bool | None,
    typer.Option("--one-file-system/--cross-file-systems", help="Stay on one file system."),
]
PriorityOpt = Annotated[int | None, typer.Option("--priority", help="0..999, lower first.")]
ScheduleOpt = Annotated[
    str | None, typer.Option("--schedule", help="Cron schedule, e.g. '0 22 * * 1-5'.")
]
TimezoneOpt = Annotated[
    str | None, typer.Option("--timezone", help="Zone of the schedule's hours (UTC).")
]
WindowOpt = Annotated[
    str | None, typer.Option("--window", help="Start window after the due time (4h).")
]
MaxRunOpt = Annotated[
    str | None, typer.Option("--max-run-time", help="Cancel a run going longer (e.g. 8h).")
]
DuplicatesOpt = Annotated[
    str | None,
    typer.Option("--duplicates", help="Previous run still going: skip or queue (skip)."),
]
RetryOpt = Annotated[int | None, typer.Option("--retry", help="Retries of a failed run (0).")]
RetryIntervalOpt = Annotated[
    str | None, typer.Option("--retry-interval", help="Time before a retry (20m).")
]
EmailOpt = Annotated[
    list[str] | None, typer.Option("--notify-email", help="Email address (repeatable).")
]
WebhookOpt = Annotated[str | None, typer.Option("--notify-webhook", help="URL to POST to.")]
NotifyOnOpt = Annotated[
    str | None,
    typer.Option(
        "--notify-on",
        help="Events, comma-separated: completed, exceptions, failed, canceled, missed, "
        "waiting (default: all but completed and waiting).",
    ),
]
WaitingOpt = Annotated[
    str | None, typer.Option("--waiting-after", help="With 'waiting': threshold (30m).")
]
DescriptionOpt = Annotated[str | None, typer.Option("--description", help="Free text.")]
EnabledOpt = Annotated[
    bool | None, typer.Option("--enable/--disable", help="Whether the schedule runs.")
]


RENAMED = {"include": "includes", "exclude": "excludes"}
OPTION_NAMES = {f.name for f in dataclasses.fields(Options)} | set(RENAMED)


def make_options(values: dict[str, Any]) -> Options:
    return Options(**{RENAMED.get(k, k): v for k, v in values.items()})


def option_problem(name: str, exc: Any) -> str:
    field = exc.where.removeprefix(f"jobs.{name}").lstrip(".")
    key = re.sub(r"\[\d+\]", "", field)
    option = OPTION_OF_FIELD.get(key)
    if option is None and not field:
        return f"job {name}: {exc.problem}"
    return f"job {name}: {option or field}: {exc.problem}"
