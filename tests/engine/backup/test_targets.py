"""Targets: spanning small simulated tapes, appending, refusals before anything is written,
and disk mount paths (one volume file per session part)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devices.disk import DiskMountPath
from devices.media import MediaState
from engine.backup.job import BackupSpec, run_backup
from engine.backup.pipeline import PipelineOptions
from engine.catalog.files_store import FilesStore
from engine.catalog.media_store import CatalogMediaStore
from engine.jobs.states import CompletionStatus
from tests.engine.backup.backup_util import (
    LIBRARY,
    MIB,
    RECORD,
    differences,
    extract,
    make_site,
    tape_files,
    write_tape_file,
)


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


def small_tapes_only(text: str) -> str:
    """The test library without its 64 MiB cartridges: only the 8 MiB SMLnnn remain."""
    start = text.index('[[cartridge_range]]\nprefix = "TST"')
    end = text.index('[[cartridge_range]]\nprefix = "SML"')
    return text[:start] + text[end:]


def test_a_file_split_across_three_tapes_reads_back_with_tar_multivolume(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"first\n")
    (src / "big.bin").write_bytes(os.urandom(15 * MIB))
    (src / "z.txt").write_bytes(b"last\n" * 1000)
    with make_site(tmp_path, small_tapes_only(LIBRARY)) as site:
        out = run_backup(BackupSpec(str(src), "lib1", record_size=RECORD), site, actor="t")
        assert out.status is CompletionStatus.COMPLETED, out.error
        assert out.volumes == ["SML001L8", "SML002L8", "SML003L8"]
        assert out.counters.volumes == 3
        store = CatalogMediaStore(site.catalog())
        states = [store.get_medium(b).state for b in out.volumes]
        assert states == [MediaState.FULL, MediaState.FULL, MediaState.APPENDABLE]
        files = FilesStore(site.catalog())
        parts = files.parts(out.session_id)
        assert [(p.seq, p.volume, p.tape_file, p.first_record) for p in parts] == [
            (1, "SML001L8", 1, 2),
            (2, "SML002L8", 1, 2),
            (3, "SML003L8", 1, 2),
        ]
        big = files.lookup(os.path.join(os.fsencode(src), b"big.bin"), out.run_id)
        assert big is not None and big.part == 1
        z = files.lookup(os.path.join(os.fsencode(src), b"z.txt"), out.run_id)
        assert z is not None and z.part == 3
    state = tmp_path / "state"
    archives = []
    for n, barcode in enumerate(out.volumes, 1):
        recorded = tape_files(state, barcode)
        assert len(recorded[1]) == parts[n - 1].record_count
        archives.append(write_tape_file(state, barcode, 1, tmp_path / f"p{n}"))
    extract("gnutar", archives, tmp_path / "dst")
    assert differences(src, tmp_path / "dst") == []


def test_small_files_laid_out_by_workers_span_tapes_and_read_back_with_tar(
    tmp_path: Path,
) -> None:
    """Plain runs (engine/backup/plain_runs.py) go a record's worth at a time until early
    warning, then member by member: the volume switches between two members, and every file's
    catalog position is where tar finds it."""
    src = tmp_path / "src"
    for d in range(3):
        (src / f"d{d}").mkdir(parents=True)
        for i in range(500):
            (src / f"d{d}" / f"f{i:03d}").write_bytes(os.urandom(1000 + (i * 37) % 9000))
    tuning = PipelineOptions(workers_after=0)
    with make_site(tmp_path, small_tapes_only(LIBRARY)) as site:
        spec = BackupSpec(str(src), "lib1", record_size=RECORD, tuning=tuning)
        out = run_backup(spec, site, actor="t")
        assert out.status is CompletionStatus.COMPLETED, out.error
        assert out.volumes == ["SML001L8", "SML002L8"] and out.counters.files == 1500
        files = FilesStore(site.catalog())
        rows = [r for r in files.descendants(out.run_id, os.fsencode(src)) if r.kind == "file"]
        parts = files.parts(out.session_id)
    assert len(rows) == 1500 and {r.part for r in rows} == {1, 2}
    state = tmp_path / "state"
    archives = [write_tape_file(state, b, 1, tmp_path / f"p{n}") for n, b in enumerate(out.volumes)]
    split = 0
    for row in rows:  # the member's header, then the file's bytes, where the catalog says
        tape = archives[row.part - 1].read_bytes()
        at = (parts[row.part - 1].first_record - 2 + row.record) * RECORD + row.offset
        data = Path(os.fsdecode(row.path)).read_bytes()
        name = os.path.relpath(os.fsdecode(row.path), src).encode()
        assert name in tape[at : at + 1536]
        got = tape[at + 1536 : at + 1536 + len(data)]
        if at + 1536 + len(data) > len(tape):  # continued on the next tape (tar -M below)
            split += 1
            data = data[: len(got)]
        assert got == data
    assert split <= 1
    extract("gnutar", archives, tmp_path / "dst")
    assert differences(src, tmp_path / "dst") == []


def test_sessions_append_after_the_last_one_on_an_appendable_tape(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "one").write_bytes(b"1")
    with make_site(tmp_path) as site:
        first = run_backup(BackupSpec(str(src), "lib1", record_size=RECORD), site, actor="t")
        (src / "two").write_bytes(b"2")
        second = run_backup(BackupSpec(str(src), "lib1", record_size=RECORD), site, actor="t")
        parts = FilesStore(site.catalog()).parts(second.session_id)
    assert first.volumes == second.volumes
    assert parts[0].tape_file == 2
    recorded = tape_files(tmp_path / "state", first.volumes[0])
    assert parts[0].first_record == 2 + len(recorded[1]) + 1
    archive = write_tape_file(tmp_path / "state", first.volumes[0], 2, tmp_path / "s2")
    extract("gnutar", [archive], tmp_path / "dst")
    assert differences(src, tmp_path / "dst") == []


NO_DATA_CARTRIDGES = (
    LIBRARY[: LIBRARY.index("[[cartridge_range]]")] + LIBRARY[LIBRARY.index("[[cartridges]]") :]
)


def test_a_library_without_writable_media_fails_to_start_with_what_to_do(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with make_site(tmp_path, NO_DATA_CARTRIDGES) as site:
        out = run_backup(BackupSpec(str(src), "lib1", pool="weekly"), site, actor="t")
    assert out.status is CompletionStatus.FAILED_TO_START
    assert out.exit_code == 2 and out.run_id is None
    assert out.error == (
        "Library lib1 holds no appendable or scratch medium of pool weekly; import a tape "
        "and label it with tapir media label BARCODE --pool weekly."
    )


def test_missing_source_and_unknown_target_are_refused(tmp_path: Path) -> None:
    with make_site(tmp_path) as site:
        missing = run_backup(BackupSpec(str(tmp_path / "nope"), "lib1"), site, actor="t")
        assert missing.status is CompletionStatus.FAILED_TO_START
        assert missing.error is not None and missing.error.startswith(
            f"Source {tmp_path / 'nope'} does not exist"
        )
        unknown = run_backup(BackupSpec(str(tmp_path), "lib9"), site, actor="t")
        assert unknown.error_code == "backup.unknown_target"
        assert "No library, drive or mount path called 'lib9'" in (unknown.error or "")
        assert not (tmp_path / "state" / "tapes").exists() or not any(
            (tmp_path / "state" / "tapes").glob("*/data")
        )


def test_disk_mount_path_holds_one_volume_file_per_part(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(os.urandom(700_000))
    (src / "b").write_bytes(b"b" * 10)
    disk = tmp_path / "disk"
    disk.mkdir()
    with make_site(tmp_path, mounts=(disk,)) as site:
        # the fewest write buffers: a volume's end is seen at most that late (write_stage.py)
        spec = BackupSpec(
            str(src),
            str(disk),
            record_size=RECORD,
            volume_size=320 * 1024,
            tuning=PipelineOptions(write_depth=2),
        )
        out = run_backup(spec, site, actor="t")
        assert out.status is CompletionStatus.COMPLETED, out.error
        parts = FilesStore(site.catalog()).parts(out.session_id)
    assert len(out.volumes) >= 2  # parts end after volume_size, at the next split point
    assert [p.volume for p in parts] == out.volumes
    archives = []
    for n, vol in enumerate(out.volumes, 1):
        data = (disk / f"{vol}.vol").read_bytes()
        assert data[:512].startswith(b"././@PaxHeader") or b"TAPIR-LABEL.json" in data[:1024]
        part = tmp_path / f"part{n}"
        part.write_bytes(data[RECORD:])  # after the label record
        assert len(data) // RECORD - 1 == parts[n - 1].record_count
        archives.append(part)
    extract("gnutar", archives, tmp_path / "dst")
    assert differences(src, tmp_path / "dst") == []


def test_a_disabled_mount_path_is_refused_with_its_sentence(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    disk = tmp_path / "disk"
    disk.mkdir()
    with make_site(tmp_path, mounts=(disk,)) as site:
        store = CatalogMediaStore(site.catalog())
        mount = DiskMountPath.register(disk, store, actor="t", reserve_bytes=0)
        mount.set_enabled(False, actor="t", reason="maintenance")
        out = run_backup(BackupSpec(str(src), str(disk)), site, actor="t")
    assert out.status is CompletionStatus.FAILED_TO_START
    assert out.error == f"Mount path {disk} is disabled."
    assert list(disk.glob("*.vol")) == []


def test_a_drive_path_taking_two_records_per_command_is_never_sent_more(tmp_path: Path) -> None:
    """A host adapter that moves at most 128 KiB per command (hwsim ``max_transfer``, as
    BLKSECTGET reports a real one's): the write stage's groups of four 64 KiB records go in
    WRITEs of two, and restore's READs stay within it too. A larger command would fail as the
    kernel fails it, and the job with it."""
    from engine.restore.asof import AsOf
    from engine.restore.job import RestoreSpec, run_restore
    from hwsim.opcodes import SscOpcode
    from tests.engine.backup.fault_util import sim_drive

    library = LIBRARY.replace('model = "LTO-8"\n', 'model = "LTO-8"\nmax_transfer = "128KiB"\n')
    src = tmp_path / "src"
    src.mkdir()
    for n in range(6):
        (src / f"f{n}").write_bytes(os.urandom(300_000 + n))
    with make_site(tmp_path, library) as site:
        out = run_backup(BackupSpec(str(src), "lib1", record_size=RECORD), site, actor="t")
        assert out.status is CompletionStatus.COMPLETED, out.error
        drive = sim_drive(site, "drive0")
        assert drive.max_transfer == 2 * RECORD
        writes = drive.counters.by_opcode[SscOpcode.WRITE_6]
        (part,) = FilesStore(site.catalog()).parts(out.session_id)
        assert writes >= part.record_count // 2  # two records a WRITE at most
        dst = tmp_path / "dst"
        spec = RestoreSpec((str(src),), root=str(dst), as_of=AsOf(job=out.job_id))
        restored = run_restore(spec, site)
        assert restored.status is CompletionStatus.COMPLETED, restored.error
    assert differences(src, dst / str(src).lstrip("/")) == []
