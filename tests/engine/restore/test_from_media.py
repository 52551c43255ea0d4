"""``tapir restore --from-media BARCODE --session N PATH``: one file back with only the
session's index on the tape (no catalog rows), reached with one LOCATE."""

from __future__ import annotations

import os
from pathlib import Path

from engine.backup.job import BackupSpec, run_backup
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus
from engine.restore.from_media import MediaRestoreSpec, restore_from_media
from tests.engine.backup.backup_util import RECORD, make_site
from tests.engine.catalog.test_rebuild import drop_catalog
from tests.engine.cli_util import Tapir, one_error_line
from tests.engine.format.treecmp import compare_trees
from tests.engine.restore.restore_util import backup, edge_tree


def restored_at(root: Path, src: Path) -> Path:
    return root / str(src).lstrip("/")


def test_one_file_of_the_second_session_with_one_locate_and_no_catalog(tmp_path: Path) -> None:
    first = edge_tree(tmp_path / "first")
    src = tmp_path / "src"
    src.mkdir()
    for n in range(30):
        (src / f"f{n:02}").write_bytes(os.urandom(60_000))
    (src / "zz-last").write_bytes(b"the last file")
    with make_site(tmp_path) as site:
        backup(site, first)
        b = backup(site, src)
    (barcode,) = b.volumes
    drop_catalog(tmp_path)
    dst = tmp_path / "dst"
    with make_site(tmp_path) as site:
        spec = MediaRestoreSpec(barcode, 2, (str(src / "zz-last"),), str(dst))
        out = restore_from_media(spec, site, actor="t")
        job = JobsStore(site.catalog()).get_job(out.job_id)
        link = str(first / "docs" / "a-again.txt")  # a hard link whose data member is a.txt
        alone = restore_from_media(MediaRestoreSpec(barcode, 1, (link,), str(tmp_path / "l")), site)
        dirs = restore_from_media(
            MediaRestoreSpec(barcode, 1, (str(first),), str(tmp_path / "all")), site
        )
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert (restored_at(dst, src) / "zz-last").read_bytes() == b"the last file"
    assert sorted(os.listdir(restored_at(dst, src))) == ["zz-last"]
    ((volume, block, at),) = out.located
    assert volume == barcode and block == at and out.records_read <= 2
    assert job.type == "restore" and job.status is CompletionStatus.COMPLETED
    assert alone.status is CompletionStatus.COMPLETED, alone.to_dict()
    assert (tmp_path / "l" / link.lstrip("/")).read_text() == (first / "a.txt").read_text()
    assert dirs.status is CompletionStatus.COMPLETED, dirs.to_dict()
    assert compare_trees(first, restored_at(tmp_path / "all", first)) == []


def test_restore_from_media_on_the_command_line(tmp_path: Path) -> None:
    tapir = Tapir(tmp_path)
    src = edge_tree(tmp_path / "src")
    barcode = tapir.json("backup", str(src), "--to", "lib1")["volumes"][0]
    drop_catalog(tapir.home)
    dst = tmp_path / "dst"
    target = str(src / "docs" / "b.bin")
    args = ("restore", "--from-media", barcode, "--session", "1", target, "--to", str(dst))
    text = tapir.ok(*args)
    assert text.startswith("job 1: COMPLETED\n"), text
    assert (dst / target.lstrip("/")).read_bytes() == (src / "docs" / "b.bin").read_bytes()
    bad = tapir("restore", "--from-media", barcode, "--session", "7", target, "--to", str(dst))
    line = one_error_line(bad, 2)
    assert line.startswith(f"{barcode} has no session 7: it holds 1"), line
    none = tapir("restore", "--from-media", barcode, "--session", "1", "/nope", "--to", str(dst))
    assert "Nothing matches /nope in session 1" in one_error_line(none, 2)


def test_a_disk_volume_file_by_path_without_the_catalog(tmp_path: Path) -> None:
    src = edge_tree(tmp_path / "src")
    disk = tmp_path / "disk"
    disk.mkdir()
    with make_site(tmp_path, mounts=(disk,)) as site:
        b = run_backup(BackupSpec(str(src), str(disk), record_size=RECORD), site, actor="t")
        assert b.status is CompletionStatus.COMPLETED, b.error
    (volume,) = b.volumes
    drop_catalog(tmp_path)
    dst = tmp_path / "dst"
    with make_site(tmp_path, mounts=(disk,)) as site:
        spec = MediaRestoreSpec(str(disk / f"{volume}.vol"), 1, (str(src / "docs"),), str(dst))
        out = restore_from_media(spec, site, actor="t")
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert compare_trees(src / "docs", restored_at(dst, src) / "docs") == []
    assert len(out.located) == 1
