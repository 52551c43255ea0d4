"""Backup targets: where a session's records go, and the job-level errors of getting there.

A target (``--to``) is one of:
- a library name (``lib1``): a tape library; media of the job's pool are mounted in a free drive
  (target_tape.py ``LibraryTarget``);
- ``LIB:DRIVE``: the same, restricted to that drive of the library;
- a standalone drive of the site configuration, or a drive endpoint (``/dev/sg3``): the
  cartridge already in that drive (``DriveTarget``); it cannot span;
- a directory: a disk mount path of the configuration or one registered in the catalog
  (target_disk.py ``DiskTarget``).

``Target.check()`` runs before anything is written and raises a ``TargetError`` with one
sentence and what to do; ``Target.open(...)`` returns the session's ``SessionVolumes``: the
write stage's ``VolumeWriter`` (write_record / next_volume / flush) plus ``finish`` (end the
session: filemark, flush, media states) and ``abort`` (best effort after a failure). Each
volume part is reported to a ``PartRecorder`` as it starts and ends (the catalog's
``session_parts``), so a session is on record before its first record is written.

Every device problem while writing raises the device's own error (devices/errors.py,
drivers/errors.py): a job-level event, never an item exception.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from engine.catalog.files_model import SessionPart

if TYPE_CHECKING:
    from devices.media import MediaStore
    from engine.site import Site


class BackupError(Exception):
    """A backup that cannot start or go on; ``sentence`` says what and what to do."""

    code = "backup.error"

    def __init__(self, sentence: str, *, device: str | None = None) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.device = device


class SourceMissing(BackupError):
    code = "backup.source_missing"


class TargetError(BackupError):
    code = "backup.target"


class UnknownTarget(TargetError):
    code = "backup.unknown_target"


class NoWritableMedia(TargetError):
    code = "backup.no_writable_media"


class TargetRefused(TargetError):
    """A disk mount path disabled or short of space (the DiskMountPath refusal sentence)."""

    code = "backup.target_refused"


class NoNextVolume(TargetError):
    """Early warning on a target that cannot continue on another volume."""

    code = "backup.no_next_volume"


class PartRecorder(Protocol):
    """Told about each volume part of the session (the catalog; tests keep a list)."""

    def part_started(self, part: SessionPart) -> None: ...

    def part_ended(self, seq: int, record_count: int) -> None: ...


class PartList:
    """A ``PartRecorder`` in memory (tests, runs without a catalog)."""

    def __init__(self) -> None:
        self.parts: list[SessionPart] = []
        self.ended: dict[int, int] = {}

    def part_started(self, part: SessionPart) -> None:
        self.parts.append(part)

    def part_ended(self, seq: int, record_count: int) -> None:
        self.ended[seq] = record_count


class SessionVolumes(Protocol):
    """One session's volumes, as the write stage and the job use them."""

    volume: str
    """The volume being written (barcode or disk volume id)."""
    device: str
    """The drive or mount path, for progress and failure sentences."""

    def write_record(self, record: memoryview) -> bool: ...

    def write_records(self, span: memoryview, count: int) -> bool: ...

    def next_volume(self, volume_seq: int) -> None: ...

    def flush(self) -> None: ...

    def finish(self) -> None: ...

    def abort(self) -> None: ...


class Target(Protocol):
    name: str

    def check(self) -> None: ...

    def open(self, record_size: int, parts: PartRecorder, session: str) -> SessionVolumes: ...


def resolve_target(text: str, site: Site, store: MediaStore, *, pool: str | None = None) -> Target:
    """The target ``text`` names (module docstring). Raises ``UnknownTarget``."""
    from engine.backup.target_disk import DiskTarget, find_mount_path
    from engine.backup.target_tape import DriveTarget, LibraryTarget
    from engine.site_config import SiteError

    config = site.config
    if text.startswith(("/", "./", "~")) or (os.sep in text and not text.startswith("hwsim:")):
        if text.startswith("/dev/") and not os.path.isdir(text):  # /dev/shm/x is a directory
            return DriveTarget(site, text, store, pool=pool)
        path = Path(text).expanduser()
        mount = find_mount_path(path, site, store)
        return DiskTarget(mount, pool or _mount_pool(site, path) or config.default_pool)
    if text.startswith("hwsim:"):
        return DriveTarget(site, text, store, pool=pool)
    lib_name, sep, drive = text.rpartition(":")
    names = {lib.name for lib in config.libraries}
    if not sep and text in names:
        spec = config.library(text)
        return LibraryTarget(site, text, store, pool or config.pool_for(spec))
    if sep and lib_name in names:
        spec = config.library(lib_name)
        return LibraryTarget(site, lib_name, store, pool or config.pool_for(spec), drive=drive)
    if any(d.name == text for d in config.drives):
        return DriveTarget(site, text, store, pool=pool)
    known = sorted(names | {d.name for d in config.drives})
    known += [str(m.path) for m in config.mount_paths]
    try:
        _, _, owner = site.resolve_drive(text)
    except (SiteError, OSError):
        pass
    else:  # a drive name that one library has
        if owner is not None:
            lib_pool = pool or config.pool_for(owner)
            return LibraryTarget(site, owner.name, store, lib_pool, drive=text)
        return DriveTarget(site, text, store, pool=pool)
    raise UnknownTarget(
        f"No library, drive or mount path called {text!r} in {config.source} "
        f"(known: {', '.join(known) or 'none'}); name one of those, or see tapir devices scan."
    )


def _mount_pool(site: Site, path: Path) -> str | None:
    wanted = os.path.abspath(path)
    for spec in site.config.mount_paths:
        if os.path.abspath(spec.path) == wanted:
            return spec.pool
    return None
