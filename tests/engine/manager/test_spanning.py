"""Two backups spanning small simulated tapes at the same time: each next tape is reserved
for its job before it is written (reservations.py ``claim``), so they never pick the same
scratch tape. Real threads, one catalog, a hwsim daemon with two drives."""

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
from engine.manager.foreground import run_managed
from engine.manager.reservations import Reservations
from engine.manager.resources import Kind
from engine.site import Site
from tests.engine.backup.backup_util import RECORD
from tests.engine.manager.manager_util import CONFIG, daemon_site_config, wait_until

SMALL_TAPES = """
[library]
name = "two"
serial = "TWO0000001"
slots = 10
ie_slots = 1

[[drives]]
name = "drive0"
model = "LTO-8"
serial = "DRV2000001"

[[drives]]
name = "drive1"
model = "LTO-8"
serial = "DRV2000002"

[[cartridge_range]]
prefix = "SML"
first = 1
count = 10
suffix = "L8"
slot = 1
capacity = "4MiB"
early_warning = "1MiB"
"""
FILES = 12
FILE_SIZE = 1_000_000
GATE_AT = 9
"""Each backup's reader blocks at this file (past its first tape) until the test opens."""
S = JobState


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    daemon, site_config = daemon_site_config(tmp_path, SMALL_TAPES)
    try:
        yield site_config
    finally:
        daemon.stop()


class Gated:
    def __init__(self, served: Any, src: Path) -> None:
        src.mkdir()
        for n in range(FILES):
            (src / f"f{n:02}.bin").write_bytes(os.urandom(FILE_SIZE))
        self.gate = threading.Event()

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
        self.out: Any = None
        self.thread = threading.Thread(target=self._run, args=(served,))
        self.thread.start()

    def _run(self, served: Any) -> None:
        with Site(served) as site:
            self.out = run_managed(
                site, site.catalog(), self.job, CONFIG, extras={"spec": self.spec}
            )

    def join(self) -> None:
        self.gate.set()
        self.thread.join(120)
        assert not self.thread.is_alive()


def test_two_spanning_backups_never_share_a_tape(tmp_path: Path, served: Any) -> None:
    a = Gated(served, tmp_path / "a")
    b = Gated(served, tmp_path / "b")
    with Site(served) as site:
        reservations = Reservations(site.catalog(), lease_s=CONFIG.lease_s)

        def media(job: int) -> set[str]:
            return {h.key for h in reservations.held(job) if h.kind == Kind.MEDIUM.value}

        try:
            # both run at once, each past its first tape and holding the second
            wait_until(lambda: len(media(a.job)) >= 2 and len(media(b.job)) >= 2, "both span")
            held_a, held_b = media(a.job), media(b.job)
        finally:
            a.join()
            b.join()
    assert a.out.status is CompletionStatus.COMPLETED, a.out.error
    assert b.out.status is CompletionStatus.COMPLETED, b.out.error
    assert len(a.out.volumes) >= 3 and len(b.out.volumes) >= 3
    # a job's last tape stays appendable when it ends, so the other (still running) may
    # append its own session there afterwards; never two jobs writing one tape at once
    shared = set(a.out.volumes) & set(b.out.volumes)
    assert shared <= {a.out.volumes[-1], b.out.volumes[-1]}, shared
    assert held_a.isdisjoint(held_b)
    # every tape a job wrote had been reserved for it (those seen while both were running)
    written_a, written_b = set(a.out.volumes), set(b.out.volumes)
    assert (held_a & written_a) and (held_b & written_b)
    assert not held_a & written_b and not held_b & written_a
