"""Priority order, all-or-nothing reservation with the exact reasons for delay, release-
triggered retry, retry policies and preemption decisions, against a simulated library."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager import control, queue, reasons
from engine.manager.clock import ManualClock
from engine.manager.config import ManagerConfig
from engine.manager.reservations import Reservations
from engine.site import Site
from tests.engine.manager.manager_util import CONFIG, add_job, dispatcher, site_at, start

S = JobState
DRIVE = {"drive": "lib1"}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with site_at(tmp_path) as s:
        yield s


def state(site: Site, job_id: int) -> tuple[JobState, str]:
    job = JobsStore(site.catalog()).get_job(job_id)
    return job.state, job.state_reason


def held(site: Site, job_id: int) -> list[str]:
    reservations = Reservations(site.catalog(), lease_s=30)
    return sorted(h.key for h in reservations.held(job_id))


def run_pass(site: Site, clock: ManualClock) -> dict[int, str | None]:
    d = dispatcher(site, clock)
    return {job.id: d.attempt(job).reason for job in d.eligible()}


def test_priority_then_age(site: Site, clock: ManualClock) -> None:
    low = add_job(site, "verify", [DRIVE], priority=200)
    old = add_job(site, "verify", [DRIVE], priority=50)
    new = add_job(site, "verify", [DRIVE], priority=50)
    got = run_pass(site, clock)
    assert list(got) == [old, new, low]
    assert got[old] is None and got[new] is None
    assert got[low] == reasons.NO_DRIVES
    assert held(site, old) == ["lib1:drive0"]
    assert held(site, new) == ["lib1:drive1"]
    assert state(site, low) == (S.WAITING, reasons.NO_DRIVES)


def test_all_or_nothing_with_the_reason_naming_the_resource(site: Site, clock: ManualClock) -> None:
    first = add_job(site, "verify", [{"medium": "TST001L8"}])
    assert run_pass(site, clock) == {first: None}
    # a drive is free, but the medium is not: nothing is held, and the reason says why
    second = add_job(site, "verify", [DRIVE, {"medium": "TST001L8"}])
    assert run_pass(site, clock) == {second: reasons.MEDIA_RESERVED}
    assert held(site, second) == []
    third = add_job(site, "backup", [{"streams": 3, "policy": "P"}])
    assert run_pass(site, clock)[third] == (
        "Not enough streams available for storage policy [P]. "
        "Need 3 stream(s) and 2 stream(s) are available."
    )
    fourth = add_job(site, "verify", [DRIVE, {"medium": "NOPE01L8"}])
    assert run_pass(site, clock)[fourth] == reasons.MEDIA_NOT_IN_LIBRARY
    fifth = add_job(site, "verify", [{"mount_path": str(site.config.libraries[0].state_dir)}])
    assert run_pass(site, clock)[fifth] == reasons.MOUNT_PATH_OFFLINE
    assert all(held(site, j) == [] for j in (second, third, fourth, fifth))


def test_library_offline(tmp_path: Path, clock: ManualClock) -> None:
    with site_at(tmp_path) as site:
        job = add_job(site, "verify", [{"drive": "nolib"}])
        assert run_pass(site, clock)[job] == reasons.LIBRARY_OFFLINE


def test_release_lets_the_best_waiting_job_in_at_once(site: Site, clock: ManualClock) -> None:
    d = dispatcher(site, clock)
    jobs = JobsStore(site.catalog())
    holders = [add_job(site, "verify", [DRIVE]) for _ in range(2)]
    for job in d.eligible():
        d.attempt(job)
    low = add_job(site, "verify", [DRIVE], priority=300)
    high = add_job(site, "verify", [DRIVE], priority=10)
    for job in d.eligible():
        d.attempt(job)
    assert state(site, low)[0] is S.WAITING and state(site, high)[0] is S.WAITING
    assert d.eligible() == []  # nothing released, and the retry policy is 2 minutes away
    control.request_cancel(site.catalog(), holders[0])
    Reservations(site.catalog(), lease_s=30).release_job(holders[0])
    # retried at once because a drive was released
    assert [j.id for j in d.eligible()] == [high, low]
    # even when the low-priority job asks first (another process), the drive is kept for high
    assert d.attempt(jobs.get_job(low)).reason == reasons.NO_DRIVES
    assert d.attempt(jobs.get_job(high)).grant is not None
    assert held(site, high) == ["lib1:drive0"]


def test_retry_policy_ends_the_job_after_max_attempts(site: Site, clock: ManualClock) -> None:
    config = ManagerConfig(job_types={"verify": {"retry_interval_s": 60, "retry_max_attempts": 2}})
    add_job(site, "verify", [DRIVE])
    add_job(site, "verify", [DRIVE])
    job = add_job(site, "verify", [DRIVE])
    d = dispatcher(site, clock, config)
    for j in d.eligible():
        d.attempt(j)
    assert queue.get_entry(site.catalog(), job).attempts == 1  # type: ignore[union-attr]
    assert [j.id for j in d.eligible()] == []  # nothing released, next attempt not due
    clock.advance(61)
    assert [j.id for j in d.eligible()] == [job]
    d.attempt(JobsStore(site.catalog()).get_job(job))
    clock.advance(61)
    d.attempt(JobsStore(site.catalog()).get_job(job))
    final = JobsStore(site.catalog()).get_job(job)
    assert (final.state, final.status) == (S.ENDED, CompletionStatus.FAILED)
    assert final.state_reason == reasons.gave_up(2, reasons.NO_DRIVES)


def test_restore_policy_is_20_minutes_144_times() -> None:
    retry = CONFIG.job_type("restore").retry
    assert (retry.interval_s, retry.max_attempts) == (1200.0, 144)


def test_a_restore_preempts_a_running_backup(site: Site, clock: ManualClock) -> None:
    backups = [add_job(site, "backup", [DRIVE], priority=100) for _ in range(2)]
    run_pass(site, clock)
    for b in backups:
        start(site, b)
    restore = add_job(site, "restore", [DRIVE], priority=10)
    reason = run_pass(site, clock)[restore]
    interrupted = [b for b in backups if state(site, b)[0] is S.INTERRUPT_PENDING]
    assert len(interrupted) == 1
    assert reason == reasons.waiting_for_jobs(interrupted)
    assert state(site, restore) == (S.WAITING, f"Waiting for job(s) [{interrupted[0]}] to "
                                    "release the resources.")  # fmt: skip
    pending = control.pending_control(site.catalog(), interrupted[0])
    assert pending is not None and pending.action.value == "interrupt"


@pytest.mark.parametrize(
    ("holder_type", "holder_priority", "wanter_type"),
    [
        ("label", 100, "restore"),  # not preemptable
        ("restore", 100, "restore"),  # restores are not preemptable
        ("backup", 100, "backup"),  # a backup never preempts a backup
        ("backup", 5, "restore"),  # the holder has the better priority
    ],
)
def test_no_preemption(
    site: Site, clock: ManualClock, holder_type: str, holder_priority: int, wanter_type: str
) -> None:
    holders = [add_job(site, holder_type, [DRIVE], priority=holder_priority) for _ in range(2)]
    run_pass(site, clock)
    for h in holders:
        start(site, h)
    wanter = add_job(site, wanter_type, [DRIVE], priority=10)
    assert run_pass(site, clock)[wanter] == reasons.NO_DRIVES
    assert all(state(site, h)[0] is S.RUNNING for h in holders)
