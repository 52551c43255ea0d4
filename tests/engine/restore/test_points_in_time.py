"""An incremental/differential chain of 5 runs with adds, edits, deletes and renames: each
point in time restores exactly the tree as it was (as of the job, the run, or the moment),
the latest version of a deleted file comes back, and unknown points are refused."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.backup.levels import Level
from engine.catalog.files_store import FilesStore
from engine.jobs.states import CompletionStatus
from engine.restore.asof import AsOf, AsOfError, NoSuchPoint, PointInTime, parse_as_of
from engine.restore.job import RestoreSpec, run_restore
from engine.restore.select import SelectionError, select
from tests.engine.backup.backup_util import make_site
from tests.engine.format.treecmp import compare_trees
from tests.engine.restore.restore_util import backup, evolve, restored_at


def snapshot(src: Path, to: Path) -> Path:
    """The tree as it is now (``cp -a`` keeps times, modes, xattrs and hard links)."""
    subprocess.run(["cp", "-a", str(src), str(to)], check=True)
    return to


LEVELS = [Level.FULL, Level.INCREMENTAL, Level.INCREMENTAL, Level.DIFFERENTIAL, Level.INCREMENTAL]


def test_each_point_of_a_five_run_chain_restores_exactly(tmp_path: Path) -> None:
    src = tmp_path / "src"
    snaps, outs, moments = [], [], []
    with make_site(tmp_path) as site:
        for n, level in enumerate(LEVELS):
            evolve(src, n)
            outs.append(backup(site, src, level=level))
            moments.append(datetime.now(UTC))
            snaps.append(snapshot(src, tmp_path / f"snap{n}"))
        assert [o.level for o in outs] == LEVELS
        assert all(o.modified for o in outs[1:])
        files = FilesStore(site.catalog())
        assert PointInTime(files).chain(outs[4].run_id) == [
            outs[4].run_id,
            outs[3].run_id,
            outs[0].run_id,
        ], "incremental on a differential on the full"
        for n, out in enumerate(outs):
            points = {
                "job": AsOf(job=out.job_id),
                "run": AsOf(run=out.run_id),
                "moment": AsOf(at=moments[n]),
            }
            for how, point in points.items():
                dst = tmp_path / f"dst{n}-{how}"
                spec = RestoreSpec((str(src),), root=str(dst), as_of=point)
                got = run_restore(spec, site)
                assert got.status is CompletionStatus.COMPLETED, (n, how, got.to_dict())
                assert compare_trees(snaps[n], restored_at(dst, src)) == [], (n, how)
                assert set(got.runs) <= set(PointInTime(files).chain(out.run_id))
                assert out.run_id in got.runs and got.as_of == point
        latest = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "latest")), site)
        assert latest.status is CompletionStatus.COMPLETED
        assert latest.runs == [outs[3].run_id, outs[4].run_id], "the differential, then the last"
        assert compare_trees(snaps[4], restored_at(tmp_path / "latest", src)) == []


def test_a_deleted_file_comes_back_at_its_latest_version(tmp_path: Path) -> None:
    src = tmp_path / "src"
    with make_site(tmp_path) as site:
        for n, level in enumerate(LEVELS[:4]):
            evolve(src, n)
            backup(site, src, level=level)
        files = FilesStore(site.catalog())
        gone = src / "dir2" / "d.txt"  # renamed in run 2, deleted with dir2 in run 3
        sel = select(files, [str(gone)])
        (chosen,) = sel.chosen
        assert chosen.row.path == os.fsencode(gone)
        dst = tmp_path / "dst"
        out = run_restore(RestoreSpec((str(gone),), root=str(dst)), site)
        assert out.status is CompletionStatus.COMPLETED
        assert restored_at(dst, gone).read_bytes() == b"d version 1\n"
        # as of a point where it was gone, it is refused with the reason
        with pytest.raises(SelectionError, match="did not exist as of 20"):
            select(files, [str(gone)], as_of=AsOf(at=datetime.now(UTC)))


def test_globs_and_directories_at_a_point(tmp_path: Path) -> None:
    src = tmp_path / "src"
    outs = []
    with make_site(tmp_path) as site:
        for n, level in enumerate(LEVELS[:4]):
            evolve(src, n)
            outs.append(backup(site, src, level=level))
        files = FilesStore(site.catalog())

        def names(pattern: Path, point: AsOf) -> set[str]:
            chosen = select(files, [str(pattern)], as_of=point).chosen
            return {os.path.relpath(os.fsdecode(c.row.path), src) for c in chosen}

        at_run3 = AsOf(run=outs[2].run_id)
        assert names(src / "dir?" / "*.txt", at_run3) == {"dir2/c.txt", "dir2/d.txt"}
        first = AsOf(job=outs[0].job_id)
        assert names(src / "*.txt", first) == {"a.txt", "b.txt", "hard.txt", "hard2.txt"}
        assert names(src / "*.txt", AsOf()) == {"a.txt", "hard.txt", "new.txt"}
        assert names(src / "keep", at_run3) == {"keep", "keep/k2.bin"}
        assert names(src / "ke?p", first) == {"keep", "keep/k.bin"}, "below a match: all"
        with pytest.raises(SelectionError, match="Nothing matches"):
            select(files, [str(src / "dir*" / "c.*")])
        dst = tmp_path / "dst"
        out = run_restore(RestoreSpec((str(src / "dir*"),), root=str(dst)), site)
        assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    got = restored_at(dst, src)
    assert sorted(os.listdir(got)) == ["dir3"]
    assert compare_trees(src / "dir3", got / "dir3") == []


def test_points_that_hold_nothing_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    before = datetime.now(UTC) - timedelta(seconds=1)
    with make_site(tmp_path) as site:
        evolve(src, 0)
        out = backup(site, src)
        files = FilesStore(site.catalog())
        with pytest.raises(SelectionError, match="is in no backup as of"):
            select(files, [str(src)], as_of=AsOf(at=before))
        with pytest.raises(NoSuchPoint, match="Job 99 has no ended backup run"):
            select(files, [str(src)], as_of=AsOf(job=99))
        with pytest.raises(NoSuchPoint, match="Run 99 is not an ended backup run"):
            select(files, [str(src)], as_of=AsOf(run=99))
        with pytest.raises(SelectionError, match="Nothing matches"):
            select(files, [str(src / "*.nothing")], as_of=AsOf(job=out.job_id))
        failed = run_restore(RestoreSpec((str(src),), as_of=AsOf(job=99)), site)
        assert failed.status is CompletionStatus.FAILED_TO_START
        assert failed.error_code == "restore.no_such_point"


def test_parse_as_of() -> None:
    assert parse_as_of(None) == AsOf() and parse_as_of("").latest
    assert parse_as_of("7") == AsOf(job=7) == parse_as_of("job:7")
    assert parse_as_of("run:12") == AsOf(run=12)
    day = parse_as_of("2026-11-22").at
    assert day is not None and day.tzinfo is not None
    assert (day.hour, day.minute, day.second) == (23, 59, 59), "a date means its end"
    at = parse_as_of("2026-11-22T14:30:00+01:00").at
    assert at == datetime(2026, 11, 22, 13, 30, tzinfo=UTC)
    local = parse_as_of("2026-11-22 14:30").at
    assert local is not None and local.tzinfo is not None
    for bad in ("yesterday", "run:x", "job:", "2026-13-01", "-3"):
        with pytest.raises(AsOfError, match="is not a job id"):
            parse_as_of(bad)


def test_snapshot_helper_keeps_what_the_comparison_checks(tmp_path: Path) -> None:
    """The chain test compares restores with ``cp -a`` copies: the copy must be exact."""
    src = tmp_path / "src"
    evolve(src, 0)
    copy = snapshot(src, tmp_path / "copy")
    assert compare_trees(src, copy) == []
    shutil.rmtree(copy)
