"""Copies (issue 7 "a second copy is used when one exists"): ``run_copy`` writes a run's
sessions record for record to other media; restore and verify read copy 2 where copy 1 has a
medium error, and say so per file with the volume and the block."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from engine.catalog.copies_store import CopiesStore
from engine.catalog.files_store import FilesStore
from engine.catalog.schema import copy_parts
from engine.copy.job import CopySpec, run_copy
from engine.jobs.states import CompletionStatus
from engine.restore.extract import Outcome
from engine.restore.job import RestoreSpec, run_restore
from engine.verify.job import VerifySpec, run_verify
from hwsim.library import SimLibrary
from tests.engine.backup.backup_util import make_site, tape_files
from tests.engine.restore.restore_util import backup, restored_at


def tree(src: Path) -> Path:
    src.mkdir()
    for n in range(6):
        (src / f"f{n}").write_bytes(os.urandom(200_000))
    (src / "small").write_bytes(b"s" * 3000)
    return src


def arm_read_error(state: Path, volume: str, block: int) -> None:
    with SimLibrary.open(state) as sim:
        sim.faults.arm({"kind": "medium_error", "target": volume, "at_block": block, "op": "read"})


def test_a_copy_is_record_for_record_on_another_tape_and_recorded(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        b = backup(site, src)
        out = run_copy(CopySpec(b.job_id, "lib1"), site)
        assert out.status is CompletionStatus.COMPLETED, out.to_dict()
        (part,) = FilesStore(site.catalog()).parts(b.session_id)
        (copy,) = CopiesStore(site.catalog()).copies(b.session_id)
    assert copy.copy == 2 and out.counts.files == 7 and out.counts.volumes == [copy.parts[0].volume]
    (cpart,) = copy.parts
    assert cpart.volume != part.volume and cpart.record_count == part.record_count
    original = tape_files(tmp_path / "state", part.volume)[part.tape_file]
    copied = tape_files(tmp_path / "state", cpart.volume)[cpart.tape_file]
    assert copied == original, "every record of the tape file, byte for byte"


def test_restore_and_verify_read_copy_2_where_copy_1_has_a_medium_error(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        b = backup(site, src)
        assert run_copy(CopySpec(b.job_id, "lib1"), site).status is CompletionStatus.COMPLETED
        files = FilesStore(site.catalog())
        (part,) = files.parts(b.session_id)
        row = files.lookup(str(src / "f3"), b.run_id)
        (copy,) = CopiesStore(site.catalog()).copies(b.session_id)
    assert row is not None and row.record is not None
    bad = part.first_record + row.record + 2
    arm_read_error(tmp_path / "state", part.volume, bad)
    with make_site(tmp_path) as site:
        out = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "r")), site)
    assert out.status is CompletionStatus.COMPLETED_WITH_EXCEPTIONS, out.to_dict()
    (warned,) = [r for r in out.results if r.outcome is Outcome.WARNING]
    assert warned.path == str(src / "f3") and warned.code == "restore.read_from_copy"
    assert f"medium error reading {part.volume} at block {bad}" in warned.message
    assert f"came from copy 2 on {copy.parts[0].volume}" in warned.message
    for n in range(6):
        name = f"f{n}"
        assert (restored_at(tmp_path / "r", src) / name).read_bytes() == (src / name).read_bytes()

    arm_read_error(tmp_path / "state", part.volume, bad)
    with make_site(tmp_path) as site:
        checked = run_verify(VerifySpec(b.job_id), site)
    assert checked.status is CompletionStatus.COMPLETED_WITH_EXCEPTIONS, checked.to_dict()
    assert not checked.differ and checked.files == 7
    (warned,) = checked.from_copies
    assert warned.path == str(src / "f3") and f"at block {bad}" in warned.message


def test_without_a_copy_the_medium_error_costs_that_file_only(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        b = backup(site, src)
        files = FilesStore(site.catalog())
        (part,) = files.parts(b.session_id)
        row = files.lookup(str(src / "f3"), b.run_id)
    assert row is not None and row.record is not None
    bad = part.first_record + row.record + 2
    arm_read_error(tmp_path / "state", part.volume, bad)
    with make_site(tmp_path) as site:
        out = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "r")), site)
    assert out.status is CompletionStatus.COMPLETED_WITH_ERRORS, out.to_dict()
    (failed,) = [r for r in out.results if r.outcome is Outcome.FAILED]
    assert failed.path == str(src / "f3") and failed.code == "restore.medium_error"
    assert f"medium error reading {part.volume} at block {bad}" in failed.message
    for name in ("f0", "f1", "f2", "f4", "f5", "small"):
        assert (restored_at(tmp_path / "r", src) / name).read_bytes() == (src / name).read_bytes()
    assert not (restored_at(tmp_path / "r", src) / "f3").exists()


def test_a_copy_with_a_bad_record_in_copy_1_fails_and_is_not_usable(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        b = backup(site, src)
        files = FilesStore(site.catalog())
        (part,) = files.parts(b.session_id)
        row = files.lookup(str(src / "f2"), b.run_id)
    assert row is not None and row.record is not None
    arm_read_error(tmp_path / "state", part.volume, part.first_record + row.record + 1)
    with make_site(tmp_path) as site:
        out = run_copy(CopySpec(b.job_id, "lib1"), site)
        assert out.status is CompletionStatus.FAILED, out.to_dict()
        assert f"medium error reading {part.volume}" in (out.error or "")
        assert CopiesStore(site.catalog()).copies(b.session_id) == [], "no usable copy"
        with site.catalog().read() as conn:
            rows = list(conn.execute(sa.select(copy_parts)))
    assert rows and not any(r.usable for r in rows), "the half-written part is kept unusable"


def test_a_copy_1_tape_outside_the_library_is_read_from_copy_2(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        b = backup(site, src)
        assert run_copy(CopySpec(b.job_id, "lib1"), site).status is CompletionStatus.COMPLETED
        (part,) = FilesStore(site.catalog()).parts(b.session_id)
        (copy,) = CopiesStore(site.catalog()).copies(b.session_id)
        site.library("lib1").export_media(part.volume)
    with SimLibrary.open(tmp_path / "state") as sim:
        ie = next(e for e in sim.inventory() if e.get("barcode") == part.volume)
        sim.remove_from_ie(ie["index"])
    with make_site(tmp_path) as site:
        out = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "r")), site)
    assert out.status is CompletionStatus.COMPLETED_WITH_EXCEPTIONS, out.to_dict()
    warned = {r.path: r for r in out.results if r.outcome is Outcome.WARNING}
    assert set(warned) >= {str(src / f"f{n}") for n in range(6)}
    assert {r.code for r in warned.values()} == {"restore.read_from_copy"}
    assert (
        f"copy 1 could not be read: {part.volume} is outside the library (import it first); "
        f"the file came from copy 2 on {copy.parts[0].volume}"
    ) == warned[str(src / "f0")].message
    assert out.plan is not None
    assert [(v.volume, v.session.copy if v.session else 0) for v in out.plan.volumes] == [
        (copy.parts[0].volume, 2)
    ]
    assert "copy 1 not read" in "\n".join(out.plan.lines())
    for n in range(6):
        name = f"f{n}"
        assert (restored_at(tmp_path / "r", src) / name).read_bytes() == (src / name).read_bytes()


def test_verify_reads_copy_2_when_copy_1_is_on_a_suspect_tape(tmp_path: Path) -> None:
    from devices.media import MediaState
    from devices.media_rules import change_state

    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        b = backup(site, src)
        (part,) = FilesStore(site.catalog()).parts(b.session_id)
        plain = run_verify(VerifySpec(b.job_id), site)
        assert plain.status is CompletionStatus.COMPLETED, "no copy yet: copy 1 is read"
        assert run_copy(CopySpec(b.job_id, "lib1"), site).status is CompletionStatus.COMPLETED
        reason = "Power loss at block 9 (test)."
        change_state(site.media_store(), part.volume, MediaState.SUSPECT, reason=reason, actor="t")
        out = run_verify(VerifySpec(b.job_id), site)
    assert out.status is CompletionStatus.COMPLETED_WITH_EXCEPTIONS, out.to_dict()
    assert out.files == 7 and not out.differ
    assert len(out.from_copies) == 8  # the 7 files and the source directory
    assert f"{part.volume} is suspect ({reason})" in out.from_copies[0].message
