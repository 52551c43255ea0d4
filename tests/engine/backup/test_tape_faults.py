"""Tape faults during a backup (issue 7): power loss on the drive mid-write, a drive that never
answers again, a medium write error; through the engine API against the in-process hwsim."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devices.media import MediaState
from engine.backup.job import BackupSpec, run_backup
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.catalog.media_store import CatalogMediaStore
from engine.jobs.states import CompletionStatus, JobState
from engine.restore.job import RestoreSpec, run_restore
from hwsim.faults import Fault
from tests.engine.backup.backup_util import RECORD, make_site, tape_files
from tests.engine.backup.fault_util import power_returns, sim_faults
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
        str(src),
        "lib1",
        record_size=RECORD,
        checkpoint_bytes=400_000,
        drive_wait_s=5.0,
        **kw,  # type: ignore[arg-type]
    )


def flushed_rows_only(state: Path, barcode: str, rows: list) -> int:
    """Every row's member ends in a record on tape; returns the session's records on tape."""
    files = tape_files(state, barcode)
    flushed = len(files[1]) if len(files) > 1 else 0
    for row in rows:
        assert row.record is not None and row.record < flushed
        assert row.record * RECORD + row.offset + 512 + row.size <= flushed * RECORD
    return flushed


def test_power_loss_with_checkpoint_restart_goes_on_on_another_tape(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    state = tmp_path / "state"
    with make_site(tmp_path) as site:
        # label (block 0) and filemark (1), then the session from block 2
        sim_faults(site).arm(Fault("power_loss", "drive0", at_block=22))
        with power_returns(site):
            out = run_backup(spec(src, restarts=1), site, actor="t")
        jobs, files = JobsStore(site.catalog()), FilesStore(site.catalog())
        store = CatalogMediaStore(site.catalog())
        runs = jobs.runs(out.job_id)
        job = jobs.get_job(out.job_id)
        first_rows = files.descendants(runs[0].id, os.fsencode(src))
        suspect = store.get_medium(runs[0].volume or "SML001L8")
        errors = store.list_errors(barcode=suspect.barcode)
        restored = run_restore(
            RestoreSpec((str(src),), root=str(tmp_path / "dst"), as_of_job=out.job_id), site
        )
    assert out.status is CompletionStatus.COMPLETED, out.error
    assert [(r.number, r.status) for r in runs] == [
        (1, CompletionStatus.RESUMED),
        (2, CompletionStatus.COMPLETED),
    ]
    assert out.history == [(1, CompletionStatus.RESUMED), (2, CompletionStatus.COMPLETED)]
    assert "Power lost on drive drive0" in (runs[0].error or "")
    assert job.state is JobState.ENDED and job.status is CompletionStatus.COMPLETED
    # the tape: SUSPECT with the time, the job and the last flushed block
    assert suspect.state is MediaState.SUSPECT
    assert "Power lost while writing in drive drive0 at " in suspect.state_reason
    assert f"job {out.job_id}, run 1" in suspect.state_reason
    assert "last flushed block" in suspect.state_reason
    assert [e.kind.value for e in errors] == ["power-loss"]
    # the catalog kept exactly what was flushed; the new run went on elsewhere
    files_done = [r for r in first_rows if r.kind == "file"]
    assert 0 < len(files_done) < FILES
    flushed_rows_only(state, suspect.barcode, first_rows)
    assert suspect.barcode not in out.volumes
    assert out.counters.files == FILES - len(files_done)
    assert restored.status is CompletionStatus.COMPLETED, restored.error
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []


def test_a_suspect_tape_is_never_appended_to_again(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    state = tmp_path / "state"
    with make_site(tmp_path) as site:
        sim_faults(site).arm(Fault("power_loss", "drive0", at_block=22))
        with power_returns(site):
            failed = run_backup(spec(src), site, actor="t")
        suspect = failed.volumes[0]
        before = tape_files(state, suspect)
        later = [run_backup(spec(src), site, actor="t") for _ in range(3)]
        after = tape_files(state, suspect)
        medium = CatalogMediaStore(site.catalog()).get_medium(suspect)
    assert failed.status is CompletionStatus.FAILED
    assert all(o.status is CompletionStatus.COMPLETED for o in later), [o.error for o in later]
    assert all(suspect not in o.volumes for o in later)
    assert after == before and medium.state is MediaState.SUSPECT


def test_power_loss_without_restart_fails_naming_the_drive_the_tape_and_the_loss(
    tmp_path: Path,
) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        sim_faults(site).arm(Fault("power_loss", "drive0", at_block=22))
        with power_returns(site):
            out = run_backup(spec(src), site, actor="t")
        job = JobsStore(site.catalog()).get_job(out.job_id)
        medium = CatalogMediaStore(site.catalog()).get_medium(out.volumes[0])
        restored = run_restore(
            RestoreSpec((str(src),), root=str(tmp_path / "dst"), as_of_job=None), site
        )
    assert out.status is CompletionStatus.FAILED and out.exit_code == 2
    assert out.error_code == "backup.power_loss"
    error = out.error or ""
    assert "Power lost on drive drive0" in error and out.volumes[0] in error
    assert "SUSPECT" in error and f"job {out.job_id}" in error
    assert job.state is JobState.ENDED and job.status is CompletionStatus.FAILED
    assert medium.state is MediaState.SUSPECT
    # what was flushed before the loss restores from the suspect tape
    assert restored.status is CompletionStatus.COMPLETED, restored.error
    got = sorted((tmp_path / "dst" / str(src).lstrip("/")).iterdir())
    assert got and all((src / p.name).read_bytes() == p.read_bytes() for p in got)


def test_a_resumed_run_after_a_failure_continues_from_the_checkpoint(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        sim_faults(site).arm(Fault("power_loss", "drive0", at_block=22))
        with power_returns(site):
            failed = run_backup(spec(src), site, actor="t")
        again = run_backup(spec(src), site, actor="t", resume_from=failed.job_id)
        restored = run_restore(
            RestoreSpec((str(src),), root=str(tmp_path / "dst"), as_of_job=again.job_id), site
        )
    assert again.status is CompletionStatus.COMPLETED and again.resumed_from == 1
    assert 0 < again.counters.files < FILES
    assert restored.status is CompletionStatus.COMPLETED, restored.error
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []


def test_a_medium_write_error_closes_the_tape_full_and_the_job_goes_on(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        sim_faults(site).arm(Fault("medium_error", "SML001L8", at_block=22, op="write"))
        out = run_backup(spec(src), site, actor="t")
        store = CatalogMediaStore(site.catalog())
        bad = store.get_medium("SML001L8")
        errors = store.list_errors(barcode="SML001L8")
        runs = JobsStore(site.catalog()).runs(out.job_id)
        restored = run_restore(
            RestoreSpec((str(src),), root=str(tmp_path / "dst"), as_of_job=out.job_id), site
        )
    assert out.status is CompletionStatus.COMPLETED, out.error
    assert [r.status for r in runs] == [CompletionStatus.RESUMED, CompletionStatus.COMPLETED]
    assert "Medium error in drive drive0 while writing SML001L8" in (runs[0].error or "")
    assert bad.state is MediaState.FULL and "Medium error on write" in bad.state_reason
    assert [e.kind.value for e in errors] == ["write"]
    assert "SML001L8" not in out.volumes
    assert restored.status is CompletionStatus.COMPLETED, restored.error
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []


def test_medium_errors_on_three_tapes_take_the_drive_down_and_the_job_moves_on(
    tmp_path: Path,
) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        for barcode in ("SML001L8", "SML002L8", "SML003L8"):
            sim_faults(site).arm(Fault("medium_error", barcode, at_block=5, op="write"))
        out = run_backup(spec(src), site, actor="t")
        store = CatalogMediaStore(site.catalog())
        drive0 = store.get_drive("drive0")
        runs = JobsStore(site.catalog()).runs(out.job_id)
        restored = run_restore(
            RestoreSpec((str(src),), root=str(tmp_path / "dst"), as_of_job=out.job_id), site
        )
    assert [r.status for r in runs][-1] is CompletionStatus.COMPLETED, out.error
    assert [r.status for r in runs][:3] == [CompletionStatus.RESUMED] * 3
    assert drive0 is not None and not drive0.up and "3 different media" in drive0.reason
    assert runs[-1].drive in (None, "drive1") and out.volumes[0] == "SML004L8"
    assert restored.status is CompletionStatus.COMPLETED, restored.error
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []


def test_a_medium_read_error_fails_that_file_only_with_volume_and_block(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        out = run_backup(spec(src), site, actor="t")
        files = FilesStore(site.catalog())
        (part,) = files.parts(out.session_id)
        victim = files.lookup(str(src / "f10"), out.run_id)
        assert victim is not None and victim.record is not None
        block = part.first_record + victim.record + 1  # inside f10's data
        sim_faults(site).arm(Fault("medium_error", part.volume, at_block=block, op="read"))
        restored = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "dst")), site)
    failed = [r for r in restored.results if r.outcome.value == "failed"]
    assert restored.status is CompletionStatus.COMPLETED_WITH_ERRORS
    assert [r.path for r in failed] == [str(src / "f10")]
    assert f"medium error reading {part.volume} at block" in failed[0].message
    assert failed[0].code == "restore.medium_error"
    dst = tmp_path / "dst" / str(src).lstrip("/")
    assert not (dst / "f10").exists()
    for i in range(FILES):
        if i != 10:
            assert (dst / f"f{i:02d}").read_bytes() == (src / f"f{i:02d}").read_bytes()
