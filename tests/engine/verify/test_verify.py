"""``run_verify`` and ``tapir verify``: a clean backup verifies COMPLETED; a record corrupted
on the simulated cartridge or a medium error injected with hwsim faults lists exactly the
files hit, COMPLETED_WITH_ERRORS, and the rest is read on."""

from __future__ import annotations

import os
from pathlib import Path

from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.verify.job import VerifySpec, run_verify
from hwsim.library import SimLibrary
from hwsim.media import TapeMedium
from hwsim.state import TAPES_DIR
from tests.engine.backup.backup_util import make_site
from tests.engine.cli_util import Tapir, one_error_line
from tests.engine.restore.restore_util import backup, edge_tree


def tree(src: Path) -> Path:
    src.mkdir()
    for n in range(6):
        (src / f"f{n}").write_bytes(os.urandom(200_000))
    (src / "small").write_bytes(b"s" * 3000)
    return src


def corrupt(state: Path, volume: str, block: int, at: int) -> None:
    """Flip one byte ``at`` bytes into tape block ``block`` of the recorded cartridge."""
    medium = TapeMedium(state / TAPES_DIR / volume)
    try:
        start = medium.start(block)
        old = medium.read(block, 1 << 20)[at]
        os.pwrite(medium.fd, bytes([old ^ 0xFF]), start + at)
    finally:
        medium.close()


def test_a_clean_backup_verifies_completed_as_a_verify_job(tmp_path: Path) -> None:
    src = edge_tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        b = backup(site, src)
        out = run_verify(VerifySpec(b.job_id), site, actor="bob")
        jobs = JobsStore(site.catalog())
        job = jobs.get_job(out.job_id)
        (run,) = jobs.runs(out.job_id)
    assert out.status is CompletionStatus.COMPLETED and out.exit_code == 0, out.to_dict()
    assert out.verified_run == b.run_id and out.files == 4
    assert job.type == "verify" and job.state is JobState.ENDED
    assert job.status is CompletionStatus.COMPLETED and run.counters["differ"] == []


def test_a_corrupted_record_lists_that_file_and_the_rest_verifies(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        b = backup(site, src)
        files = FilesStore(site.catalog())
        (part,) = files.parts(b.session_id)
        row = files.lookup(str(src / "f2"), b.run_id)
    assert row is not None
    corrupt(tmp_path / "state", part.volume, part.first_record + row.record + 1, 100)
    with make_site(tmp_path) as site:
        out = run_verify(VerifySpec(b.job_id), site)
        (run,) = JobsStore(site.catalog()).runs(out.job_id)
    assert out.status is CompletionStatus.COMPLETED_WITH_ERRORS and out.exit_code == 1
    assert [r.path for r in out.differ] == [str(src / "f2")]
    assert out.differ[0].code == "restore.checksum_mismatch"
    assert out.files == 7, "every file was read"
    assert [d["path"] for d in run.counters["differ"]] == [str(src / "f2")]


def test_a_medium_error_costs_one_file_and_the_next_is_located(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    with make_site(tmp_path) as site:
        b = backup(site, src)
        files = FilesStore(site.catalog())
        (part,) = files.parts(b.session_id)
        row = files.lookup(str(src / "f3"), b.run_id)
    assert row is not None
    with SimLibrary.open(tmp_path / "state") as sim:
        sim.faults.arm(
            {
                "kind": "medium_error",
                "target": part.volume,
                "at_block": part.first_record + row.record + 2,
                "op": "read",
            }
        )
    with make_site(tmp_path) as site:
        out = run_verify(VerifySpec(b.job_id), site)
    assert out.status is CompletionStatus.COMPLETED_WITH_ERRORS, out.to_dict()
    (bad,) = out.differ
    assert bad.path == str(src / "f3") and bad.code == "restore.medium_error"
    assert "could not be read" in bad.message
    assert out.files == 6, "every other file was read after the bad spot"


def test_tapir_verify_from_the_command_line(tmp_path: Path) -> None:
    tapir = Tapir(tmp_path)
    src = tree(tmp_path / "src")
    tapir.ok("backup", str(src), "--to", "lib1")
    text = tapir.ok("verify", "1")
    assert text.startswith("job 2: COMPLETED\n") and "0 differ" in text
    shown = tapir.json("jobs", "show", "2")
    assert shown["status"] == "COMPLETED"
    line = one_error_line(tapir("verify", "2"), 2)
    assert line == "Job 2 is a verify job; verify reads backup jobs. (job 3: FAILED_TO_START)"
    line = one_error_line(tapir("verify", "99"), 2)
    assert "Job 99 is not in the catalog." in line
