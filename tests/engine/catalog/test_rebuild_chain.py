"""Catalog rebuild fidelity (issue 5 "Catalog rebuild from media yields a catalog from which the
same restores succeed"): a rebuilt incremental chain restores every point in time as the
original catalog did (deletions are in the session index), its rows equal the backup's, the
next incremental after a rebuild stores only what changed, and a session whose index was
written before the per-member metadata (format version 1) still rebuilds and restores."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import subprocess
from pathlib import Path

from engine.backup.levels import Level
from engine.catalog.files_model import Change, FileRow
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.catalog.schema import files as files_table
from engine.format import headers as h
from engine.format.index import INDEX_MEMBER
from engine.jobs.states import CompletionStatus
from engine.restore.asof import AsOf
from engine.restore.from_media import MediaRestoreSpec, rebuild, restore_from_media
from engine.restore.job import RestoreSpec, run_restore
from engine.site import Site
from hwsim.media import TapeMedium
from hwsim.state import TAPES_DIR
from tests.engine.backup.backup_util import make_site
from tests.engine.catalog.test_rebuild import drop_catalog
from tests.engine.format.treecmp import compare_trees
from tests.engine.restore.restore_util import backup, evolve, restored_at

LEVELS = [Level.FULL, Level.INCREMENTAL, Level.INCREMENTAL, Level.DIFFERENTIAL]
KEPT = [f.name for f in dataclasses.fields(FileRow) if f.name != "run_id"]
"""The row columns a rebuild must give back as the backup wrote them: all of them."""


def run_rows(site: Site, run_id: int) -> list[tuple[object, ...]]:
    files = FilesStore(site.catalog())
    query = files._select(files_table.c.run_id == run_id)
    rows: list[FileRow] = files._rows(query.order_by(files_table.c.parent, files_table.c.name))
    return [(*(getattr(r, k) for k in KEPT), r.change is Change.DELETED, r.run_id) for r in rows]


def restore_each_point(site: Site, src: Path, outs: list, to: Path) -> list[Path]:
    trees = []
    for n, out in enumerate(outs):
        dst = to / f"as-of-job-{n}"
        spec = RestoreSpec((str(src),), root=str(dst), as_of=AsOf(job=out.job_id))
        got = run_restore(spec, site)
        assert got.status is CompletionStatus.COMPLETED, (n, got.to_dict())
        trees.append(restored_at(dst, src))
    return trees


def test_a_rebuilt_chain_restores_every_point_as_the_original_catalog(tmp_path: Path) -> None:
    src = tmp_path / "src"
    outs, snaps = [], []
    with make_site(tmp_path) as site:
        for n, level in enumerate(LEVELS):
            evolve(src, n)
            outs.append(backup(site, src, level=level, name="chain"))
            snaps.append(tmp_path / f"snap{n}")
            subprocess.run(["cp", "-a", str(src), str(snaps[-1])], check=True)
        assert [o.level for o in outs] == LEVELS
        assert sum(o.counters.deleted for o in outs) >= 4, "the chain deletes and renames"
        before = {o.run_id: run_rows(site, o.run_id) for o in outs}
        jobs = JobsStore(site.catalog())
        starts = [jobs.get_run(o.run_id).started_ns for o in outs]
        original = restore_each_point(site, src, outs, tmp_path / "original")
    drop_catalog(tmp_path)
    with make_site(tmp_path) as site:
        report = rebuild(site, outs[0].volumes, [], actor="t")
        assert report.problems == [] and len(report.catalogued) == len(LEVELS), report
        after = {o.run_id: run_rows(site, o.run_id) for o in outs}
        jobs = JobsStore(site.catalog())
        assert [jobs.get_run(o.run_id).started_ns for o in outs] == starts, "racy threshold"
        rebuilt = restore_each_point(site, src, outs, tmp_path / "rebuilt")
    for n, out in enumerate(outs):
        assert after[out.run_id] == before[out.run_id], f"rows of run {n}"
        assert compare_trees(original[n], rebuilt[n]) == [], f"as of job {n}"
        assert compare_trees(snaps[n], rebuilt[n]) == [], f"as of job {n}"


def test_the_next_incremental_after_a_rebuild_stores_only_what_changed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    evolve(src, 0)
    with make_site(tmp_path) as site:
        full = backup(site, src, name="chain")
        evolve(src, 1)
        backup(site, src, name="chain", level=Level.INCREMENTAL)
    drop_catalog(tmp_path)
    with make_site(tmp_path) as site:
        assert rebuild(site, full.volumes, [], actor="t").problems == []
        same = backup(site, src, name="chain", level=Level.INCREMENTAL)
        (src / "dir1" / "c.txt").write_text("c version 3, after the rebuild\n")
        one = backup(site, src, name="chain", level=Level.INCREMENTAL)
        changes = FilesStore(site.catalog()).changes(one.run_id)
    assert same.up_to_date, same.counters
    assert same.counters.files == 0 and same.counters.bytes == 0, same.counters
    assert one.modified and one.counters.files == 1, one.counters
    assert [(r.path, r.change) for r in changes] == [
        (os.fsencode(src / "dir1" / "c.txt"), Change.CHANGED)
    ]


def as_version_1(body: bytes) -> bytes:
    """The index as tapir wrote it before the per-member metadata: only version 1's keys."""
    old_keys = {"p", "k", "v", "r", "o", "s", "m", "x", "l", "g", "e", "why", "at", "parts"}
    lines = gzip.decompress(body).splitlines()
    head = json.loads(lines[0])
    assert head["format_version"] == 1, "a full run's index is version 1"
    docs = [{k: v for k, v in json.loads(line).items() if k in old_keys} for line in lines[1:]]
    text = b"".join(json.dumps(d).encode() + b"\n" for d in [head, *docs])
    return gzip.compress(text, compresslevel=9)


