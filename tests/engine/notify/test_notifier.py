"""Notices about jobs, delivered for real: email to a local SMTP server (aiosmtpd), webhooks to a
local HTTP receiver; failures recorded and logged, never raised, never changing the job."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest

from engine.catalog.db import Catalog
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager.clock import ManualClock
from engine.notify.notifier import Notifier
from engine.notify.records import notices
from engine.schedule.scheduler import Scheduler
from engine.schedule.store import DefinitionsStore
from tests.engine.notify.conftest import Mailbox, Receiver, free_port

HOUR = 3600


def defs_text(mailbox_port: int, rules: str, extra: str = "") -> str:
    return f"""
[smtp]
host = "127.0.0.1"
port = {mailbox_port}
sender = "tapir@example.com"

[jobs.nightly]
source = "/srv/data"
target = "lib1"
schedule = "0 22 * * *"
window = "2h"
{extra}
{rules}
"""


def rule(receiver: Receiver, on: str = '["failed", "exceptions", "missed"]', **more: str) -> str:
    lines = [
        "[[jobs.nightly.notify]]",
        f"on = {on}",
        'email = ["ops@example.com", "oncall@example.com"]',
        f'webhook = "{receiver.url}"',
    ]
    lines += [f'{k} = "{v}"' for k, v in more.items()]
    return "\n".join(lines)


def _scheduled_job(scheduler: Scheduler, clock: ManualClock) -> int:
    clock.advance(HOUR)  # 22:00
    (job_id,) = scheduler.tick().submitted
    return job_id


def _run_and_end(
    jobs: JobsStore, job_id: int, clock: ManualClock, status: CompletionStatus, error: str = ""
) -> None:
    jobs.transition(job_id, JobState.RUNNING, actor="t", reason="Started.", now=clock.now())
    run = jobs.start_run(job_id, now=clock.now())
    clock.advance(600)
    jobs.end_run(
        run.id, status, error=error or None, counters={"files": 12, "bytes": 3456}, now=clock.now()
    )
    jobs.transition(
        job_id, JobState.ENDED, actor="t", reason=error or "Done.", status=status, now=clock.now()
    )


@pytest.fixture
def scheduler(catalog: Catalog, store: DefinitionsStore, clock: ManualClock) -> Scheduler:
    return Scheduler(catalog, store, clock=clock)


@pytest.fixture
def notifier(catalog: Catalog, store: DefinitionsStore, clock: ManualClock) -> Notifier:
    return Notifier(catalog, store, clock=clock)


def test_a_failed_job_is_reported_by_email_and_webhook_once(
    scheduler: Scheduler,
    notifier: Notifier,
    jobs: JobsStore,
    clock: ManualClock,
    mailbox: Mailbox,
    receiver: Receiver,
    write_defs: Callable[[str], None],
) -> None:
    write_defs(defs_text(mailbox.port, rule(receiver)))
    job_id = _scheduled_job(scheduler, clock)
    _run_and_end(jobs, job_id, clock, CompletionStatus.FAILED, "Drive lib1:drive0 is offline.")
    report = notifier.tick()
    assert [n["job"] for n in report.sent] == [job_id] and report.failures() == []
    (msg,) = mailbox.messages
    assert msg["Subject"] == f"tapir: job {job_id} nightly: FAILED"
    assert msg["From"] == "tapir@example.com"
    assert mailbox.recipients == [["ops@example.com", "oncall@example.com"]]
    text = msg.get_content()
    assert "Drive lib1:drive0 is offline." in text and "Backup Exec: Failed" in text
    assert "files:   12 (3456 bytes)" in text and f"tapir jobs show {job_id}" in text
    ((path, ctype, doc),) = receiver.posts
    assert path == "/hook" and ctype == "application/json"
    assert doc["event"] == "failed" and doc["definition"] == "nightly"
    assert doc["job"]["id"] == job_id and doc["job"]["status"] == "FAILED"
    assert doc["run"]["files"] == 12 and doc["run"]["error"] == "Drive lib1:drive0 is offline."
    recorded = notices(jobs.get_job(job_id).spec)["ended"]
    assert [d["ok"] for d in recorded["deliveries"]] == [True, True]
    clock.advance(60)
    assert notifier.tick().sent == []  # once
    assert len(mailbox.messages) == 1 and len(receiver.posts) == 1


@pytest.mark.parametrize(
    ("status", "event", "on", "sent"),
    [
        (CompletionStatus.COMPLETED, "completed", None, False),  # default: not for success
        (CompletionStatus.COMPLETED, "completed", '["completed"]', True),
        (CompletionStatus.COMPLETED_WITH_EXCEPTIONS, "exceptions", None, True),
        (CompletionStatus.CANCELED_TIMED_OUT, "failed", '["failed"]', True),
        (CompletionStatus.CANCELED, "canceled", '["failed"]', False),
    ],
)
def test_events_follow_the_rules(
    scheduler: Scheduler,
    notifier: Notifier,
    jobs: JobsStore,
    clock: ManualClock,
    receiver: Receiver,
    write_defs: Callable[[str], None],
    status: CompletionStatus,
    event: str,
    on: str | None,
    sent: bool,
) -> None:
    hook = f'[[jobs.nightly.notify]]\nwebhook = "{receiver.url}"\n' + (f"on = {on}\n" if on else "")
    write_defs(defs_text(free_port(), hook))
    job_id = _scheduled_job(scheduler, clock)
    _run_and_end(jobs, job_id, clock, status)
    notifier.tick()
    assert [p[2]["event"] for p in receiver.posts] == ([event] if sent else [])


def test_a_job_waiting_longer_than_the_threshold_is_reported(
    scheduler: Scheduler,
    notifier: Notifier,
    jobs: JobsStore,
    clock: ManualClock,
    mailbox: Mailbox,
    receiver: Receiver,
    write_defs: Callable[[str], None],
) -> None:
    write_defs(defs_text(mailbox.port, rule(receiver, '["waiting"]', waiting_after="30m")))
    job_id = _scheduled_job(scheduler, clock)
    jobs.transition(
        job_id, JobState.WAITING, actor="t", reason="No drives available.", now=clock.now()
    )
    clock.advance(30 * 60 - 1)
    assert notifier.tick().sent == []
    clock.advance(1)
    (notice,) = notifier.tick().sent
    assert notice["event"] == "waiting"
    (msg,) = mailbox.messages
    assert msg["Subject"] == f"tapir: job {job_id} nightly: WAITING (waiting)"
    assert "No drives available." in msg.get_content()
    assert receiver.posts[0][2]["job"]["reason"] == "No drives available."
    clock.advance(HOUR)
    assert notifier.tick().sent == []  # still the same wait


def test_delivery_failures_are_recorded_and_logged_and_never_touch_the_job(
    scheduler: Scheduler,
    notifier: Notifier,
    jobs: JobsStore,
    clock: ManualClock,
    receiver: Receiver,
    write_defs: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.status = 500
    dead_port = free_port()  # nothing listens there
    write_defs(defs_text(dead_port, rule(receiver)))
    job_id = _scheduled_job(scheduler, clock)
    _run_and_end(jobs, job_id, clock, CompletionStatus.FAILED, "Tape error.")
    before = jobs.get_job(job_id)
    with caplog.at_level(logging.WARNING, logger="engine.notify"):
        report = notifier.tick()
    email_error, hook_error = report.failures()
    assert f"via 127.0.0.1:{dead_port}" in email_error and "refused" in email_error.lower()
    assert hook_error == f"webhook {receiver.url}: the receiver answered 500 Internal Server Error"
    after = jobs.get_job(job_id)
    assert (after.state, after.status, after.state_reason) == (
        before.state,
        before.status,
        before.state_reason,
    )
    recorded = notices(after.spec)["ended"]["deliveries"]
    assert [(d["channel"], d["ok"]) for d in recorded] == [("email", False), ("webhook", False)]
    assert recorded[1]["error"] == hook_error
    assert sum("not delivered" in r.message for r in caplog.records) == 2


def test_email_without_an_smtp_server_is_a_recorded_failure(
    scheduler: Scheduler,
    notifier: Notifier,
    jobs: JobsStore,
    clock: ManualClock,
    store: DefinitionsStore,
    write_defs: Callable[[str], None],
) -> None:
    text = defs_text(25, '[[jobs.nightly.notify]]\nemail = ["ops@example.com"]\n')
    write_defs(text[text.index("[jobs.nightly]") :])  # no [smtp] table
    job_id = _scheduled_job(scheduler, clock)
    _run_and_end(jobs, job_id, clock, CompletionStatus.FAILED)
    (error,) = notifier.tick().failures()
    assert error == f"email to ops@example.com: no [smtp] server is configured in {store.path}."


def test_two_notifiers_send_each_notice_once(
    scheduler: Scheduler,
    catalog: Catalog,
    store: DefinitionsStore,
    jobs: JobsStore,
    clock: ManualClock,
    receiver: Receiver,
    write_defs: Callable[[str], None],
) -> None:
    write_defs(defs_text(free_port(), f'[[jobs.nightly.notify]]\nwebhook = "{receiver.url}"\n'))
    job_id = _scheduled_job(scheduler, clock)
    _run_and_end(jobs, job_id, clock, CompletionStatus.FAILED)
    first = Notifier(catalog, store, clock=clock)
    second = Notifier(catalog, store, clock=clock)
    assert len(first.tick().sent) + len(second.tick().sent) == 1
    assert len(receiver.posts) == 1


def test_a_missed_window_is_reported(
    scheduler: Scheduler,
    notifier: Notifier,
    clock: ManualClock,
    receiver: Receiver,
    write_defs: Callable[[str], None],
) -> None:
    write_defs(defs_text(free_port(), f'[[jobs.nightly.notify]]\nwebhook = "{receiver.url}"\n'))
    job_id = _scheduled_job(scheduler, clock)
    clock.advance(2 * HOUR)
    assert scheduler.tick().missed == [job_id]
    notifier.tick()
    ((_, _, doc),) = receiver.posts
    assert doc["event"] == "missed" and doc["job"]["status"] == "MISSED"
    assert "next window" in doc["job"]["reason"]


def test_ended_jobs_older_than_the_lookback_are_left_alone(
    scheduler: Scheduler,
    catalog: Catalog,
    store: DefinitionsStore,
    jobs: JobsStore,
    clock: ManualClock,
    receiver: Receiver,
    write_defs: Callable[[str], None],
) -> None:
    write_defs(defs_text(free_port(), f'[[jobs.nightly.notify]]\nwebhook = "{receiver.url}"\n'))
    job_id = _scheduled_job(scheduler, clock)
    _run_and_end(jobs, job_id, clock, CompletionStatus.FAILED)
    clock.advance(25 * HOUR)
    Notifier(catalog, store, clock=clock, lookback=timedelta(hours=24)).tick()
    assert receiver.posts == []
