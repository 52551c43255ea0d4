"""``run_backup`` as a job: states and runs in the catalog, backup levels (full, incremental,
differential) storing only what changed, and an unreadable file when not root."""

from __future__ import annotations

import os
import subprocess
from dataclasses import astuple
from pathlib import Path

import pytest

from engine.backup.exceptions import ItemErrors, Reason
from engine.backup.job import BackupSpec, run_backup
from engine.backup.levels import Level
from engine.backup.pipeline import Pipeline, PipelineOptions
from engine.catalog.files_model import Change
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.jobs.vocabulary import Detail
from tests.engine.backup.backup_util import RECORD, make_site, tape_files, write_tape_file
from tests.privileges import run_as_nobody


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


def members(tmp_path: Path, barcode: str, tape_file: int) -> list[str]:
    archive = write_tape_file(tmp_path / "state", barcode, tape_file, tmp_path / "list.tar")
    out = subprocess.run(["tar", "-tf", str(archive)], check=True, capture_output=True, text=True)
    return [n for n in out.stdout.splitlines() if not n.startswith("TAPIR-")]


def test_job_states_and_run_record(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"data")
    with make_site(tmp_path) as site:
        out = run_backup(BackupSpec(str(src), "lib1", record_size=RECORD), site, actor="alice")
        jobs = JobsStore(site.catalog())
        job = jobs.get_job(out.job_id)
        moves = [(t.old, t.new) for t in jobs.transitions(out.job_id)]
        (run,) = jobs.runs(out.job_id)
    assert job.state is JobState.ENDED and job.status is CompletionStatus.COMPLETED
    assert job.type == "backup" and job.name == f"{src} -> lib1"
    assert moves == [
        (None, JobState.NOT_SUBMITTED),
        (JobState.NOT_SUBMITTED, JobState.QUEUED),
        (JobState.QUEUED, JobState.RUNNING),
        (JobState.RUNNING, JobState.ENDED),
    ]
    assert run.level == "full" and run.files == 1 and run.bytes == 4 and run.exceptions == 0
    assert run.status is CompletionStatus.COMPLETED


def test_incremental_and_differential_store_only_changes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    for name in ("keep", "edit", "drop"):
        (src / "d" / name).write_bytes(name.encode() * 100)
    with make_site(tmp_path) as site:

        def backup(level: Level):
            spec = BackupSpec(str(src), "lib1", level=level, record_size=RECORD)
            return run_backup(spec, site, actor="t")

        full = backup(Level.INCREMENTAL)  # no base yet: promoted to full
        assert full.level is Level.FULL and full.promoted is not None
        unchanged = backup(Level.INCREMENTAL)
        assert unchanged.up_to_date and unchanged.counters.files == 0
        (src / "d" / "edit").write_bytes(b"edited")
        (src / "d" / "new").write_bytes(b"new")
        (src / "d" / "drop").unlink()
        inc1 = backup(Level.INCREMENTAL)
        (src / "later").write_bytes(b"later")
        inc2 = backup(Level.INCREMENTAL)
        diff = backup(Level.DIFFERENTIAL)
        files = FilesStore(site.catalog())
        changes = {os.path.basename(r.path): r.change for r in files.changes(inc1.run_id)}
        final = {os.path.basename(r.path) for r in files.descendants(diff.run_id, str(src))}
    assert inc1.modified and inc1.counters.files == 2 and inc1.counters.deleted == 1
    assert changes == {
        b"d": Change.CHANGED,  # a name added and one removed: its mtime moved
        b"edit": Change.CHANGED,
        b"new": Change.ADDED,
        b"drop": Change.DELETED,
    }
    assert inc2.counters.files == 1
    assert diff.level is Level.DIFFERENTIAL and diff.counters.files == 3  # edit, new, later
    assert final == {b"d", b"keep", b"edit", b"new", b"later"}
    barcode = full.volumes[0]
    assert sorted(members(tmp_path, barcode, 1)) == ["./", "d/", "d/drop", "d/edit", "d/keep"]
    assert sorted(members(tmp_path, barcode, 3)) == ["./", "d/", "d/edit", "d/new"]
    assert sorted(members(tmp_path, barcode, 5)) == ["./", "d/", "d/edit", "d/new", "later"]
    assert len(tape_files(tmp_path / "state", barcode)) == 7  # label, 5 sessions, end of data


