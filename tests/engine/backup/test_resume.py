"""Checkpoint stop and restart: a run stopped at a checkpoint closes its session properly, and
the job's next run continues from there without reading or writing committed files again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.backup.job import BackupSpec, run_backup
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.restore.job import RestoreSpec, run_restore
from tests.engine.backup.backup_util import (
    MIB,
    RECORD,
    extract,
    make_site,
    tape_files,
    write_tape_file,
)
from tests.engine.format.treecmp import compare_trees

FILE_SIZE = 200_000
FILES = 40


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


def tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    for n in range(FILES):
        where = root / "sub" if n % 3 == 0 else root
        (where / f"f{n:02}.bin").write_bytes(os.urandom(FILE_SIZE))
    return root


def stop_after(checkpoints: int) -> tuple[list[int], object]:
    calls: list[int] = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) >= checkpoints

    return calls, should_stop


def spec(src: Path, **kw: object) -> BackupSpec:
    return BackupSpec(str(src), "lib1", record_size=RECORD, checkpoint_bytes=MIB, **kw)  # type: ignore[arg-type]


def test_a_stop_request_ends_the_run_at_a_checkpoint_with_the_session_closed(
    tmp_path: Path,
) -> None:
    src = tree(tmp_path / "src")
    calls, should_stop = stop_after(2)
    with make_site(tmp_path) as site:
        out = run_backup(spec(src), site, actor="t", should_stop=should_stop)  # type: ignore[arg-type]
        jobs, files = JobsStore(site.catalog()), FilesStore(site.catalog())
        job = jobs.get_job(out.job_id)
        (run,) = jobs.runs(out.job_id)
        committed = files.count(out.run_id)
        (part,) = files.parts(out.session_id)
    assert out.stopped and out.status is CompletionStatus.RESUMED, out.error
    assert len(calls) == 2, "polled once per checkpoint, and the run ended at the second"
    assert run.status is CompletionStatus.RESUMED and run.ended_at is not None
    assert job.state is JobState.QUEUED and "next run resumes" in job.state_reason
    assert 0 < out.counters.files < FILES
    assert committed == out.counters.files + out.counters.directories
    # the tape file is a whole archive (ended, flushed), holding exactly what the catalog lists
    recorded = tape_files(tmp_path / "state", part.volume)
    assert len(recorded[1]) == part.record_count
    archive = write_tape_file(tmp_path / "state", part.volume, 1, tmp_path / "session.tar")
    extract("gnutar", [archive], tmp_path / "x")
    on_tape = {p.name for p in (tmp_path / "x").rglob("*.bin")}
    assert len(on_tape) == out.counters.files


def test_the_next_run_resumes_from_the_checkpoint_and_a_restore_has_the_whole_tree(
    tmp_path: Path,
) -> None:
    src = tree(tmp_path / "src")
    _, should_stop = stop_after(2)
    with make_site(tmp_path) as site:
        first = run_backup(spec(src), site, actor="t", should_stop=should_stop)  # type: ignore[arg-type]
        assert first.stopped
        second = run_backup(spec(src), site, actor="t", job_id=first.job_id)
        jobs = JobsStore(site.catalog())
        history = [(r.number, r.status) for r in jobs.runs(first.job_id)]
        job = jobs.get_job(first.job_id)
        restored = run_restore(
            RestoreSpec((str(src),), root=str(tmp_path / "dst"), as_of_job=first.job_id), site
        )
        latest = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "dst2")), site)
    assert second.status is CompletionStatus.COMPLETED, second.error
    assert second.job_id == first.job_id and second.resumed_from == 1
    assert history == [(1, CompletionStatus.RESUMED), (2, CompletionStatus.COMPLETED)]
    assert job.state is JobState.ENDED and job.status is CompletionStatus.COMPLETED
    # nothing committed by the first run is read or written again
    assert first.counters.files + second.counters.files == FILES
    assert second.counters.bytes == (FILES - first.counters.files) * FILE_SIZE
    assert second.volumes[0] == first.volumes[-1], "appended to the same tape"
    assert restored.status is CompletionStatus.COMPLETED, restored.error
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []
    assert latest.status is CompletionStatus.COMPLETED, latest.error
    assert compare_trees(src, tmp_path / "dst2" / str(src).lstrip("/")) == []


def test_a_resumed_run_stores_again_a_committed_file_changed_since(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    _, should_stop = stop_after(1)
    with make_site(tmp_path) as site:
        first = run_backup(spec(src), site, actor="t", should_stop=should_stop)  # type: ignore[arg-type]
        files = FilesStore(site.catalog())
        done = sorted(r.path for r in files.descendants(first.run_id, str(src)) if r.kind == "file")
        changed = Path(os.fsdecode(done[0]))
        changed.write_bytes(b"new content")
        second = run_backup(spec(src), site, actor="t", job_id=first.job_id)
        row = files.lookup(str(changed), second.run_id)
        restored = run_restore(
            RestoreSpec((str(src),), root=str(tmp_path / "dst"), as_of_job=first.job_id), site
        )
    assert second.status is CompletionStatus.COMPLETED, second.error
    assert row is not None and row.run_id == second.run_id and row.size == len(b"new content")
    assert second.counters.files == FILES - first.counters.files + 1
    assert restored.status is CompletionStatus.COMPLETED, restored.error
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []


def test_a_resumed_run_may_continue_on_another_tape(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    _, should_stop = stop_after(2)
    with make_site(tmp_path) as site:
        first = run_backup(spec(src), site, actor="t", should_stop=should_stop)  # type: ignore[arg-type]
        from devices.media import MediaState
        from devices.media_rules import change_state
        from engine.catalog.media_store import CatalogMediaStore

        store = CatalogMediaStore(site.catalog())
        change_state(store, first.volumes[0], MediaState.FULL, reason="test", actor="t")
        second = run_backup(spec(src), site, actor="t", job_id=first.job_id)
        restored = run_restore(
            RestoreSpec((str(src),), root=str(tmp_path / "dst"), as_of_job=first.job_id), site
        )
    assert second.status is CompletionStatus.COMPLETED, second.error
    assert second.volumes and second.volumes[0] != first.volumes[0]
    assert restored.status is CompletionStatus.COMPLETED, restored.error
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []


def test_a_stop_with_a_reason_can_leave_the_job_waiting(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        out = run_backup(
            spec(src),
            site,
            actor="t",
            should_stop=lambda: "Preempted by job 9.",
            stop_state=JobState.WAITING,
        )
        job = JobsStore(site.catalog()).get_job(out.job_id)
        again = run_backup(spec(src), site, actor="t", job_id=out.job_id)
    assert out.stopped and job.state is JobState.WAITING
    assert job.state_reason == (
        "Stopped at checkpoint 1 (Preempted by job 9); the next run resumes from it."
    )
    assert again.status is CompletionStatus.COMPLETED and again.resumed_from == 1


def test_a_run_refused_before_writing_keeps_the_checkpoint_for_the_next_one(
    tmp_path: Path,
) -> None:
    src = tree(tmp_path / "src")
    _, should_stop = stop_after(2)
    with make_site(tmp_path) as site:
        first = run_backup(spec(src), site, actor="t", should_stop=should_stop)  # type: ignore[arg-type]
        moved = tmp_path / "src-away"
        src.rename(moved)  # the source's disk is not mounted: the next run is refused
        refused = run_backup(spec(src), site, actor="t", job_id=first.job_id)
        moved.rename(src)
        jobs = JobsStore(site.catalog())
        third = run_backup(spec(src), site, actor="t", resume_from=first.job_id)
        runs = jobs.runs(first.job_id)
    assert refused.status is CompletionStatus.FAILED and "does not exist" in refused.error
    assert runs[1].error and "does not exist" in runs[1].error
    assert third.status is CompletionStatus.COMPLETED and third.resumed_from == 1
    assert first.counters.files + third.counters.files == FILES
