"""Drive and library faults during a backup (issue 7): a drive going offline, not ready or
failing mid-job, robot failures, a stuck cartridge, the door opened; engine API on hwsim."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devices.media import MediaState
from engine.backup.job import BackupSpec, run_backup
from engine.catalog.jobs_store import JobsStore
from engine.catalog.media_store import CatalogMediaStore
from engine.jobs.states import CompletionStatus
from engine.restore.asof import AsOf
from engine.restore.job import RestoreSpec, run_restore
from hwsim.faults import Fault
from tests.engine.backup.backup_util import RECORD, make_site
from tests.engine.backup.fault_util import quick_robot, sim_changer, sim_drive, sim_faults
from tests.engine.format.treecmp import compare_trees

FILES = 40
SIZE = 50_000


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


def tree(root: Path) -> Path:
    root.mkdir()
    for i in range(FILES):
        (root / f"f{i:02d}").write_bytes(os.urandom(SIZE))
    return root


def spec(src: Path, **kw: object) -> BackupSpec:
    return BackupSpec(
        str(src), "lib1", record_size=RECORD, checkpoint_bytes=400_000, drive_wait_s=0.05, **kw
    )  # type: ignore[arg-type]


def restores_whole(site, src: Path, dst: Path, job_id: int) -> None:
    restored = run_restore(RestoreSpec((str(src),), root=str(dst), as_of=AsOf(job=job_id)), site)
    assert restored.status is CompletionStatus.COMPLETED, restored.error
    assert compare_trees(src, dst / str(src).lstrip("/")) == []


def test_a_drive_going_offline_mid_job_moves_the_job_to_the_other_drive(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        quick_robot(site)
        sim_faults(site).arm(Fault("drive_offline", "drive0", nth=5, opcode="WRITE_6"))
        out = run_backup(spec(src, restarts=1), site, actor="t")
        runs = JobsStore(site.catalog()).runs(out.job_id)
        first_tape = CatalogMediaStore(site.catalog()).get_medium("SML001L8")
        in_drive1 = sim_drive(site, "drive1").cartridge
        sim_drive(site, "drive0").offline = False  # the operator brings the drive back
        restores_whole(site, src, tmp_path / "dst", out.job_id)  # the suspect tape too
    assert out.status is CompletionStatus.COMPLETED, out.error
    assert [r.status for r in runs] == [CompletionStatus.RESUMED, CompletionStatus.COMPLETED]
    assert "Drive drive0 stopped answering while writing SML001L8" in (runs[0].error or "")
    assert first_tape.state is MediaState.SUSPECT  # its end was never written
    assert out.volumes == ["SML002L8"] and in_drive1 is None  # mounted in drive1, returned


def test_a_drive_offline_without_restart_fails_with_the_reason(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        sim_faults(site).arm(Fault("drive_offline", "drive0", nth=5, opcode="WRITE_6"))
        out = run_backup(spec(src), site, actor="t")
    assert out.status is CompletionStatus.TIMED_OUT and out.error_code == "backup.drive_lost"
    assert "Drive drive0 stopped answering while writing SML001L8" in (out.error or "")


@pytest.mark.parametrize("kind", ["not_ready", "hardware_error"])
def test_a_drive_failing_a_write_sends_the_next_run_to_another_drive(
    tmp_path: Path, kind: str
) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        quick_robot(site)
        sim_faults(site).arm(Fault(kind, "drive0", nth=5, opcode="WRITE_6"))
        out = run_backup(spec(src, restarts=1), site, actor="t")
        runs = JobsStore(site.catalog()).runs(out.job_id)
        tape = CatalogMediaStore(site.catalog()).get_medium("SML001L8")
        restores_whole(site, src, tmp_path / "dst", out.job_id)
    assert out.status is CompletionStatus.COMPLETED, out.error
    assert [r.status for r in runs] == [CompletionStatus.RESUMED, CompletionStatus.COMPLETED]
    assert runs[0].error
    # the tape's end was written (the drive still answered): it is appended to
    assert tape.state is MediaState.APPENDABLE and out.volumes == ["SML001L8"]


def test_a_transient_robot_failure_is_retried_without_losing_anything(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        quick_robot(site)
        sim_faults(site).arm(Fault("robot_failure", "changer", nth=1, times=2))
        out = run_backup(spec(src), site, actor="t")
        restores_whole(site, src, tmp_path / "dst", out.job_id)
    assert out.status is CompletionStatus.COMPLETED, out.error


def test_a_robot_that_keeps_failing_fails_the_job_with_the_reason(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        quick_robot(site)
        sim_faults(site).arm(Fault("robot_failure", "changer", nth=1, times=None))
        out = run_backup(spec(src, restarts=2), site, actor="t")
        runs = JobsStore(site.catalog()).runs(out.job_id)
    assert out.status is CompletionStatus.FAILED
    assert "the robot failed 4 times" in (out.error or "") and "check the robot" in out.error
    assert [r.status for r in runs] == [CompletionStatus.RESUMED] * 2 + [CompletionStatus.FAILED]


def test_a_stuck_cartridge_at_the_end_leaves_a_warning_and_the_backup_complete(
    tmp_path: Path,
) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        quick_robot(site)
        sim_faults(site).arm(Fault("stuck_cartridge", "drive0"))
        out = run_backup(spec(src), site, actor="t")
        sim_faults(site).clear()
        again = run_backup(spec(src), site, actor="t")
        restores_whole(site, src, tmp_path / "dst", out.job_id)
    assert out.status is CompletionStatus.COMPLETED, out.error
    assert len(out.warnings) == 1 and "could not be returned from drive drive0" in out.warnings[0]
    assert again.status is CompletionStatus.COMPLETED, again.error
    assert again.volumes == out.volumes  # appended where it was, in the drive


def test_an_open_door_fails_the_job_with_what_to_do(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        quick_robot(site)
        sim_changer(site).door_open = True
        out = run_backup(spec(src), site, actor="t")
        sim_changer(site).door_open = False
        later = run_backup(spec(src), site, actor="t")
    assert out.status in (CompletionStatus.FAILED, CompletionStatus.FAILED_TO_START)
    assert "door is open" in (out.error or "") and "close the door" in out.error
    assert later.status is CompletionStatus.COMPLETED, later.error
