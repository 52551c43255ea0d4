"""The scheduler tick: due occurrences become jobs, windows and run times are enforced.

One ``Scheduler.tick`` (called by ``tapir server`` every few seconds, or by
``tapir schedule tick`` from cron) does, at the clock's "now":

1. Jobs already submitted (engine/schedule/queries.py ``open_jobs``):
   - held (NOT_SUBMITTED, duplicates = queue): queued once the definition's earlier jobs have
     ended; MISSED if its window ended first;
   - never started and its window ended: ENDED MISSED, saying when the next window opens;
   - running past its max run time: a cancel request with CANCELED_TIMED_OUT.
2. Each enabled definition with a schedule: every occurrence since it was last looked at
   (the state file, else the latest occurrence in the catalog; a new definition: only the
   latest occurrence, if its window is still open). An occurrence whose window already ended
   (the scheduler was not running) is recorded MISSED; otherwise it is submitted QUEUED, or,
   while an earlier job of the definition is still going, recorded MISSED (skip) or held
   (queue).
3. Retries: a definition whose latest job FAILED is submitted again after the retry interval,
   up to the retry attempts.

Changes are compare-and-set transitions (``expected=``): if the dispatcher starts a job in
the same instant the scheduler misses it, one of them wins and the other leaves it alone.
Ticks of several processes on one host exclude each other (a lock file); a tick that finds
the lock taken does nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from croniter import CroniterError

from engine.catalog.db import Catalog
from engine.catalog.jobs_model import Job, JobsError
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager.clock import SYSTEM_CLOCK, Clock
from engine.manager.control import request_cancel
from engine.paths import data_dir
from engine.schedule import queries
from engine.schedule import submit as sub
from engine.schedule.cron import CronSchedule
from engine.schedule.definitions import Definitions, Duplicates, JobDefinition
from engine.schedule.durations import format_duration
from engine.schedule.fields import DefinitionError
from engine.schedule.jobspec import ScheduleInfo, Trigger
from engine.schedule.state import STATE_FILE, SchedulerState
from engine.schedule.store import DefinitionsStore

log = logging.getLogger(__name__)

ACTOR = "tapir-scheduler"
MAX_CATCHUP = 10
"""Occurrences recorded MISSED for one definition after the scheduler was down; older ones
are not recorded (a per-minute schedule down for a day would otherwise bury the history)."""
RETRY_STATUSES = frozenset(
    {CompletionStatus.FAILED, CompletionStatus.FAILED_TO_START, CompletionStatus.TIMED_OUT}
)
"""A run that ended so may be retried; canceled, timed-out-by-policy and missed ones are not
(running a job that hit its max run time again would only hit it again)."""
NEVER_STARTED_STATES = frozenset({JobState.QUEUED, JobState.WAITING, JobState.SUSPENDED})


@dataclass
class TickReport:
    at: datetime
    submitted: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    timed_out: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    busy: bool = False
    """Another process was ticking: this tick did nothing."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in vars(self).items() if k != "at"}
        out["at"] = self.at.isoformat()
        return out


