"""``run_restore`` against a small simulated library: round trip, one LOCATE per file, the
media plan, overwrite policies, checksum mismatches and job records."""

from __future__ import annotations

import os
from pathlib import Path

from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.restore.extract import Outcome, Overwrite
from engine.restore.job import RestoreSpec, plan_restore, run_restore
from hwsim.media import TapeMedium
from hwsim.state import TAPES_DIR
from tests.engine.backup.backup_util import make_site
from tests.engine.format.treecmp import compare_trees
from tests.engine.restore.restore_util import backup, edge_tree, restored_at


def test_round_trip_restores_the_tree_exactly(tmp_path: Path) -> None:
    src = edge_tree(tmp_path / "src")
    dst = tmp_path / "dst"
    with make_site(tmp_path) as site:
        backup(site, src)
        out = run_restore(RestoreSpec((str(src),), root=str(dst)), site, actor="bob")
        jobs = JobsStore(site.catalog())
        job = jobs.get_job(out.job_id)
        (run,) = jobs.runs(out.job_id)
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert compare_trees(src, restored_at(dst, src)) == []
    assert job.type == "restore" and job.state is JobState.ENDED
    assert job.status is CompletionStatus.COMPLETED and run.files == out.count(Outcome.RESTORED)
    assert len(out.located) == 1, "a whole session is one LOCATE, then read on"


def test_one_file_at_the_end_of_a_session_is_one_locate(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for n in range(40):
        (src / f"f{n:02}").write_bytes(os.urandom(50_000))
    (src / "zz-last").write_bytes(b"the last file")
    with make_site(tmp_path) as site:
        b = backup(site, src)
        files = FilesStore(site.catalog())
        (part,) = files.parts(b.session_id)
        row = files.lookup(str(src / "zz-last"), b.run_id)
        assert row is not None and row.record > 20
        out = run_restore(RestoreSpec((str(src / "zz-last"),), root=str(tmp_path / "d")), site)
    block = part.first_record + row.record
    assert out.located == [(part.volume, block, block)]
    assert out.records_read <= 2, "reached by LOCATE, not by reading through the session"
    assert (restored_at(tmp_path / "d", src) / "zz-last").read_bytes() == b"the last file"
    assert sorted(os.listdir(restored_at(tmp_path / "d", src))) == ["zz-last"]


def test_plan_names_the_tape_and_its_slot(tmp_path: Path) -> None:
    src = edge_tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        b = backup(site, src)
        (barcode,) = b.volumes
        slot = site.library("lib1").inventory().find(barcode)
        plan = plan_restore(RestoreSpec((str(src / "docs"),)), site)
    assert slot is not None
    text = "\n".join(plan.lines())
    assert f"{barcode} (tape): library lib1 slot {slot.number};" in text
    assert plan.to_dict()[0]["where"]["kind"] == "slot"
    assert not (tmp_path / "dst").exists()


def test_overwrite_policies(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("backed up")
    os.utime(src / "f", ns=(2_000_000_000, 2_000_000_000))
    dst = tmp_path / "dst"
    target = restored_at(dst, src) / "f"
    with make_site(tmp_path) as site:
        backup(site, src)

        def restore(policy: Overwrite, text: str, mtime_ns: int) -> Outcome:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            os.utime(target, ns=(mtime_ns, mtime_ns))
            spec = RestoreSpec((str(src / "f"),), root=str(dst), overwrite=policy)
            (result,) = run_restore(spec, site).results
            return result.outcome

        assert restore(Overwrite.NEVER, "local", 1) is Outcome.KEPT
        assert target.read_text() == "local"
        assert restore(Overwrite.IF_NEWER, "local newer", 3_000_000_000) is Outcome.KEPT
        assert target.read_text() == "local newer"
        assert restore(Overwrite.IF_NEWER, "local older", 1_000_000_000) is Outcome.RESTORED
        assert target.read_text() == "backed up"
        assert restore(Overwrite.ALWAYS, "local newer", 3_000_000_000) is Outcome.RESTORED
        assert target.read_text() == "backed up"
    assert not [n for n in os.listdir(target.parent) if n.startswith(".tapir-restore-")]


def test_checksum_mismatch_is_reported_and_the_rest_restored(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad").write_bytes(b"B" * 3000)
    (src / "good").write_bytes(b"G" * 3000)
    dst = tmp_path / "dst"
    with make_site(tmp_path) as site:
        b = backup(site, src)
        files = FilesStore(site.catalog())
        (part,) = files.parts(b.session_id)
        row = files.lookup(str(src / "bad"), b.run_id)
    assert row is not None
    medium = TapeMedium(tmp_path / "state" / TAPES_DIR / part.volume)
    try:
        start = medium.start(part.first_record + row.record)
        record = medium.read(part.first_record + row.record, 1 << 20)
        at = start + record.index(b"B" * 3000, row.offset) + 100
        os.pwrite(medium.fd, b"X", at)
    finally:
        medium.close()
    with make_site(tmp_path) as site:
        out = run_restore(RestoreSpec((str(src),), root=str(dst)), site)
    assert out.status is CompletionStatus.COMPLETED_WITH_ERRORS and out.exit_code == 1
    (failed,) = [r for r in out.results if r.outcome is Outcome.FAILED]
    assert failed.path == str(src / "bad") and failed.code == "restore.checksum_mismatch"
    assert (restored_at(dst, src) / "good").read_bytes() == b"G" * 3000
    assert not (restored_at(dst, src) / "bad").exists()


def test_nothing_selected_fails_to_start_with_a_record(tmp_path: Path) -> None:
    with make_site(tmp_path) as site:
        out = run_restore(RestoreSpec(("/no/such/path",), root=str(tmp_path / "d")), site)
        job = JobsStore(site.catalog()).get_job(out.job_id)
    assert out.status is CompletionStatus.FAILED_TO_START and out.exit_code == 2
    assert "/no/such/path is in no backup" in (out.error or "")
    assert job.status is CompletionStatus.FAILED_TO_START


def test_a_backup_of_one_file_restores(tmp_path: Path) -> None:
    """A session whose source is a file holds one member named by its base name."""
    one = tmp_path / "src" / "only.txt"
    one.parent.mkdir()
    one.write_text("alone\n")
    os.utime(one, ns=(1_000_000_000, 1_234_567_891))
    with make_site(tmp_path) as site:
        backup(site, one)
        out = run_restore(RestoreSpec((str(one),), root=str(tmp_path / "d")), site)
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    got = restored_at(tmp_path / "d", one)
    assert got.read_text() == "alone\n" and got.stat().st_mtime_ns == 1_234_567_891