def test_a_version_1_index_still_rebuilds_and_restores(tmp_path: Path) -> None:
    src = tmp_path / "src"
    evolve(src, 0)
    with make_site(tmp_path) as site:
        full = backup(site, src, name="old")
        (part,) = FilesStore(site.catalog()).parts(full.session_id)
    medium = TapeMedium(tmp_path / "state" / TAPES_DIR / part.volume)
    try:  # rewrite the index member's body in place (small: within its record)
        for n in range(part.first_record, part.first_record + (part.record_count or 0)):
            record = medium.read(n, 1 << 20)
            if INDEX_MEMBER + b"\0" in record:
                break
        start = medium.start(n)
        at = record.index(INDEX_MEMBER + b"\0")
        size = int(h.decode_ustar(record[at : at + h.BLOCK])["size"])  # type: ignore[call-overload]
        body = record[at + h.BLOCK : at + h.BLOCK + size]
        old = as_version_1(body)
        assert len(old) < size and b'"mo"' in gzip.decompress(body)
        os.pwrite(medium.fd, old.ljust(size, b"\0"), start + at + h.BLOCK)
    finally:
        medium.close()
    drop_catalog(tmp_path)
    with make_site(tmp_path) as site:
        report = rebuild(site, full.volumes, [], actor="t")
        rows = FilesStore(site.catalog())._rows(
            FilesStore(site.catalog())._select(files_table.c.run_id == full.run_id)
        )
        out = run_restore(RestoreSpec((str(src),), root=str(tmp_path / "dst")), site)
        again = backup(site, src, name="old", level=Level.INCREMENTAL)
    assert report.problems == [] and len(report.catalogued) == 1, report
    assert rows and all(r.mode == 0 and r.inode == 0 for r in rows), "version 1: unknown"
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert compare_trees(src, restored_at(tmp_path / "dst", src)) == []
    assert again.counters.files == full.counters.files, "nothing compares equal: all stored"


def test_restore_from_media_of_an_incremental_skips_its_deletion_lines(tmp_path: Path) -> None:
    src = tmp_path / "src"
    evolve(src, 0)
    with make_site(tmp_path) as site:
        backup(site, src, name="chain")
        evolve(src, 1)  # edits a.txt, adds new.txt, deletes b.txt
        incr = backup(site, src, name="chain", level=Level.INCREMENTAL)
    assert incr.counters.deleted == 1
    (barcode,) = incr.volumes
    drop_catalog(tmp_path)
    with make_site(tmp_path) as site:
        spec = MediaRestoreSpec(barcode, 2, (str(src),), str(tmp_path / "dst"))
        out = restore_from_media(spec, site, actor="t")
    got = restored_at(tmp_path / "dst", src)
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert (got / "a.txt").read_text() == "a version 2, longer\n"
    assert (got / "new.txt").read_text() == "new\n"
    assert not (got / "b.txt").exists(), "a deletion line is no member to restore"