class FileVolumes:
    """A session written to one plain file (no device, no catalog)."""

    volume = "file"
    device = "file"

    def __init__(self, path: Path) -> None:
        self.f = open(path, "wb")  # noqa: SIM115

    def write_record(self, record: memoryview) -> bool:
        self.f.write(record)
        return False

    def write_records(self, span: memoryview, count: int) -> bool:
        return self.write_record(span)

    def next_volume(self, seq: int) -> None:
        raise AssertionError("one volume only")

    def flush(self) -> None:
        self.f.flush()

    def finish(self) -> None:
        self.f.close()

    def abort(self) -> None:
        self.f.close()


def test_unreadable_file_is_skipped_when_not_root(shared_dir: Path) -> None:
    src = shared_dir / "src"
    src.mkdir()
    (src / "open.txt").write_bytes(b"readable\n")
    secret = src / "secret.txt"
    secret.write_bytes(b"root only\n")
    secret.chmod(0o600)
    out = shared_dir / "out"
    out.mkdir()
    out.chmod(0o777)

    def backup() -> tuple[list[tuple[str, str]], int, int]:
        errors = ItemErrors()
        options = PipelineOptions(record_size=RECORD, in_use_check=False)
        result = Pipeline(src, FileVolumes(out / "s.tar"), options, on_item_error=errors).run()
        return (
            [(os.path.basename(p), c.value) for p, c in errors.codes()],
            result.counters.files,
            (result.counters.skipped),
        )

    codes, stored, skipped = run_as_nobody(backup)
    if os.geteuid() == 0:
        assert codes == [("secret.txt", Reason.PERMISSION_DENIED.value)]
        assert (stored, skipped) == (1, 1)
    listing = subprocess.run(
        ["tar", "-tf", str(out / "s.tar")], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "open.txt" in listing and ("secret.txt" in listing) == (os.geteuid() != 0)
    assert Detail.UP_TO_DATE.value == "up_to_date"


def test_rows_of_laid_out_files_reach_a_catalog_without_staging_whole(tmp_path: Path) -> None:
    """A catalog that is not SQLite gets its rows at checkpoints, as FileRow tuples: the row
    heads the read workers pickled (row_staging.PlainBlob) are unpacked on the way, each
    with the position where tar finds the member."""
    src = tmp_path / "src"
    for d in range(3):
        (src / f"d{d}").mkdir(parents=True)
        for i in range(300):
            (src / f"d{d}" / f"f{i:03d}").write_bytes(os.urandom(100 + i * 13))
    committed: list[tuple[object, ...]] = []
    options = PipelineOptions(record_size=RECORD, workers_after=0, in_use_check=False)
    archive = tmp_path / "s.tar"
    result = Pipeline(
        src,
        FileVolumes(archive),
        options,
        on_item_error=ItemErrors(),
        commit=lambda rows: committed.extend(rows),
        commit_tuples=True,
    ).run()
    assert result.counters.files == 900
    data = archive.read_bytes()
    rows = [r if type(r) is tuple else astuple(r) for r in committed]  # type: ignore[arg-type]
    files = [r for r in rows if r[1] == "file"]
    assert len(files) == 900 and len({r[0] for r in files}) == 900
    for row in files:
        path, size, checksum, part, record, offset = row[0], row[2], row[15], *row[16:19]
        at = record * RECORD + offset
        name = os.path.relpath(os.fsdecode(path), src).encode()  # type: ignore[arg-type]
        content = Path(os.fsdecode(path)).read_bytes()  # type: ignore[arg-type]
        assert part == 1 and size == len(content) and len(checksum) == 16  # type: ignore[arg-type]
        assert name in data[at : at + 1536]
        assert data[at + 1536 : at + 1536 + len(content)] == content
