"""Disk target: a mount path (devices/disk.py) holding each session part as one volume file.

Decision: one volume file per session part, named ``<session>-p<part>`` (``tapir-j3-r1-s7-p1.vol``),
holding the label record then the part's records, exactly the bytes a tape would hold minus the
filemarks (docs/tapir-format.md "Volume"). One file per part, rather than sessions appended to a
long-lived volume, because a disk has no early warning to fill up to and no robot to save: a
file per part is deleted, copied or expired on its own, and a failed session leaves a file that
says what it is (its part row in the catalog) instead of a damaged tail inside a shared volume.
So the part is always tape file 1 of its volume and starts at record 1, after the label.

A part ends (and the next file starts) when ``volume_size`` is reached, if one is set; without
one, a session is one file. Refusals (devices.disk ``refusal``): the mount path is disabled, or
its free space is below the reserve, checked before the first byte and at every checkpoint,
each the job-level ``TargetRefused`` with the DiskMountPath sentence.

The checkpoint flush is ``VolumeFile.flush``: data and directory entry fsynced.

Mid-job failures (the file system full, the mount path disabled or gone): the run fails with
the DiskMountPath sentence; ``abort`` closes the session at the last flushed point (the volume
file is cut back to the records the last checkpoint flushed, which is what the catalog lists).
With checkpoint restart, the job's next run goes to ``fallback``: another enabled mount path
of the same pool with room, if the configuration has one; without one it fails with the reason
(``after_failure``), never going back to the mount path that just failed it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from devices.disk import DiskMountPath, MountPathError, VolumeFile
from devices.label import encode_label, new_label
from engine.backup.targets import PartRecorder, TargetRefused, UnknownTarget
from engine.catalog.files_model import SessionPart

if TYPE_CHECKING:
    from devices.media import MediaStore
    from engine.site import Site

ACTOR = "tapir-backup"
DISK_MEDIA_TYPE = "disk"
LABEL_RECORDS = 1
"""The label is exactly one record (devices/label.py), so a part's first record is 1."""
SESSION_TAPE_FILE = 1


def find_mount_path(path: Path, site: Site, store: MediaStore) -> DiskMountPath:
    """The mount path at ``path``: configured ones are registered on first use (on the site's
    simulated disk when the configuration gives one); ones only the catalog knows are used as
    registered. Raises ``UnknownTarget``."""
    wanted = os.path.abspath(path)
    spec = next((m for m in site.config.mount_paths if os.path.abspath(m.path) == wanted), None)
    known = store.get_mount_path(wanted)  # type: ignore[attr-defined]
    try:
        if spec is not None and known is None:
            return DiskMountPath.register(
                wanted,
                store,
                actor=ACTOR,
                reserve_bytes=spec.reserve_bytes,
                disk=site.disk_os(spec),
            )  # type: ignore[arg-type]
        if spec is not None:
            return DiskMountPath(
                Path(wanted),
                store,  # type: ignore[arg-type]
                reserve_bytes=spec.reserve_bytes,
                disk=site.disk_os(spec),
            )
    except MountPathError as exc:
        raise UnknownTarget(str(exc), device=wanted) from exc
    if known is not None:
        return DiskMountPath(Path(wanted), store)  # type: ignore[arg-type]
    raise UnknownTarget(
        f"{wanted} is not a mount path of {site.config.source}; add it under [[mount_paths]] "
        "to back up to it.",
        device=wanted,
    )


class DiskTarget:
    def __init__(self, mount: DiskMountPath, pool: str, *, volume_size: int | None = None):
        self.mount = mount
        self.pool = pool
        self.volume_size = volume_size
        self.name = str(mount.path)

    def check(self) -> None:
        """Refuse before anything is written: disabled, missing, or short of space."""
        try:
            reason = self.mount.refusal(0)
        except MountPathError as exc:
            raise TargetRefused(str(exc), device=self.name) from exc
        if reason is not None:
            raise TargetRefused(reason, device=self.name)

    def open(self, record_size: int, parts: PartRecorder, session: str) -> DiskVolumes:
        self.check()
        return DiskVolumes(self, record_size, parts, session)


