"""Disk mount path faults during a backup (issue 7): the path disabled, gone or full mid-job;
the session ends at the last flushed point and the job goes on to another mount path of the
pool, or fails with the reason."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from devices.disk import DiskMountPath
from engine.backup.job import BackupSpec, run_backup
from engine.backup.pipeline import PipelineOptions
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.catalog.media_store import CatalogMediaStore
from engine.jobs.states import CompletionStatus
from engine.restore.job import RestoreSpec, run_restore
from tests.engine.backup.backup_util import RECORD, make_site
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


def at_checkpoint(n: int, action):
    """A ``should_stop`` that never stops the run but runs ``action`` right after checkpoint
    ``n``: a fault at a known point of the run (the next flush meets it)."""
    calls: list[int] = []

    def hook() -> bool:
        calls.append(1)
        if len(calls) == n:
            action()
        return False

    return hook


def spec(src: Path, to: Path, hook, **kw: object) -> BackupSpec:
    return BackupSpec(
        str(src),
        str(to),
        record_size=RECORD,
        checkpoint_bytes=300_000,
        tuning=PipelineOptions(should_stop=hook, batch_files=4),
        **kw,  # type: ignore[arg-type]
    )


def session_cut_at_the_flushed_point(site, run_id: int, mount: Path) -> None:
    files = FilesStore(site.catalog())
    (session,) = files.sessions(run_id)
    for part in files.parts(session.id):
        path = mount / f"{part.volume}.vol"
        if path.exists():
            assert path.stat().st_size == (1 + part.record_count) * RECORD


@pytest.mark.parametrize("fault", ["disabled", "gone"])
def test_a_mount_path_lost_mid_job_sends_the_job_to_another_one(tmp_path: Path, fault: str) -> None:
    src = tree(tmp_path / "src")
    first, second = tmp_path / "disk1", tmp_path / "disk2"
    first.mkdir()
    second.mkdir()
    with make_site(tmp_path, mounts=(first, second)) as site:
        store = CatalogMediaStore(site.catalog())

        def lose() -> None:
            if fault == "disabled":
                DiskMountPath(first, store).set_enabled(False, actor="bob", reason="maintenance")
            else:
                shutil.move(first, tmp_path / "elsewhere")

        out = run_backup(spec(src, first, at_checkpoint(2, lose), restarts=1), site, actor="t")
        runs = JobsStore(site.catalog()).runs(out.job_id)
        if fault == "gone":  # it comes back (remounted) for the restore
            shutil.move(tmp_path / "elsewhere", first)
        else:
            session_cut_at_the_flushed_point(site, runs[0].id, first)
        restored = run_restore(
            RestoreSpec((str(src),), root=str(tmp_path / "dst"), as_of_job=out.job_id), site
        )
    assert out.status is CompletionStatus.COMPLETED, out.error
    assert [r.status for r in runs] == [CompletionStatus.RESUMED, CompletionStatus.COMPLETED]
    assert str(first) in (runs[0].error or "")
    assert all(v.startswith(f"tapir-j{out.job_id}-r2") for v in out.volumes)
    assert list(second.glob("*.vol")), "the second run wrote to the other mount path"
    assert restored.status is CompletionStatus.COMPLETED, restored.error
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []


def test_a_mount_path_lost_without_another_one_fails_with_the_reason(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    disk = tmp_path / "disk1"
    disk.mkdir()
    with make_site(tmp_path, mounts=(disk,)) as site:
        store = CatalogMediaStore(site.catalog())

        def disable() -> None:
            DiskMountPath(disk, store).set_enabled(False, actor="bob", reason="maintenance")

        out = run_backup(spec(src, disk, at_checkpoint(2, disable), restarts=1), site)
        runs = JobsStore(site.catalog()).runs(out.job_id)
        session_cut_at_the_flushed_point(site, runs[0].id, disk)
        rows = FilesStore(site.catalog()).descendants(runs[0].id, os.fsencode(src))
    assert out.status is CompletionStatus.FAILED
    assert f"Mount path {disk} is disabled" in (out.error or "")
    assert [r.status for r in runs] == [CompletionStatus.RESUMED, CompletionStatus.FAILED]
    assert 0 < len([r for r in rows if r.kind == "file"]) < FILES
