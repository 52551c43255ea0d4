"""Working from the media alone (issue 5 "Without the catalog").

``rebuild``: ``tapir catalog rebuild --from-media``. Two passes so that a refused volume (no
tapir label, newer format) stops the command before the catalog changes: first every volume's
label and tape files are scanned (engine/catalog/media_scan.py), then each session's index is
read and catalogued (engine/catalog/rebuild.py).

``session_from_media``: ``tapir restore --from-media BARCODE --session N``: the N-th session
on the volume (tape file N; a disk volume file holds one) found by its trailer, its index
read, and the selected rows turned into a one-session catalog in memory (SQLite), from which
the ordinary media plan restores with one LOCATE per member. The catalog is not touched.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.catalog.files_model import SessionPart, normalize
from engine.catalog.index_rows import rows_of
from engine.catalog.jobs_store import JobsStore
from engine.catalog.media_scan import (
    FoundPart,
    ScanRefused,
    VolumeScan,
    disk_index,
    disk_volume_files,
    scan_disk,
    scan_tape,
    tape_index,
)
from engine.catalog.rebuild import Rebuilder, RebuildReport
from engine.format.index import IndexEntry
from engine.jobs.states import CompletionStatus, JobState
from engine.restore.execute import PlanRunner, TapeMounts
from engine.restore.extract import Extractor, FileResult, Outcome, Overwrite
from engine.restore.job import FAILURES as RESTORE_FAILURES
from engine.restore.job import JOB_TYPE as RESTORE
from engine.restore.job import (
    RestoreOutcome,
    _end,  # one place decides how a restore job ends
    completion,
)
from engine.restore.plan import Plan, SessionInfo, Step, VolumePlan, Where
from engine.restore.select import Chosen, is_link_member

if TYPE_CHECKING:
    from engine.catalog.db import Catalog
    from engine.site import Site


def _disk_scans(paths: list[Path]) -> list[VolumeScan]:
    return [scan_disk(f) for p in paths for f in disk_volume_files(Path(p))]


def scan_volumes(site: Site, barcodes: list[str], paths: list[Path]) -> list[VolumeScan]:
    """Labels and tape files of every volume; ``ScanRefused`` names the first bad one."""
    scans = _disk_scans(paths)
    mounts = TapeMounts(site, site.media_store())
    try:
        for barcode in barcodes:
            scans.append(scan_tape(mounts.tape(barcode), barcode))
    finally:
        mounts.release_all()
    return scans


def rebuild(
    site: Site,
    barcodes: list[str],
    paths: list[Path],
    *,
    catalog: Catalog | None = None,
    actor: str = "tapir",
) -> RebuildReport:
    """Catalogue every session found on the volumes (module docstring). Raises ``ScanRefused``
    before changing the catalog when a volume is not tapir media."""
    scans = scan_volumes(site, barcodes, paths)
    catalog = catalog if catalog is not None else site.catalog()
    builder = Rebuilder(catalog, site.media_store(), actor)
    for scan in scans:
        builder.volume(scan)
    mounts = TapeMounts(site, site.media_store())
    try:
        for scan in scans:
            for part in scan.parts:
                if part.trailer is None:
                    continue
                try:
                    with _index(mounts, scan, part) as (header, entries):
                        builder.session(scan, part, header, entries)
                except ScanRefused as exc:
                    builder.report.problems.append(str(exc))
    finally:
        mounts.release_all()
    return builder.finish()


@contextlib.contextmanager
def _index(mounts: TapeMounts, scan: VolumeScan, part: FoundPart) -> Iterator[tuple]:
    if scan.kind == "disk":
        header, entries, source = disk_index(scan, part)
    else:
        tape = mounts.tape(scan.volume)
        header, entries, source = tape_index(tape, part, scan.label.record_size)  # type: ignore[assignment]
    try:
        yield header, entries
    finally:
        source.close()


# -- tapir restore --from-media ------------------------------------------------------------


@dataclass(frozen=True)
class MediaRestoreSpec:
    volume: str
    """A barcode, or the path of a disk volume file."""
    session: int
    """Tape file number of the session (1 = the first after the label); disk: 1."""
    paths: tuple[str, ...]
    root: str = "/"
    overwrite: Overwrite = Overwrite.NEVER

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_media": self.volume,
            "session": self.session,
            "paths": list(self.paths),
            "root": os.path.abspath(self.root),
            "overwrite": Overwrite(self.overwrite).value,
        }


def _wanted(full: bytes, paths: list[bytes]) -> bool:
    return any(full == p or full.startswith(p.rstrip(b"/") + b"/") for p in paths)


def media_plan(
    scan: VolumeScan,
    part: FoundPart,
    header: dict[str, Any],
    entries: Iterable[IndexEntry],
    paths: list[bytes],
) -> tuple[Plan, list[str]]:
    """The plan of the index entries under ``paths``, from the index alone; the paths that
    start on another volume of a spanning session are returned apart (not restorable here)."""
    assert part.trailer is not None
    meta = part.trailer.session or header.get("session") or {}
    source = normalize(os.fsencode(meta.get("source") or "/"))
    seq = part.trailer.volume + 1
    info = SessionInfo(
        int(meta.get("session") or 0),
        str(scan.path.parent if scan.path else scan.volume),
        source,
        scan.label.record_size,
        (SessionPart(seq, part.volume, part.tape_file, part.first_record, part.records),),
        scan.kind,
    )
    rows, leaders = [], {}
    for r in rows_of(entries, source):
        if r.stored and r.link_group is not None and r.checksum is not None:
            leaders[r.link_group] = r  # a hard link group's data member (few: kept)
        if r.stored and _wanted(r.path, paths):
            rows.append(r)
    selected = {r.path for r in rows}
    elsewhere = [os.fsdecode(r.path) for r in rows if r.part != seq]
    chosen = []
    for r in rows:
        if r.part != seq:
            continue
        c = Chosen(r, info.session_id)
        leader = leaders.get(r.link_group) if is_link_member(r) else None
        if leader is not None and leader.path not in selected and leader.part == seq:
            c.data_from = leader  # its data member is not restored: read the data there
        chosen.append(c)
    volume = VolumePlan(part.volume, scan.kind, session=info, order=(info.session_id, seq))
    for c in chosen:
        src = c.source
        assert src.record is not None and src.offset is not None
        volume.steps.append(
            Step(c, info, info.parts[0], part.first_record + src.record, src.record, src.offset)
        )
    volume.steps.sort(key=lambda s: (s.block, s.offset))
    if scan.kind == "disk":
        volume.where = Where("disk", path=str(scan.path))
    return Plan([volume] if volume.steps else []), elsewhere


def restore_from_media(
    spec: MediaRestoreSpec,
    site: Site,
    *,
    catalog: Catalog | None = None,
    actor: str = "tapir",
) -> RestoreOutcome:
    """Restore ``spec.paths`` of one session using only its index on the medium; recorded as
    a restore job in the catalog (which needs to hold nothing else)."""
    started = time.monotonic()
    jobs = JobsStore(catalog if catalog is not None else site.catalog())
    root = os.path.abspath(os.path.expanduser(spec.root))
    name = f"{', '.join(spec.paths)} from {spec.volume} session {spec.session} -> {root}"
    job_id = jobs.create_job(RESTORE, name, spec.to_dict(), actor=actor)
    jobs.transition(job_id, JobState.QUEUED, actor=actor, reason=f"Submitted by {actor}.")
    out = RestoreOutcome(job_id)
    wanted = [normalize(os.fsencode(p)) for p in spec.paths]
    mounts = TapeMounts(site, site.media_store())
    try:
        try:
            scan, part = _session_part(mounts, spec)
            with _index(mounts, scan, part) as (header, entries):
                out.plan, elsewhere = media_plan(scan, part, header, entries, wanted)
            if elsewhere:
                raise ScanRefused(
                    f"{elsewhere[0]} starts on another volume of this spanning session; "
                    "rebuild the catalog from all its volumes (tapir catalog rebuild "
                    "--from-media) and restore from the catalog."
                )
            if not out.plan.volumes:
                raise ScanRefused(
                    f"Nothing matches {', '.join(spec.paths)} in session {spec.session} of "
                    f"{spec.volume}; paths are absolute, as backed up."
                )
        except (ScanRefused, *RESTORE_FAILURES) as exc:
            return _end(jobs, out, actor, started, exc)
        jobs.transition(job_id, JobState.RUNNING, actor=actor, reason="Started.")
        out.run_id = jobs.start_run(job_id).id
        extractor = Extractor(os.fsencode(root), Overwrite(spec.overwrite))
        runner = PlanRunner(site, site.media_store(), extractor, out.results.append)
        runner.mounts = mounts  # the cartridge stays in the drive it was read in
        try:
            runner.run(out.plan)
            for path, exc in extractor.finish():
                why = getattr(exc, "strerror", None) or str(exc)
                out.results.append(
                    FileResult(os.fsdecode(path), Outcome.FAILED, why, "restore.dir")
                )
        except KeyboardInterrupt:
            _end(jobs, out, actor, started, None, CompletionStatus.CANCELED, runner)
            raise
        except RESTORE_FAILURES as exc:
            return _end(jobs, out, actor, started, exc, CompletionStatus.FAILED, runner)
        finally:
            extractor.close()
        return _end(jobs, out, actor, started, None, completion(out), runner)
    finally:
        mounts.release_all()


def _session_part(mounts: TapeMounts, spec: MediaRestoreSpec) -> tuple[VolumeScan, FoundPart]:
    if "/" in spec.volume or os.path.exists(spec.volume):
        scan = scan_disk(Path(spec.volume))
        if spec.session != 1 or not scan.parts:
            raise ScanRefused(f"{spec.volume} holds one session part: use --session 1.")
    else:
        tape = mounts.tape(spec.volume)
        scan = scan_tape(tape, spec.volume, only=spec.session)
    part = scan.parts[0]
    if part.trailer is None:
        raise ScanRefused(
            f"{spec.volume} tape file {part.tape_file} has no session index at its end: it is "
            "continued on another volume or was cut short; give the volume with its last part."
        )
    return scan, part
