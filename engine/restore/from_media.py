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
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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
from engine.restore.execute import TapeMounts

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
        try:
            yield header, entries
        finally:
            source.close()
        return
    tape = mounts.tape(scan.volume)
    yield tape_index(tape, part, scan.label.record_size)