class DiskVolumes:
    """The ``SessionVolumes`` of a disk session (targets.py)."""

    def __init__(self, target: DiskTarget, record_size: int, parts: PartRecorder, session: str):
        self.target = target
        self.record_size = record_size
        self.parts = parts
        self.session = session
        self.device = target.name
        self.seq = 0
        self.file: VolumeFile | None = None
        self.volume = ""
        self.records = 0
        self.flushed = 0
        """Records of the current part fsynced at the last flush (checkpoint)."""
        self.paths: list[Path] = []
        self._start(1)

    def _start(self, seq: int) -> None:
        self.seq = seq
        self.volume = f"{self.session}-p{seq}"
        vol = self.target.mount.create_volume(self.volume)
        self.file = vol
        self.paths.append(vol.path)
        label = new_label(
            self.volume, self.target.pool, DISK_MEDIA_TYPE, record_size=self.record_size
        )
        self.records = self.flushed = 0
        self.parts.part_started(SessionPart(seq, self.volume, SESSION_TAPE_FILE, LABEL_RECORDS))
        try:  # the part's row first: a failure here is cut back by ``abort`` like any other
            vol.write(encode_label(label))
            vol.flush()  # a volume file on the disk starts with its label, durable
        except OSError as exc:
            raise self._failed(exc) from exc

    def write_record(self, record: memoryview) -> bool:
        return self.write_records(record, 1)

    def write_records(self, span: memoryview, count: int) -> bool:
        assert self.file is not None
        try:
            self.file.write(span)
        except OSError as exc:
            raise self._failed(exc) from exc
        self.records += count
        limit = self.target.volume_size
        return limit is not None and (self.records + LABEL_RECORDS) * self.record_size >= limit

    def next_volume(self, volume_seq: int) -> None:
        self._end()
        self._start(volume_seq + 1)

    def _failed(self, exc: OSError) -> TargetRefused:
        """Full (ENOSPC, EFBIG) or an I/O error, met by a write or by the flush of buffered
        writes: the job-level reason, naming the volume and the mount path."""
        return TargetRefused(
            f"Writing volume {self.volume} on mount path {self.device} failed: "
            f"{exc.strerror or exc}; free space there or enable another mount path.",
            device=self.device,
        )

    def flush(self) -> None:
        """fsync (devices/disk.py ``VolumeFile.flush``), then the reserve is checked again."""
        assert self.file is not None
        try:
            self.file.flush()
        except OSError as exc:
            raise self._failed(exc) from exc
        self.flushed = self.records
        reason = self.target.mount.refusal(0)
        if reason is not None:
            raise TargetRefused(reason, device=self.device)

    def finish(self) -> None:
        self._end()

    def _end(self) -> None:
        assert self.file is not None
        try:
            self.file.flush()
        except OSError as exc:
            raise self._failed(exc) from exc
        self.file.close()
        self.parts.part_ended(self.seq, self.records)

    def abort(self) -> None:
        """After a failure: the part ends at the last flushed record (the file is cut back to
        it, if it is still there), so the volume holds exactly what the catalog lists."""
        if self.file is not None and not self.file.closed:
            with contextlib.suppress(OSError, MountPathError, ValueError):
                self.file.close()
            keep = (LABEL_RECORDS + self.flushed) * self.record_size
            with contextlib.suppress(OSError):
                if os.path.getsize(self.paths[-1]) > keep:
                    os.truncate(self.paths[-1], keep)
            self.parts.part_ended(self.seq, self.flushed)


def after_failure(site: Site, store: MediaStore, target: DiskTarget, avoid: set[str]) -> DiskTarget:
    """Where a run writes when mount paths in ``avoid`` failed its job before (a restarted
    run): ``target`` if it did not fail, else another mount path of its pool (``fallback``);
    with none, the run is refused with the target's own reason (disabled, missing, short of
    space) or, if it would accept writes again, with the failure's: the job does not go back
    to a mount path that just failed it. Raises ``TargetRefused``."""
    if target.name not in avoid:
        return target
    other = fallback(site, store, target.pool, avoid)
    if other is not None:
        return other
    target.check()
    raise TargetRefused(
        f"Mount path {target.name} failed this job and pool {target.pool} has no other "
        "enabled mount path with room; free space there or enable another mount path.",
        device=target.name,
    )


def fallback(site: Site, store: MediaStore, pool: str, avoid: set[str]) -> DiskTarget | None:
    """Another configured mount path of ``pool``, not in ``avoid``, enabled and with room;
    None if there is none (the caller keeps its target, whose check says why)."""
    for spec in site.config.mount_paths:
        name = os.path.abspath(spec.path)
        if name in avoid or (spec.pool or site.config.default_pool) != pool:
            continue
        try:
            target = DiskTarget(find_mount_path(Path(name), site, store), pool)
            target.check()
        except (UnknownTarget, TargetRefused):
            continue
        return target
    return None
