"""``tapir catalog rebuild --from-media``: back up, delete the catalog, rebuild it from the
tapes (or disk volumes) alone, and the same restores succeed; refusals for media that are not
tapir's, of a newer format, or with an index that does not parse."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from devices.label import encode_label, new_label
from engine.backup.job import BackupSpec, run_backup
from engine.backup.levels import Level
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.catalog.media_scan import ScanRefused
from engine.jobs.states import CompletionStatus
from engine.restore.from_media import rebuild
from engine.restore.job import RestoreSpec, run_restore
from engine.verify.job import VerifySpec, run_verify
from hwsim.media import TapeMedium
from hwsim.state import TAPES_DIR
from tests.engine.backup.backup_util import RECORD, make_site
from tests.engine.cli_util import Tapir, one_error_line
from tests.engine.format.treecmp import compare_trees
from tests.engine.restore.restore_util import backup, edge_tree
from tests.engine.restore.test_spanning import SMALL, spanning_tree


def drop_catalog(tmp: Path) -> None:
    for name in ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"):
        (tmp / name).unlink(missing_ok=True)


def restored_at(root: Path, src: Path) -> Path:
    return root / str(src).lstrip("/")


def test_rebuilt_catalog_restores_and_verifies_as_before(tmp_path: Path) -> None:
    one = edge_tree(tmp_path / "one")
    two = tmp_path / "two"
    two.mkdir()
    (two / "x").write_bytes(os.urandom(100_000))
    with make_site(tmp_path) as site:
        b1, b2 = backup(site, one), backup(site, two)
        assert b1.volumes == b2.volumes
        name = JobsStore(site.catalog()).get_job(b1.job_id).name
    drop_catalog(tmp_path)
    with make_site(tmp_path) as site:
        report = rebuild(site, b1.volumes, [], actor="t")
        jobs = JobsStore(site.catalog())
        job = jobs.get_job(b1.job_id)
        parts = FilesStore(site.catalog()).parts(b2.session_id)
        out1 = run_restore(RestoreSpec((str(one),), root=str(tmp_path / "d1")), site)
        out2 = run_restore(RestoreSpec((str(two / "x"),), root=str(tmp_path / "d2")), site)
        verified = run_verify(VerifySpec(b2.job_id), site)
        medium = site.media_store().get_medium(b1.volumes[0])
    assert len(report.catalogued) == 2 and report.problems == [], report
    assert job.name == name and job.status is CompletionStatus.COMPLETED, "ids kept"
    assert [(p.seq, p.volume, p.tape_file) for p in parts] == [(1, b1.volumes[0], 2)]
    assert out1.status is CompletionStatus.COMPLETED, out1.to_dict()
    assert compare_trees(one, restored_at(tmp_path / "d1", one)) == []
    assert (restored_at(tmp_path / "d2", two) / "x").read_bytes() == (two / "x").read_bytes()
    assert len(out2.located) == 1
    assert verified.status is CompletionStatus.COMPLETED, verified.to_dict()
    assert medium is not None and medium.state.value == "read-only"
    with make_site(tmp_path) as site:
        again = rebuild(site, b1.volumes, [], actor="t")
    assert again.catalogued == [] and len(again.skipped) == 2, "a second rebuild adds nothing"


def test_a_session_spanning_three_tapes_is_rebuilt_from_all_three(tmp_path: Path) -> None:
    src = spanning_tree(tmp_path / "src")
    with make_site(tmp_path, SMALL) as site:
        b = run_backup(BackupSpec(str(src), "lib1", record_size=RECORD), site, actor="t")
        assert len(b.volumes) == 3
        before = FilesStore(site.catalog()).parts(b.session_id)
    drop_catalog(tmp_path)
    with make_site(tmp_path, SMALL) as site:
        partial = rebuild(site, b.volumes[-1:], [], actor="t")
    assert len(partial.problems) == 2 and b.volumes[0] in partial.problems[0]
    drop_catalog(tmp_path)
    with make_site(tmp_path, SMALL) as site:
        report = rebuild(site, b.volumes, [], actor="t")
        after = FilesStore(site.catalog()).parts(b.session_id)
        out = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "dst")), site)
    assert report.problems == [] and len(report.catalogued) == 1
    assert after == before
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert compare_trees(src, restored_at(tmp_path / "dst", src)) == []


def test_disk_volumes_are_rebuilt_by_path(tmp_path: Path) -> None:
    src = edge_tree(tmp_path / "src")
    (src / "big").write_bytes(os.urandom(500_000))
    disk = tmp_path / "disk"
    disk.mkdir()
    with make_site(tmp_path, mounts=(disk,)) as site:
        spec = BackupSpec(str(src), str(disk), record_size=RECORD, volume_size=192 * 1024)
        b = run_backup(spec, site, actor="t")
        assert b.status is CompletionStatus.COMPLETED and len(b.volumes) >= 2
    drop_catalog(tmp_path)
    with make_site(tmp_path, mounts=(disk,)) as site:
        report = rebuild(site, [], [disk], actor="t")
        out = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "dst")), site)
    assert report.problems == [] and len(report.catalogued) == 1, report
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert compare_trees(src, restored_at(tmp_path / "dst", src)) == []


def write_tape(site, barcode: str, records: list[bytes]) -> None:
    lib = site.library("lib1")
    tape = lib.mount(barcode)
    tape.set_block_size(0)
    tape.rewind()
    for record in records:
        tape.write_record(record)
    tape.write_filemarks(1)
    lib.unmount(tape.name)


def test_refusals_name_the_volume_and_change_nothing(tmp_path: Path) -> None:
    newer = dataclasses.replace(new_label("TST002L8", "p", "LTO-8"), format_version=2)
    with make_site(tmp_path) as site:
        write_tape(site, "TST002L8", [encode_label(newer)])
        write_tape(site, "TST003L8", [b"not a tar archive".ljust(RECORD, b"\0")])
        with pytest.raises(ScanRefused, match=r"format version 2.*upgrade tapir"):
            rebuild(site, ["TST002L8"], [], actor="t")
        with pytest.raises(ScanRefused, match="TST003L8 holds no tapir label"):
            rebuild(site, ["TST003L8"], [], actor="t")
        with pytest.raises(
            ScanRefused, match="TST001L8 holds no tapir label: it starts with blank"
        ):
            rebuild(site, ["TST001L8"], [], actor="t")
        assert JobsStore(site.catalog()).list_jobs() == []


def test_an_index_that_does_not_parse_is_refused_and_the_rest_catalogued(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for d in (one, two):
        d.mkdir()
        (d / "f").write_bytes(b"data of " + bytes(d.name, "ascii"))
    with make_site(tmp_path) as site:
        b1, b2 = backup(site, one), backup(site, two)
        files = FilesStore(site.catalog())
        (part,) = files.parts(b1.session_id)
    medium = TapeMedium(tmp_path / "state" / TAPES_DIR / part.volume)
    try:  # the index of session 1 is in its first record: spoil its gzip data
        start = medium.start(part.first_record)
        record = medium.read(part.first_record, 1 << 20)
        at = record.index(b"TAPIR-INDEX.jsonl.gz") + 512 + 20
        os.pwrite(medium.fd, b"\xff" * 16, start + at)
    finally:
        medium.close()
    drop_catalog(tmp_path)
    with make_site(tmp_path) as site:
        report = rebuild(site, [part.volume], [], actor="t")
        jobs = [r.job.id for r in JobsStore(site.catalog()).list_jobs()]
    (problem,) = report.problems
    assert problem.startswith(f"{part.volume} tape file 1: the session index is damaged")
    assert jobs == [b2.job_id], "only the readable session was catalogued"


def test_catalog_rebuild_from_the_command_line(tmp_path: Path) -> None:
    tapir = Tapir(tmp_path)
    src = edge_tree(tmp_path / "src")
    barcode = tapir.json("backup", str(src), "--to", "lib1")["volumes"][0]
    drop_catalog(tapir.home)
    text = tapir.ok("catalog", "rebuild", "--from-media", barcode)
    assert text.endswith("1 session(s), 10 files catalogued\n"), text
    out = tapir.json("restore", str(src), "--to", str(tmp_path / "dst"))
    assert out["status"] == "COMPLETED"
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []
    line = one_error_line(tapir("catalog", "rebuild", "--from-media", "TAP020L8"), 2)
    assert line.startswith("TAP020L8 holds no tapir label") and "not changed" in line


def test_an_incremental_chain_is_rebuilt_with_its_base(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "kept").write_bytes(b"unchanged since the full backup")
    (src / "edited").write_bytes(b"version 1")
    with make_site(tmp_path) as site:
        full = backup(site, src, name="chain")
        (src / "edited").write_bytes(b"version 2, longer")
        (src / "added").write_bytes(b"new")
        incr = backup(site, src, name="chain", level=Level.INCREMENTAL)
        assert incr.level.value == "incremental"
    drop_catalog(tmp_path)
    with make_site(tmp_path) as site:
        report = rebuild(site, full.volumes, [], actor="t")
        run = JobsStore(site.catalog()).get_run(incr.run_id)
        out = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "dst")), site)
    assert report.problems == [] and len(report.catalogued) == 2
    assert run.base_run_id == full.run_id
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert compare_trees(src, restored_at(tmp_path / "dst", src)) == []
