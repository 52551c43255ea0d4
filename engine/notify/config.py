"""Notification settings in the job definitions file: per-job rules, the SMTP server, the
daily summary. Parsed with the definitions' ``Fields`` (engine/schedule/fields.py)::

    [smtp]                          # where email goes out
    host = "mail.example.com"
    port = 587                      # default 25 (465 with security = "tls")
    security = "starttls"           # none | starttls | tls
    sender = "tapir@example.com"
    username = "tapir"              # optional; the password comes from the environment
    password_env = "TAPIR_SMTP_PASSWORD"
    timeout = "30s"

    [summary]                       # the daily summary of the last 24 hours
    at = "07:00"                    # HH:MM in timezone
    timezone = "UTC"
    email = ["ops@example.com"]
    webhook = "https://hooks.example.com/tapir"

    [[jobs.NAME.notify]]            # a rule of one job definition
    on = ["failed", "exceptions", "missed", "waiting"]
    email = ["ops@example.com"]
    webhook = "https://hooks.example.com/tapir"
    waiting_after = "30m"           # with "waiting": how long a job may wait first
"""

from __future__ import annotations

import enum
import re
import urllib.parse
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.jobs.states import CompletionStatus
from engine.schedule.durations import format_duration
from engine.schedule.fields import Fields

DEFAULT_WAITING_AFTER = timedelta(minutes=30)
DEFAULT_SMTP_TIMEOUT = timedelta(seconds=30)
DEFAULT_SUMMARY_AT = time(7, 0)
SMTP_PORTS = {"none": 25, "starttls": 587, "tls": 465}
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_AT_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Event(enum.StrEnum):
    """What a rule may ask to be told about."""

    COMPLETED = "completed"
    EXCEPTIONS = "exceptions"
    FAILED = "failed"
    CANCELED = "canceled"
    MISSED = "missed"
    WAITING = "waiting"


ENDING_EVENTS: dict[CompletionStatus, Event] = {
    CompletionStatus.COMPLETED: Event.COMPLETED,
    CompletionStatus.COMPLETED_WITH_EXCEPTIONS: Event.EXCEPTIONS,
    CompletionStatus.COMPLETED_WITH_ERRORS: Event.EXCEPTIONS,
    CompletionStatus.FAILED: Event.FAILED,
    CompletionStatus.FAILED_TO_START: Event.FAILED,
    CompletionStatus.FAILED_OVER: Event.FAILED,
    CompletionStatus.RESUMED: Event.FAILED,
    CompletionStatus.TIMED_OUT: Event.FAILED,
    CompletionStatus.CANCELED_TIMED_OUT: Event.FAILED,
    CompletionStatus.RECOVERED: Event.FAILED,
    CompletionStatus.CANCELED: Event.CANCELED,
    CompletionStatus.MISSED: Event.MISSED,
}
"""The event of each completion status (an automatic cancellation is a failure to back up)."""
DEFAULT_EVENTS = frozenset({Event.FAILED, Event.EXCEPTIONS, Event.MISSED, Event.CANCELED})
"""A rule without ``on``: everything but a clean completion and waiting."""


@dataclass(frozen=True, slots=True)
class NotifyRule:
    on: frozenset[Event] = DEFAULT_EVENTS
    email: tuple[str, ...] = ()
    webhook: str | None = None
    waiting_after: timedelta = DEFAULT_WAITING_AFTER


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    sender: str
    port: int = SMTP_PORTS["none"]
    security: str = "none"
    username: str | None = None
    password_env: str | None = None
    timeout: timedelta = DEFAULT_SMTP_TIMEOUT


@dataclass(frozen=True, slots=True)
class SummarySettings:
    at: time = DEFAULT_SUMMARY_AT
    timezone: str = "UTC"
    email: tuple[str, ...] = ()
    webhook: str | None = None


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """The file-wide part: the SMTP server and the daily summary (either may be absent)."""

    smtp: SmtpSettings | None = None
    summary: SummarySettings | None = None


_RULE_KEYS = {"on": list, "email": list, "webhook": str, "waiting_after": str}
_SMTP_KEYS = {
    "host": str,
    "port": int,
    "security": str,
    "sender": str,
    "username": str,
    "password_env": str,
    "timeout": str,
}
_SUMMARY_KEYS = {"at": str, "timezone": str, "email": list, "webhook": str}


