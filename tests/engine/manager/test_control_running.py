"""Suspend, resume and cancel of a running backup: it stops at its next checkpoint, holds no
drive while suspended, resumes from that checkpoint; a cancel while running is recorded apart
from a cancel before start. Threads with their own Sites, one catalog, a hwsim daemon."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.backup.job_spec import BackupSpec
from engine.backup.pipeline import PipelineOptions
from engine.backup.reader import open_source
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.jobs.vocabulary import Detail
from engine.manager import control
from engine.manager.foreground import run_managed
from engine.manager.reservations import Reservations
from engine.site import Site
from tests.engine.backup.backup_util import RECORD
from tests.engine.manager.manager_util import CONFIG, daemon_site_config, wait_until

FILES = 20
FILE_SIZE = 100_000
GATE_AT = 8
S = JobState


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    daemon, site_config = daemon_site_config(tmp_path)
    try:
        yield site_config
    finally:
        daemon.stop()


class GatedBackup:
    """A backup run by ``run_managed`` in a thread whose reader waits at one file until
    ``open()``: the test acts while it is certainly running, between two checkpoints."""

    def __init__(self, served: Any, src: Path) -> None:
        self.gate = threading.Event()
        self.served = served

        def gated(path: str) -> Any:
            if path.endswith(f"f{GATE_AT:02}.bin"):
                self.gate.wait(60)
            return open_source(path)

        self.spec = BackupSpec(
            str(src), "lib1", record_size=RECORD, checkpoint_bytes=RECORD,
            tuning=PipelineOptions(opener=gated, readers=1),
        )  # fmt: skip
        with Site(served) as site:
            self.job = JobsStore(site.catalog()).create_job(
                "backup", self.spec.job_name(), self.spec.to_dict()
            )
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        with Site(self.served) as site:
            run_managed(site, site.catalog(), self.job, CONFIG, extras={"spec": self.spec})

    def open(self) -> None:
        self.gate.set()

    def join(self) -> None:
        self.gate.set()
        self.thread.join(120)
        assert not self.thread.is_alive()


def tree(root: Path) -> Path:
    root.mkdir(parents=True)
    for n in range(FILES):
        (root / f"f{n:02}.bin").write_bytes(os.urandom(FILE_SIZE))
    return root


def test_suspend_a_running_backup_then_resume_it(tmp_path: Path, served: Any) -> None:
    backup = GatedBackup(served, tree(tmp_path / "src"))
    with Site(served) as site:
        catalog = site.catalog()
        jobs = JobsStore(catalog)
        reservations = Reservations(catalog, lease_s=CONFIG.lease_s)
        try:
            wait_until(lambda: jobs.get_job(backup.job).state is S.RUNNING, "it runs")
            assert control.request_suspend(catalog, backup.job, actor="alice") is (
                S.SUSPEND_PENDING
            )
            backup.open()
            wait_until(lambda: jobs.get_job(backup.job).state is S.SUSPENDED, "suspended")
            wait_until(lambda: reservations.held(backup.job) == [], "its drive released")
            assert jobs.runs(backup.job)[-1].status is CompletionStatus.RESUMED
            assert control.resume(catalog, backup.job, actor="alice") is S.QUEUED
            wait_until(lambda: jobs.get_job(backup.job).state is S.ENDED, "it ends", 120)
        finally:
            backup.join()
        final, runs = jobs.get_job(backup.job), jobs.runs(backup.job)
    assert final.status is CompletionStatus.COMPLETED, final.state_reason
    assert [r.status for r in runs] == [CompletionStatus.RESUMED, CompletionStatus.COMPLETED]
    assert runs[0].files + runs[1].files == FILES  # resumed from its checkpoint


@pytest.mark.parametrize("status", [CompletionStatus.CANCELED, CompletionStatus.CANCELED_TIMED_OUT])
def test_cancel_a_running_backup(tmp_path: Path, served: Any, status: CompletionStatus) -> None:
    backup = GatedBackup(served, tree(tmp_path / "src"))
    with Site(served) as site:
        catalog = site.catalog()
        jobs = JobsStore(catalog)
        try:
            wait_until(lambda: jobs.get_job(backup.job).state is S.RUNNING, "it runs")
            assert control.request_cancel(catalog, backup.job, status) is S.CANCEL_PENDING
            backup.open()
            wait_until(lambda: jobs.get_job(backup.job).state is S.ENDED, "it ends")
        finally:
            backup.join()
        final = jobs.get_job(backup.job)
        held = Reservations(catalog, lease_s=CONFIG.lease_s).held(backup.job)
    assert final.status is status
    # CANCELED is kept apart by when it happened; a timeout cancel always happens running
    expected = Detail.CANCELED_WHILE_RUNNING if status is CompletionStatus.CANCELED else None
    assert final.detail is expected
    assert held == []


def test_a_suspended_job_canceled_ends_at_once(tmp_path: Path, served: Any) -> None:
    backup = GatedBackup(served, tree(tmp_path / "src"))
    with Site(served) as site:
        catalog = site.catalog()
        jobs = JobsStore(catalog)
        try:
            wait_until(lambda: jobs.get_job(backup.job).state is S.RUNNING, "it runs")
            control.request_suspend(catalog, backup.job)
            backup.open()
            wait_until(lambda: jobs.get_job(backup.job).state is S.SUSPENDED, "suspended")
            assert control.request_cancel(catalog, backup.job) is S.ENDED
        finally:
            backup.join()
        final = jobs.get_job(backup.job)
    # its first run had started: the cancel is recorded as while running
    assert (final.status, final.detail) == (
        CompletionStatus.CANCELED,
        Detail.CANCELED_WHILE_RUNNING,
    )
