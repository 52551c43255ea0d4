"""Cancel of a running restore (not preemptable, but cancelable): it polls for the cancel
between members, ends CANCELED while running with the files restored so far counted and
said, and leaves every file whole or absent (no temporary name behind). Real threads, one
catalog, a hwsim daemon with one drive."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.backup.job_spec import BackupSpec
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.jobs.vocabulary import Detail
from engine.manager import control
from engine.manager.foreground import run_managed
from engine.manager.reservations import Reservations
from engine.restore.asof import AsOf
from engine.restore.execute import STOP_POLL_MEMBERS
from engine.restore.extract import FileResult
from engine.restore.job import JOB_TYPE as RESTORE
from engine.restore.job import RestoreSpec
from engine.site import Site
from tests.engine.backup.backup_util import RECORD
from tests.engine.manager.manager_util import CONFIG, daemon_site_config, wait_until

FILES = 4 * STOP_POLL_MEMBERS
FILE_SIZE = 2_000
GATE_AT = 5
"""The restore blocks after this many files until the test has asked for the cancel."""
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


def test_cancel_a_running_restore(tmp_path: Path, served: Any) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for n in range(FILES):
        (src / f"f{n:03}.bin").write_bytes(os.urandom(FILE_SIZE))
    dst = tmp_path / "dst"
    gate, seen = threading.Event(), []

    def on_file(result: FileResult) -> None:
        seen.append(result)
        if len(seen) == GATE_AT:
            gate.wait(60)

    with Site(served) as site:
        catalog = site.catalog()
        jobs = JobsStore(catalog)
        backup = BackupSpec(str(src), "lib1", record_size=RECORD)
        b = jobs.create_job("backup", backup.job_name(), backup.to_dict())
        assert run_managed(site, catalog, b, CONFIG, extras={"spec": backup}).status is (
            CompletionStatus.COMPLETED
        )
        spec = RestoreSpec((str(src),), root=str(dst), as_of=AsOf(job=b))
        r = jobs.create_job(RESTORE, spec.job_name(), spec.to_dict())

    def restore() -> None:
        with Site(served) as site:
            run_managed(site, site.catalog(), r, CONFIG, extras={"spec": spec, "on_file": on_file})

    thread = threading.Thread(target=restore)
    thread.start()
    try:
        with Site(served) as site:
            catalog = site.catalog()
            jobs = JobsStore(catalog)
            wait_until(lambda: len(seen) >= GATE_AT, "the restore is under way")
            assert jobs.get_job(r).state is S.RUNNING
            assert control.request_cancel(catalog, r, actor="alice") is S.CANCEL_PENDING
            gate.set()
            wait_until(lambda: jobs.get_job(r).state is S.ENDED, "it ends")
            final, run = jobs.get_job(r), jobs.runs(r)[-1]
    finally:
        gate.set()
        thread.join(120)
    assert not thread.is_alive()
    # the runner releases right after the executor's last transition: read once it returned
    with Site(served) as site:
        held = Reservations(site.catalog(), lease_s=CONFIG.lease_s).held(r)
    assert (final.status, final.detail) == (
        CompletionStatus.CANCELED,
        Detail.CANCELED_WHILE_RUNNING,
    )
    assert run.status is CompletionStatus.CANCELED
    # it stopped within one poll interval of the cancel, with what it restored said
    assert GATE_AT <= run.files <= GATE_AT + STOP_POLL_MEMBERS < FILES
    assert final.state_reason.startswith("Canceled by alice.")
    assert f"{run.files} files restored before it stopped" in final.state_reason
    assert held == []
    # every file is whole (as backed up) or absent; nothing under a temporary name
    restored = dst / str(src).lstrip("/")
    names = sorted(p.name for p in restored.iterdir())
    assert names == sorted(os.path.basename(r.path) for r in seen if r.path.endswith(".bin"))
    assert len(names) == run.files - 1  # and the source directory itself
    for name in names:
        assert (restored / name).read_bytes() == (src / name).read_bytes()


def test_a_verify_asked_to_stop_ends_canceled_with_the_files_checked(tmp_path: Path) -> None:
    from engine.verify.job import VerifySpec, run_verify
    from tests.engine.backup.backup_util import make_site
    from tests.engine.restore.restore_util import backup

    src = tmp_path / "src"
    src.mkdir()
    for n in range(FILES):
        (src / f"f{n:03}.bin").write_bytes(os.urandom(FILE_SIZE))
    polls: list[int] = []

    def should_stop() -> bool:
        polls.append(1)
        return True

    def stop_as() -> tuple[CompletionStatus, str]:
        return CompletionStatus.CANCELED_TIMED_OUT, "Canceled: it ran past its allowed time."

    with make_site(tmp_path) as site:
        b = backup(site, src)
        out = run_verify(VerifySpec(b.job_id), site, should_stop=should_stop, stop_as=stop_as)
        jobs = JobsStore(site.catalog())
        job, (run,) = jobs.get_job(out.job_id), jobs.runs(out.job_id)
    assert polls == [1]  # polled once, not per member
    assert job.status is run.status is CompletionStatus.CANCELED_TIMED_OUT
    assert out.files <= STOP_POLL_MEMBERS < FILES  # at most one poll interval on
    assert f"{out.files} files checked before it stopped" in job.state_reason