class Scheduler:
    """Not thread-safe: one tick at a time per object (``tapir server`` calls it from its
    tick loop)."""

    def __init__(
        self,
        catalog: Catalog,
        store: DefinitionsStore,
        *,
        clock: Clock | None = None,
        state_path: Path | None = None,
        actor: str = ACTOR,
    ) -> None:
        self.catalog = catalog
        self.jobs = JobsStore(catalog)
        self.store = store
        self.clock = clock or SYSTEM_CLOCK
        self.state_path = state_path or data_dir() / STATE_FILE
        self.actor = actor

    # -- the tick ------------------------------------------------------------------------

    def tick(self) -> TickReport:
        now = self.clock.now()
        report = TickReport(now)
        with self._lock() as got:
            if not got:
                report.busy = True
                return report
            try:
                defs = self.store.load()
            except DefinitionError as exc:
                report.problems.append(str(exc))  # police what runs; submit nothing
                defs = None
            self._police(now, defs, report)
            if defs is not None:
                state = SchedulerState(self.state_path)
                for definition in defs.jobs.values():
                    self._guarded(
                        report, definition.name, self._due, definition, now, state, report
                    )
                    self._guarded(report, definition.name, self._retry, definition, now, report)
                state.checked = {n: t for n, t in state.checked.items() if n in defs.jobs}
                state.save()
        return report

    @contextlib.contextmanager
    def _lock(self) -> Iterator[bool]:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        path = self.state_path.with_name(".scheduler.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def _guarded(
        self, report: TickReport, what: str, step: Callable[..., None], *args: Any
    ) -> None:
        """A job another process moved first (or that cannot be moved any more) is logged
        and left to that move; a schedule that cannot be followed is reported; the tick goes
        on with the next."""
        try:
            step(*args)
        except JobsError as exc:
            log.info("%s: %s", what, exc)
        except CroniterError as exc:  # a schedule croniter accepted but cannot follow
            report.problems.append(f"{what}: its schedule cannot be followed: {exc}")

    # -- jobs already submitted ----------------------------------------------------------

    def _police(self, now: datetime, defs: Definitions | None, report: TickReport) -> None:
        open_jobs = queries.open_jobs(self.catalog)
        for job, info in open_jobs:
            self._guarded(
                report, f"job {job.id}", self._police_one, job, info, open_jobs, now, defs, report
            )

    def _police_one(
        self,
        job: Job,
        info: ScheduleInfo,
        open_jobs: list[tuple[Job, ScheduleInfo]],
        now: datetime,
        defs: Definitions | None,
        report: TickReport,
    ) -> None:
        window_over = info.window_end is not None and info.window_end <= now
        if job.state is JobState.NOT_SUBMITTED:
            if info.trigger is Trigger.MANUAL:
                return  # "Backup Now" between its creation and its submission: not held
            if window_over:
                self._miss(job, info, now, defs, report)
                return
            ahead = [j for j, i in open_jobs if i.definition == info.definition and j.id < job.id]
            if not ahead:
                sub.queue(
                    self.catalog,
                    job.id,
                    reason="The definition's previous run ended: submitted.",
                    clock=self.clock,
                    actor=self.actor,
                )
                report.released.append(job.id)
            return
        started = self._started_at(job)
        if started is None:
            if window_over and job.state in NEVER_STARTED_STATES:
                self._miss(job, info, now, defs, report)
            return
        limit = info.max_run_time
        if (
            limit is not None
            and started + limit <= now
            and job.state is not JobState.CANCEL_PENDING
        ):
            reason = (
                f"Canceled automatically: it ran past its maximum run time of "
                f"{_show_duration(limit)} (started {sub.show_time(started)})."
            )
            request_cancel(
                self.catalog,
                job.id,
                CompletionStatus.CANCELED_TIMED_OUT,
                reason,
                self.actor,
                clock=self.clock,
            )
            report.timed_out.append(job.id)

    def _started_at(self, job: Job) -> datetime | None:
        for run in self.jobs.runs(job.id):
            if run.started_at is not None:
                return run.started_at
        return None

    def _miss(
        self,
        job: Job,
        info: ScheduleInfo,
        now: datetime,
        defs: Definitions | None,
        report: TickReport,
    ) -> None:
        assert info.window_end is not None
        start = sub.show_time(info.occurrence) if info.occurrence else "its submission"
        reason = (
            f"Could not start inside its window ({start} to {sub.show_time(info.window_end)}); "
            f"{self._next_window(defs, info.definition, now)}"
        )
        self.jobs.transition(
            job.id,
            JobState.ENDED,
            actor=self.actor,
            reason=reason,
            status=CompletionStatus.MISSED,
            expected=job.state,
            now=now,
        )
        report.missed.append(job.id)

    @staticmethod
    def _next_window(defs: Definitions | None, name: str, now: datetime) -> str:
        definition = defs.get(name) if defs is not None else None
        if definition is None or definition.schedule is None or not definition.enabled:
            return "the definition has no schedule now: no next window."
        cron = CronSchedule(definition.schedule, definition.timezone)
        return f"rescheduled to the next window at {sub.show_time(cron.next_after(now))}."

    # -- due occurrences -----------------------------------------------------------------

    def _due(
        self, d: JobDefinition, now: datetime, state: SchedulerState, report: TickReport
    ) -> None:
        if d.schedule is None or not d.enabled:
            state.checked[d.name] = now  # a disabled definition owes nothing for this time
            return
        cron = CronSchedule(d.schedule, d.timezone)
        anchors = [
            t
            for t in (state.checked.get(d.name), queries.last_occurrence(self.catalog, d.name))
            if t
        ]
        if anchors:
            due = cron.between(max(anchors), now, MAX_CATCHUP)
        else:
            latest = cron.latest_until(now)
            due = [latest] if latest + d.window > now else []
        for occurrence in due:
            self._occurrence(d, occurrence, now, report)
        state.checked[d.name] = now

    def _occurrence(
        self, d: JobDefinition, occurrence: datetime, now: datetime, report: TickReport
    ) -> None:
        window_end = occurrence + d.window
        info = ScheduleInfo(
            d.name, Trigger.SCHEDULE, occurrence, window_end, d.max_run_time, attempt=1
        )
        when = f"{sub.show_time(occurrence)} (window until {sub.show_time(window_end)})"
        if window_end <= now:
            reason = (
                f"Not started: the scheduler was not running between its due time "
                f"{sub.show_time(occurrence)} and the end of its window "
                f"{sub.show_time(window_end)}."
            )
            report.missed.append(self._record_missed(d, info, reason, now))
            return
        going = [j for j, i in queries.open_jobs(self.catalog) if i.definition == d.name]
        if going and d.duplicates is Duplicates.SKIP:
            previous = going[-1]
            reason = (
                f"Not started: its previous run, job {previous.id}, is still "
                f"{previous.state.value} (duplicates = skip)."
            )
            report.missed.append(self._record_missed(d, info, reason, now))
            return
        if going:
            job_id = sub.create(self.jobs, d, info, now=now, actor=self.actor)
            log.info("%s: job %d held behind job %d", d.name, job_id, going[-1].id)
            report.held.append(job_id)
            return
        reason = f"Scheduled for {when}."
        report.submitted.append(
            sub.submit(self.catalog, d, info, reason=reason, clock=self.clock, actor=self.actor)
        )

    def _record_missed(
        self, d: JobDefinition, info: ScheduleInfo, reason: str, now: datetime
    ) -> int:
        return sub.record_missed(self.jobs, d, info, reason=reason, now=now, actor=self.actor)

    # -- retries -------------------------------------------------------------------------

    def _retry(self, d: JobDefinition, now: datetime, report: TickReport) -> None:
        if d.retry.attempts == 0 or not d.enabled:
            return
        latest = queries.latest_job(self.catalog, d.name)
        if latest is None:
            return
        job, info = latest
        if job.state is not JobState.ENDED or job.status not in RETRY_STATUSES:
            return
        if info.trigger is Trigger.MANUAL or info.attempt > d.retry.attempts:
            return
        if job.state_since + d.retry.interval > now:
            return
        retry = ScheduleInfo(
            d.name,
            Trigger.RETRY,
            info.occurrence,
            now + d.window,
            d.max_run_time,
            attempt=info.attempt + 1,
            retry_of=job.id,
        )
        reason = (
            f"Retry {info.attempt} of {d.retry.attempts} after job {job.id} ended "
            f"{job.status.value if job.status else 'without a status'}."
        )
        report.retried.append(
            sub.submit(self.catalog, d, retry, reason=reason, clock=self.clock, actor=self.actor)
        )


def _show_duration(value: timedelta) -> str:
    return format_duration(value)
