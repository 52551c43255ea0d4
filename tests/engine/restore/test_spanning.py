"""Restores that span volumes: a file split across three small simulated tapes, and a session
split across disk volume files; each volume is mounted once, in order."""

from __future__ import annotations

import os
from pathlib import Path

from engine.backup.job import BackupSpec, run_backup
from engine.backup.pipeline import PipelineOptions
from engine.catalog.files_store import FilesStore
from engine.jobs.states import CompletionStatus
from engine.restore.job import RestoreSpec, plan_restore, run_restore
from engine.verify.job import VerifySpec, run_verify
from hwsim.library import SimLibrary
from tests.engine.backup.backup_util import LIBRARY, MIB, RECORD, make_site
from tests.engine.backup.test_targets import small_tapes_only
from tests.engine.format.treecmp import compare_trees

SMALL = small_tapes_only(LIBRARY)
ONE_AHEAD = PipelineOptions(write_depth=2)
"""A volume's end is seen after the write, up to ``write_depth`` records late
(engine/backup/write_stage.py); with the fewest, tiny disk volumes span alike under any load."""


def spanning_tree(src: Path) -> Path:
    src.mkdir()
    (src / "a.txt").write_bytes(b"first\n")
    (src / "big.bin").write_bytes(os.urandom(15 * MIB))
    (src / "z.txt").write_bytes(b"last\n" * 1000)
    return src


def load_counts(state: Path) -> dict[str, int]:
    """How often each cartridge was loaded into a drive (MAM attribute 0x0003)."""
    with SimLibrary.open(state) as lib:
        return {b: c.mam.load_count for b, c in lib.cartridges.items()}


def restored_at(root: Path, src: Path) -> Path:
    return root / str(src).lstrip("/")


def test_a_file_split_across_three_tapes_restores_byte_exact(tmp_path: Path) -> None:
    src = spanning_tree(tmp_path / "src")
    dst = tmp_path / "dst"
    with make_site(tmp_path, SMALL) as site:
        b = run_backup(BackupSpec(str(src), "lib1", record_size=RECORD), site, actor="t")
        assert b.status is CompletionStatus.COMPLETED and len(b.volumes) == 3, b.error
        plan = plan_restore(RestoreSpec((str(src / "big.bin"),)), site)
    assert [v.volume for v in plan.volumes] == b.volumes, "every tape the file needs is listed"
    before = load_counts(tmp_path / "state")
    with make_site(tmp_path, SMALL) as site:
        out = run_restore(RestoreSpec((str(src / "big.bin"),), root=str(dst)), site)
    after = load_counts(tmp_path / "state")
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert (restored_at(dst, src) / "big.bin").read_bytes() == (src / "big.bin").read_bytes()
    assert {v: after[v] - before[v] for v in b.volumes} == dict.fromkeys(b.volumes, 1)
    assert [v for v, _block, _at in out.located] == [b.volumes[0]] + [v for v in b.volumes[1:]], (
        "one LOCATE on the first tape, then each continuation located once, in order"
    )


def test_the_whole_spanning_session_restores_with_each_tape_mounted_once(tmp_path: Path) -> None:
    src = spanning_tree(tmp_path / "src")
    dst = tmp_path / "dst"
    with make_site(tmp_path, SMALL) as site:
        b = run_backup(BackupSpec(str(src), "lib1", record_size=RECORD), site, actor="t")
        assert len(b.volumes) == 3
    before = load_counts(tmp_path / "state")
    with make_site(tmp_path, SMALL) as site:
        out = run_restore(RestoreSpec((str(src),), root=str(dst)), site)
    after = load_counts(tmp_path / "state")
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert compare_trees(src, restored_at(dst, src)) == []
    assert {v: after[v] - before[v] for v in b.volumes} == dict.fromkeys(b.volumes, 1)
    volumes_in_order = [v for v, _block, _at in out.located]
    assert sorted(set(volumes_in_order), key=volumes_in_order.index) == b.volumes
    with make_site(tmp_path, SMALL) as site:
        verified = run_verify(VerifySpec(b.job_id), site)
    assert verified.status is CompletionStatus.COMPLETED, verified.to_dict()
    assert verified.bytes == sum(p.stat().st_size for p in src.iterdir())


