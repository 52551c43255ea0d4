"""The notifier tick: finds the notices due and delivers them (module doc: engine/notify).

Due notices, for jobs a definition submitted, by that definition's rules (read each tick, so an
edited rule applies at once):
- "ended": a job that ended within ``lookback`` with a status whose event a rule asks for
  (engine/notify/config.py ``ENDING_EVENTS``);
- "waiting:<since>": a job queued, held or waiting since longer than a rule's
  ``waiting_after`` (again each time it starts waiting anew).
Each notice is claimed on the job (records.py) and then sent to every channel of every
matching rule; each delivery's outcome is recorded beside the claim and failures are logged.
Then the daily summary, if it is due (summary.py).

Blocking (SMTP, HTTP); ``tapir server`` calls ``tick`` from its loop thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.catalog.db import Catalog
from engine.catalog.jobs_model import Job
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import JobState
from engine.manager.clock import SYSTEM_CLOCK, Clock
from engine.notify import message, records
from engine.notify.channels import deliver, post_json, send_email
from engine.notify.config import ENDING_EVENTS, Event, NotifyRule
from engine.notify.summary import SUMMARY_STATE_FILE, DailySummary
from engine.paths import data_dir
from engine.schedule import queries
from engine.schedule.definitions import Definitions
from engine.schedule.fields import DefinitionError
from engine.schedule.jobspec import schedule_info
from engine.schedule.store import DefinitionsStore

log = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=24)
"""How far back ended jobs are looked at: a notifier down for a night still reports it, one
down for a week does not flood the inbox with old news."""
WAITING_STATES = frozenset({JobState.NOT_SUBMITTED, JobState.QUEUED, JobState.WAITING})
ENDED_KEY = "ended"


@dataclass
class NotifyReport:
    sent: list[dict[str, Any]] = field(default_factory=list)
    """One entry per notice: job, key, event and its deliveries."""
    problems: list[str] = field(default_factory=list)
    summary: list[dict[str, Any]] | None = None
    """The daily summary's deliveries, when it was sent in this tick."""

    def failures(self) -> list[str]:
        return [d["error"] for n in self.sent for d in n["deliveries"] if not d["ok"]]


class Notifier:
    """Not thread-safe: one tick at a time per object."""

    def __init__(
        self,
        catalog: Catalog,
        store: DefinitionsStore,
        *,
        clock: Clock = SYSTEM_CLOCK,
        state_path: Path | None = None,
        lookback: timedelta = LOOKBACK,
    ) -> None:
        self.catalog = catalog
        self.jobs = JobsStore(catalog)
        self.store = store
        self.clock = clock
        self.lookback = lookback
        path = state_path or data_dir() / SUMMARY_STATE_FILE
        self.summary = DailySummary(catalog, path)

    def tick(self) -> NotifyReport:
        now = self.clock.now()
        report = NotifyReport()
        try:
            defs = self.store.load()
        except DefinitionError as exc:
            report.problems.append(str(exc))
            return report
        for job in queries.ended_since(self.catalog, now - self.lookback):
            event = ENDING_EVENTS.get(job.status) if job.status is not None else None
            rules = self._rules(defs, job, event)
            if event is not None and rules:
                self._notice(job, ENDED_KEY, event, rules, defs, now, report)
        for job, _info in queries.open_jobs(self.catalog):
            if job.state not in WAITING_STATES:
                continue
            waited = now - job.state_since
            rules = [r for r in self._rules(defs, job, Event.WAITING) if waited >= r.waiting_after]
            if rules:
                key = f"waiting:{job.state_since.isoformat()}"
                self._notice(job, key, Event.WAITING, rules, defs, now, report)
        if defs.notify.summary is not None:
            report.summary = self.summary.tick(defs, now)
        return report

    @staticmethod
    def _rules(defs: Definitions, job: Job, event: Event | None) -> list[NotifyRule]:
        info = schedule_info(job.spec)
        definition = defs.get(info.definition) if info is not None else None
        if definition is None or event is None:
            return []
        return [rule for rule in definition.notify if event in rule.on]

    def _notice(
        self,
        job: Job,
        key: str,
        event: Event,
        rules: list[NotifyRule],
        defs: Definitions,
        now: datetime,
        report: NotifyReport,
    ) -> None:
        if key in records.notices(job.spec):
            return
        if not records.claim(self.catalog, job.id, key, event.value, now):
            return  # another notifier has it
        runs = self.jobs.runs(job.id)
        info = schedule_info(job.spec)
        name = info.definition if info is not None else job.name
        facts = message.job_facts(job, runs[-1] if runs else None, name, event)
        deliveries = [d for rule in rules for d in _deliver_rule(rule, facts, defs)]
        records.record(self.catalog, job.id, key, deliveries)
        report.sent.append(
            {"job": job.id, "key": key, "event": event.value, "deliveries": deliveries}
        )


def _deliver_rule(
    rule: NotifyRule, facts: dict[str, Any], defs: Definitions
) -> list[dict[str, Any]]:
    """Send one notice by each channel of ``rule``; the outcome of each."""
    out = []
    if rule.email:
        subject, text = message.subject(facts), message.body(facts)
        out.append(
            deliver(
                "email",
                ", ".join(rule.email),
                lambda: send_email(defs.notify.smtp, rule.email, subject, text, source=defs.source),
            )
        )
    if rule.webhook is not None:
        url = rule.webhook
        out.append(deliver("webhook", url, lambda: post_json(url, facts)))
    return out
