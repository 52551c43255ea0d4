"""The daily summary: the last 24 hours of job history, counted by outcome, sent once a day
at its time by email (local SMTP server) and webhook (local HTTP receiver)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from engine.catalog.db import Catalog
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager.clock import ManualClock
from engine.notify.notifier import Notifier
from engine.notify.summary import build_summary
from engine.schedule.store import DefinitionsStore
from tests.engine.notify.conftest import Mailbox, Receiver

HOUR = 3600


def _job(jobs: JobsStore, clock: ManualClock, name: str, status: CompletionStatus | None) -> int:
    """A foreground-style job: created, run for ten minutes, ended with ``status`` (None:
    still running)."""
    job_id = jobs.create_job("backup", name, {"source": "/srv"}, now=clock.now())
    jobs.transition(job_id, JobState.QUEUED, actor="t", reason="Submitted.", now=clock.now())
    jobs.transition(job_id, JobState.RUNNING, actor="t", reason="Started.", now=clock.now())
    run = jobs.start_run(job_id, now=clock.now())
    clock.advance(600)
    if status is not None:
        jobs.end_run(run.id, status, counters={"files": 3}, now=clock.now())
        jobs.transition(
            job_id, JobState.ENDED, actor="t", reason=f"{name} done.", status=status,
            now=clock.now(),
        )  # fmt: skip
    return job_id


def _day(jobs: JobsStore, clock: ManualClock) -> dict[str, int]:
    """Yesterday's old job, then today's: two completed, one failed, one still running."""
    ids = {"old": _job(jobs, clock, "old", CompletionStatus.COMPLETED)}
    clock.advance(24 * HOUR)  # the old one ended more than 24 h before the summary
    for name, status in (
        ("a", CompletionStatus.COMPLETED),
        ("b", CompletionStatus.COMPLETED),
        ("c", CompletionStatus.FAILED),
        ("d", None),
    ):
        ids[name] = _job(jobs, clock, name, status)
    return ids


def test_build_summary_counts_the_last_24_hours(
    catalog: Catalog, jobs: JobsStore, clock: ManualClock
) -> None:
    ids = _day(jobs, clock)
    summary = build_summary(catalog, clock.now())
    assert summary.until == clock.now()
    assert summary.counts == {"COMPLETED": 2, "FAILED": 1, "RUNNING": 1}
    assert [r["job"] for r in summary.rows] == [ids["a"], ids["b"], ids["c"], ids["d"]]
    assert "4 runs (2 COMPLETED, 1 FAILED, 1 RUNNING)" in summary.subject()
    assert "c: c done." in summary.body()


def test_the_summary_is_sent_once_a_day_at_its_time(
    catalog: Catalog,
    store: DefinitionsStore,
    jobs: JobsStore,
    clock: ManualClock,
    mailbox: Mailbox,
    receiver: Receiver,
    write_defs: Callable[[str], None],
) -> None:
    write_defs(
        f"""
[smtp]
host = "127.0.0.1"
port = {mailbox.port}
sender = "tapir@example.com"

[summary]
at = "07:00"
timezone = "Europe/Berlin"
email = ["ops@example.com"]
webhook = "{receiver.url}"
"""
    )
    _day(jobs, clock)  # one job on Monday evening, four on Tuesday evening
    notifier = Notifier(catalog, store, clock=clock)
    clock.advance((datetime(2026, 11, 25, 5, 59, tzinfo=UTC) - clock.now()).total_seconds())
    assert notifier.tick().summary is None  # 06:59 in Berlin
    clock.advance(60)
    deliveries = notifier.tick().summary
    assert deliveries is not None and [d["ok"] for d in deliveries] == [True, True]
    (msg,) = mailbox.messages
    assert msg["Subject"].startswith("tapir: daily summary, 4 runs (2 COMPLETED, 1 FAILED")
    assert "old" not in msg.get_content().split("UTC:", 1)[1]
    ((_, _, doc),) = receiver.posts
    assert doc["event"] == "summary" and doc["counts"]["COMPLETED"] == 2
    assert doc["until"] == "2026-11-25T06:00:00+00:00"
    clock.advance(HOUR)
    assert notifier.tick().summary is None  # once a day
    clock.advance(23 * HOUR)
    assert notifier.tick().summary is not None  # the next day
    assert len(mailbox.messages) == 2
