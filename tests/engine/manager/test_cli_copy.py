"""``tapir copy`` is a job of the job manager: it needs copy 1's tape and a drive to read it
plus a second drive and a pool medium to write, all or nothing; while another process holds a
drive it waits and says why, then copies once the holder is gone (killed here, released by
the sweeper)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.catalog.copies_store import CopiesStore
from engine.catalog.db import open_catalog
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus
from engine.manager import queue, reasons
from engine.manager.sweeper import Sweeper
from tests.engine.backup.backup_util import LIBRARY
from tests.engine.manager.manager_util import CONFIG, daemon_site_config, wait_until
from tests.engine.manager.test_cli_verify import tapir
from tests.engine.manager.test_sweeper import holder, kill


def test_copy_waits_for_its_second_drive_with_the_reason_then_runs(tmp_path: Path) -> None:
    daemon, served = daemon_site_config(tmp_path, LIBRARY)  # two drives
    try:
        _copy_waits(tmp_path, served)
    finally:
        daemon.stop()


def _copy_waits(tmp_path: Path, served: Any) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for n in range(3):
        (src / f"f{n}").write_bytes(bytes([n]) * 70_000)
    backed = tapir(tmp_path, "backup", str(src), "--to", "lib1")
    assert backed.returncode == 0, backed.stderr
    catalog = open_catalog(served.catalog)
    jobs = JobsStore(catalog)
    label = jobs.create_job("label", "hold a drive", {"resources": [{"drive": "lib1:drive1"}]})
    queue.submit(catalog, label)
    proc = holder(served, label)
    out, err = tmp_path / "copy.out", tmp_path / "copy.err"
    copy = tapir(tmp_path, "copy", "1", "--to", "lib1", out=out, err=err)
    try:
        wait_until(lambda: f"waiting: {reasons.NO_DRIVES}" in err.read_text(), "copy says why")
        assert copy.poll() is None, "it waits while one of the two drives is held"
        kill(proc)
        Sweeper(catalog, CONFIG).sweep()
        assert copy.wait(120) == 0, err.read_text()
    finally:
        if copy.poll() is None:
            copy.kill()
            copy.wait()
    rows = [j.job for j in jobs.list_jobs() if j.job.type == "copy"]
    (copied,) = CopiesStore(catalog).copies(1)
    catalog.close()
    assert "copy 2: 3 files" in out.read_text()
    assert [(j.name, j.status) for j in rows] == [
        ("copy job 1 to lib1", CompletionStatus.COMPLETED)
    ]
    assert copied.copy == 2 and copied.job_id == rows[0].id