def check_timezone(f: Fields, key: str, default: str = "UTC") -> str:
    name = f.text(key, default)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise f.error(
            key, f"{name!r} is not a time zone; write e.g. UTC or Europe/Berlin"
        ) from None
    return str(name)


def _addresses(f: Fields, key: str) -> tuple[str, ...]:
    values = f.strings(key)
    for i, value in enumerate(values, 1):
        if not _EMAIL_RE.match(value):
            raise f.error(f"{key}[{i}]", f"{value!r} is not an email address")
    return values


def _webhook(f: Fields, key: str) -> str | None:
    url = f.text(key)
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise f.error(key, f"{url!r} is not an http:// or https:// URL")
    return str(url)


def parse_rule(source: str, where: str, raw: Any) -> NotifyRule:
    f = Fields(source, where, raw, _RULE_KEYS)
    events: set[Event] = set()
    for i, name in enumerate(f.strings("on"), 1):
        try:
            events.add(Event(name))
        except ValueError:
            known = ", ".join(e.value for e in Event)
            raise f.error(f"on[{i}]", f"{name!r} is not an event; events: {known}") from None
    rule = NotifyRule(
        on=frozenset(events) if "on" in f.raw else DEFAULT_EVENTS,
        email=_addresses(f, "email"),
        webhook=_webhook(f, "webhook"),
        waiting_after=f.duration("waiting_after", DEFAULT_WAITING_AFTER),
    )
    if not rule.email and rule.webhook is None:
        raise f.error("", "needs email (a list of addresses) or webhook (a URL)")
    if not rule.on:
        raise f.error("on", "names no event; leave it out for the default or list some")
    return rule


def parse_smtp(source: str, raw: Any) -> SmtpSettings:
    f = Fields(source, "smtp", raw, _SMTP_KEYS)
    security = f.choice("security", "none", tuple(SMTP_PORTS))
    sender = f.text("sender", required=True)
    if not _EMAIL_RE.match(sender):
        raise f.error("sender", f"{sender!r} is not an email address")
    return SmtpSettings(
        host=f.text("host", required=True),
        sender=sender,
        port=f.integer("port", SMTP_PORTS[security], 1, 65535),
        security=security,
        username=f.text("username"),
        password_env=f.text("password_env"),
        timeout=f.duration("timeout", DEFAULT_SMTP_TIMEOUT),
    )


def parse_summary(source: str, raw: Any) -> SummarySettings:
    f = Fields(source, "summary", raw, _SUMMARY_KEYS)
    at_text = f.text("at", "07:00")
    match = _AT_RE.match(at_text)
    if not match:
        raise f.error("at", f"{at_text!r} is not a time of day; write HH:MM, e.g. 07:00")
    summary = SummarySettings(
        at=time(int(match.group(1)), int(match.group(2))),
        timezone=check_timezone(f, "timezone"),
        email=_addresses(f, "email"),
        webhook=_webhook(f, "webhook"),
    )
    if not summary.email and summary.webhook is None:
        raise f.error("", "needs email (a list of addresses) or webhook (a URL)")
    return summary


def rule_to_toml(rule: NotifyRule) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.on != DEFAULT_EVENTS:
        out["on"] = sorted(e.value for e in rule.on)
    if rule.email:
        out["email"] = list(rule.email)
    if rule.webhook:
        out["webhook"] = rule.webhook
    if rule.waiting_after != DEFAULT_WAITING_AFTER:
        out["waiting_after"] = format_duration(rule.waiting_after)
    return out


def smtp_to_toml(s: SmtpSettings) -> dict[str, Any]:
    out: dict[str, Any] = {"host": s.host, "sender": s.sender}
    if s.security != "none":
        out["security"] = s.security
    if s.port != SMTP_PORTS[s.security]:
        out["port"] = s.port
    if s.username:
        out["username"] = s.username
    if s.password_env:
        out["password_env"] = s.password_env
    if s.timeout != DEFAULT_SMTP_TIMEOUT:
        out["timeout"] = format_duration(s.timeout)
    return out


def summary_to_toml(s: SummarySettings) -> dict[str, Any]:
    out: dict[str, Any] = {"at": s.at.strftime("%H:%M")}
    if s.timezone != "UTC":
        out["timezone"] = s.timezone
    if s.email:
        out["email"] = list(s.email)
    if s.webhook:
        out["webhook"] = s.webhook
    return out