def test_a_session_on_disk_volume_files_restores(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(os.urandom(700_000))
    (src / "b").write_bytes(b"b" * 10)
    (src / "sub").mkdir()
    (src / "sub" / "c").write_bytes(os.urandom(200_000))
    disk = tmp_path / "disk"
    disk.mkdir()
    dst = tmp_path / "dst"
    with make_site(tmp_path, mounts=(disk,)) as site:
        spec = BackupSpec(
            str(src), str(disk), record_size=RECORD, volume_size=192 * 1024, tuning=ONE_AHEAD
        )
        b = run_backup(spec, site, actor="t")
        assert b.status is CompletionStatus.COMPLETED and len(b.volumes) >= 3, b.error
        plan = plan_restore(RestoreSpec((str(src),)), site)
        assert {v.where.kind for v in plan.volumes if v.where} == {"disk"}
        out = run_restore(RestoreSpec((str(src),), root=str(dst)), site)
        one = run_restore(RestoreSpec((str(src / "sub" / "c"),), root=str(tmp_path / "one")), site)
        row = FilesStore(site.catalog()).lookup(str(src / "sub" / "c"), b.run_id)
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert compare_trees(src, restored_at(dst, src)) == []
    assert one.status is CompletionStatus.COMPLETED, one.to_dict()
    assert (restored_at(tmp_path / "one", src) / "sub" / "c").read_bytes() == (
        src / "sub" / "c"
    ).read_bytes()
    assert row is not None and len(one.located) == 1


def test_plan_says_where_each_tape_is_before_anything_moves(tmp_path: Path) -> None:
    src = spanning_tree(tmp_path / "src")
    state = tmp_path / "state"
    with make_site(tmp_path, SMALL) as site:
        b = run_backup(BackupSpec(str(src), "lib1", record_size=RECORD), site, actor="t")
        first, second, third = b.volumes
        lib = site.library("lib1")
        drive = lib.mount(first).name
        lib.export_media(second)
        lib.export_media(third)
    with SimLibrary.open(state) as sim:
        ie = next(e for e in sim.inventory() if e.get("barcode") == third)
        sim.remove_from_ie(ie["index"])
    before = load_counts(state)
    with make_site(tmp_path, SMALL) as site:
        plan = plan_restore(RestoreSpec((str(src),)), site)
        text = "\n".join(plan.lines())
        out = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "dst")), site)
        inv = site.library("lib1").inventory()
    assert load_counts(state) == before, "neither the plan nor the refused restore moved a tape"
    assert f"1. {first} (tape): library lib1 drive {drive};" in text
    assert f"2. {second} (tape): library lib1 I/E slot 1 (loaded from there); continues " in text
    assert f"3. {third} (tape): outside the library (import it first);" in text
    kinds = [v["where"]["kind"] for v in plan.to_dict()]
    assert kinds == ["drive", "ie", "outside"]
    assert out.status is CompletionStatus.FAILED_TO_START and out.run_id is None
    assert out.error is not None and third in out.error and "import" in out.error
    assert not (tmp_path / "dst").exists()
    assert inv.find(first) is not None and inv.find(first).drive == drive
    with SimLibrary.open(state) as sim:
        sim.import_cartridge(third)  # the operator puts it in the mail slot
    with make_site(tmp_path, SMALL) as site:
        again = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "dst")), site)
    assert again.status is CompletionStatus.COMPLETED, again.to_dict()
    assert compare_trees(src, restored_at(tmp_path / "dst", src)) == []


def test_a_missing_disk_volume_file_is_named_before_anything_is_written(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(os.urandom(700_000))
    disk = tmp_path / "disk"
    disk.mkdir()
    with make_site(tmp_path, mounts=(disk,)) as site:
        spec = BackupSpec(
            str(src), str(disk), record_size=RECORD, volume_size=192 * 1024, tuning=ONE_AHEAD
        )
        b = run_backup(spec, site, actor="t")
        gone = disk / f"{b.volumes[1]}.vol"
        gone.unlink()
        plan = plan_restore(RestoreSpec((str(src),)), site)
        out = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "dst")), site)
    assert f"missing: no volume file {gone}" in "\n".join(plan.lines())
    assert out.status is CompletionStatus.FAILED_TO_START
    assert out.error is not None and str(gone) in out.error
    assert not (tmp_path / "dst").exists()
