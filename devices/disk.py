"""``DiskMountPath``: a directory the engine writes volumes to, as files (shared/DESIGN.md
"Devices": "a directory with enabled/disabled state, free-space check, volumes stored as files").

Where the enabled/disabled state lives: in the store (the catalog), not in a file inside the
directory. The state must survive exactly the events it guards against: a disk that is
unmounted, replaced or removed takes any file in it along, and an administrator who disables a
path on one media server must be seen by every process sharing the catalog. The directory holds
only a marker file (``.tapir-mount-path``, a uuid also kept in the store) so that an unmounted
disk (the empty directory underneath) or a different disk mounted in its place is recognised
instead of being written to.

Volumes are files named ``<volume id>.vol`` holding the same archives a tape would (label
record, then sessions; the engine decides what it appends). ``VolumeFile.flush`` is the flush
point: it fsyncs the file and the directory, after which the data is known to be on disk and the
catalog may record it (shared/DESIGN.md "Catalog").

The OS calls that meet the disk itself (``write``, ``fsync``, ``statvfs``) go through a
``DiskOs``: the real OS by default, or a simulated disk (hwsim/disk.py ``SimDisk``: a small
capacity, filling up, pulled out) that the site wires in for a mount path; everything above
them (buffering, flush points, the marker check, the errors raised) is the same code.

Callers: the engine's write stage, from one thread per volume; every call may block on disk I/O.
"""

from __future__ import annotations

import errno
import io
import os
import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB

DEFAULT_RESERVE_BYTES = 2 * GIB
"""Kept free so a full backup never starves the catalog, logs or the OS sharing the disk."""

MARKER_FILE = ".tapir-mount-path"
VOLUME_SUFFIX = ".vol"
VOLUME_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""Volume ids become file names: no separators, no leading dot, bounded length."""

GONE_ERRNOS = frozenset({errno.ENOENT, errno.ESTALE, errno.ENODEV, errno.ENXIO, errno.EIO})
"""errno values that mean the directory or its device went away under us."""


class MountPathError(Exception):
    """Base of mount path failures; the message is one sentence for the user."""

    code = "disk.error"


class MountPathRefused(MountPathError):
    """Disabled, or short of space: writing is refused before anything is written."""

    code = "disk.refused"


class MountPathMissing(MountPathError):
    """The directory vanished, was unmounted, or another disk sits in its place."""

    code = "disk.missing"


class VolumeError(MountPathError):
    code = "disk.volume"


@dataclass(frozen=True)
class MountPathState:
    """What the store keeps about a mount path."""

    path: str
    marker: str
    enabled: bool
    reason: str
    actor: str
    since: datetime


class MountPathStore(Protocol):
    """Persistence of mount path states (implemented by the catalog and MemoryMediaStore)."""

    def get_mount_path(self, path: str) -> MountPathState | None: ...

    def set_mount_path(self, state: MountPathState) -> None: ...


class DiskOs(Protocol):
    """The calls that reach the disk under a mount path (module docstring); each may raise
    ``OSError`` as the kernel does (ENOSPC, EIO, ENOENT, ...)."""

    def write(self, fd: int, data: bytes | memoryview) -> int: ...

    def fsync(self, fd: int) -> None: ...

    def statvfs(self, path: str) -> os.statvfs_result: ...


class RealOs:
    """The kernel's own calls."""

    def write(self, fd: int, data: bytes | memoryview) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def statvfs(self, path: str) -> os.statvfs_result:
        return os.statvfs(path)


REAL_OS: DiskOs = RealOs()


class _DiskFile(io.FileIO):
    """A volume file's raw layer whose writes go through the mount path's ``DiskOs`` (the
    buffered layer above is the standard one)."""

    def __init__(self, path: Path, mode: str, disk: DiskOs) -> None:
        super().__init__(path, mode)
        self._disk = disk

    def write(self, data: bytes | memoryview) -> int:  # type: ignore[override]
        return self._disk.write(self.fileno(), data)


def format_bytes(n: int) -> str:
    """``1.2 GiB``, ``5 GiB``, ``512 B``: binary units, one decimal, no trailing ``.0``."""
    for unit, size in (("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= size:
            text = f"{n / size:.1f}"
            return f"{text.removesuffix('.0')} {unit}"
    return f"{n} B"


def space_refusal(path: Path | str, *, free: int, needed: int, reserve: int) -> str | None:
    """The refusal sentence if ``needed`` bytes plus the reserve do not fit in ``free``."""
    if free >= needed + reserve:
        return None
    return (
        f"Mount path {path} has {format_bytes(free)} free, needs {format_bytes(needed)} "
        f"plus the {format_bytes(reserve)} reserve."
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DiskMountPath:
    """One registered directory. Construct with ``register`` (first time) or ``open``."""

    def __init__(
        self,
        path: Path,
        store: MountPathStore,
        *,
        reserve_bytes: int = DEFAULT_RESERVE_BYTES,
        disk: DiskOs = REAL_OS,
    ) -> None:
        self.path = Path(os.path.abspath(path))
        self.store = store
        self.reserve_bytes = reserve_bytes
        self.disk = disk

    @classmethod
    def register(
        cls,
        path: Path | str,
        store: MountPathStore,
        *,
        actor: str,
        reserve_bytes: int = DEFAULT_RESERVE_BYTES,
        now: datetime | None = None,
        disk: DiskOs = REAL_OS,
    ) -> DiskMountPath:
        """Make ``path`` a mount path: write the marker, record it enabled. Re-registering a
        path that is present and intact keeps its state. Raises ``MountPathMissing``."""
        mp = cls(Path(path), store, reserve_bytes=reserve_bytes, disk=disk)
        if not mp.path.is_dir():
            raise MountPathMissing(f"Mount path {mp.path} does not exist or is not a directory.")
        state = store.get_mount_path(str(mp.path))
        if state is not None and mp._read_marker() == state.marker:
            return mp
        marker = str(uuid.uuid4())
        marker_path = mp.path / MARKER_FILE
        marker_path.write_text(marker + "\n", encoding="ascii")
        with marker_path.open("rb") as f:
            os.fsync(f.fileno())
        _fsync_dir(mp.path)
        store.set_mount_path(
            MountPathState(
                str(mp.path), marker, True, "Registered.", actor, now or datetime.now(UTC)
            )
        )
        return mp

    def state(self) -> MountPathState:
        state = self.store.get_mount_path(str(self.path))
        if state is None:
            raise MountPathError(f"Mount path {self.path} is not registered; register it first.")
        return state

    @property
    def enabled(self) -> bool:
        return self.state().enabled

    def set_enabled(
        self, enabled: bool, *, actor: str, reason: str, now: datetime | None = None
    ) -> MountPathState:
        """Enable or disable (an administrator's decision, kept with reason and actor)."""
        state = replace(
            self.state(),
            enabled=enabled,
            reason=reason,
            actor=actor,
            since=now or datetime.now(UTC),
        )
        self.store.set_mount_path(state)
        return state

    def _read_marker(self) -> str | None:
        try:
            return (self.path / MARKER_FILE).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None

    def check_present(self) -> None:
        """Raise ``MountPathMissing`` unless the directory is there and is the registered disk."""
        if not self.path.is_dir():
            raise MountPathMissing(
                f"Mount path {self.path} is missing (removed or unmounted); mount it again "
                "or disable it."
            )
        if self._read_marker() != self.state().marker:
            raise MountPathMissing(
                f"Mount path {self.path} holds no tapir marker (unmounted, or another disk is "
                "mounted there); mount the right disk or register the path again."
            )

    def free_bytes(self) -> int:
        """Bytes available to this (non-root) user: statvfs ``f_bavail * f_frsize`` (what
        psutil.disk_usage reports as free), asked through the mount path's ``DiskOs``."""
        self.check_present()
        try:
            st = self.disk.statvfs(str(self.path))
        except OSError as exc:
            raise self._gone(exc) from exc
        return st.f_bavail * st.f_frsize

    def refusal(self, needed_bytes: int) -> str | None:
        """Why writing ``needed_bytes`` here is refused, or None. Raises ``MountPathMissing``."""
        self.check_present()
        if not self.enabled:
            return f"Mount path {self.path} is disabled."
        return space_refusal(
            self.path, free=self.free_bytes(), needed=needed_bytes, reserve=self.reserve_bytes
        )

    def check_writable(self, needed_bytes: int) -> None:
        """Raise ``MountPathRefused`` (disabled, short of space) or ``MountPathMissing``."""
        reason = self.refusal(needed_bytes)
        if reason is not None:
            raise MountPathRefused(reason)

    def volume_path(self, volume_id: str) -> Path:
        if not VOLUME_ID.fullmatch(volume_id):
            raise VolumeError(
                f"{volume_id!r} is not a valid volume id (letters, digits, '.', '_', '-'; "
                "at most 128 characters, not starting with '.')."
            )
        return self.path / f"{volume_id}{VOLUME_SUFFIX}"

    def list_volumes(self) -> list[str]:
        self.check_present()
        return sorted(
            p.name.removesuffix(VOLUME_SUFFIX) for p in self.path.glob(f"*{VOLUME_SUFFIX}")
        )

    def create_volume(self, volume_id: str) -> VolumeFile:
        """Create a new, empty volume file (never overwrites). The caller checked space with
        ``check_writable``. Raises ``VolumeError`` if it exists, ``MountPathMissing``."""
        self.check_present()
        if not self.enabled:
            raise MountPathRefused(f"Mount path {self.path} is disabled.")
        target = self.volume_path(volume_id)
        try:
            f = io.BufferedWriter(_DiskFile(target, "xb", self.disk))
        except FileExistsError as exc:
            raise VolumeError(f"Volume {volume_id} already exists in {self.path}.") from exc
        except OSError as exc:
            raise self._gone(exc) from exc
        volume = VolumeFile(self, volume_id, target, f)
        volume.flush()  # the new directory entry itself is durable
        return volume

    def open_volume(self, volume_id: str, *, append: bool = False) -> VolumeFile:
        """Open an existing volume for reading, or for appending at its end."""
        self.check_present()
        target = self.volume_path(volume_id)
        if append and not self.enabled:
            raise MountPathRefused(f"Mount path {self.path} is disabled.")
        try:
            if append:
                f: BinaryIO = io.BufferedWriter(_DiskFile(target, "ab", self.disk))
            else:
                f = target.open("rb")
        except FileNotFoundError as exc:
            raise VolumeError(f"Volume {volume_id} is not in {self.path}.") from exc
        except OSError as exc:
            raise self._gone(exc) from exc
        return VolumeFile(self, volume_id, target, f)

    def _gone(self, exc: OSError) -> MountPathError | OSError:
        """Turn an OSError into ``MountPathMissing`` when the directory went away."""
        if exc.errno in GONE_ERRNOS:
            try:
                self.check_present()
            except MountPathMissing as missing:
                return missing
        return exc


class VolumeFile:
    """An open volume file. ``flush()`` is a flush point: data and directory entry fsynced.

    One thread at a time; may block on disk I/O; raises ``MountPathMissing`` when the mount
    path went away underneath (then everything since the last flush is to be treated as lost).
    """

    def __init__(self, mount: DiskMountPath, volume_id: str, path: Path, f: BinaryIO) -> None:
        self.mount = mount
        self.volume_id = volume_id
        self.path = path
        self._f = f
        self._inode = os.fstat(f.fileno()).st_ino

    def write(self, data: bytes | memoryview) -> int:
        try:
            return self._f.write(data)
        except OSError as exc:
            raise self.mount._gone(exc) from exc

    def read(self, size: int = -1) -> bytes:
        try:
            return self._f.read(size)
        except OSError as exc:
            raise self.mount._gone(exc) from exc

    @property
    def size(self) -> int:
        self._f.flush()
        return os.fstat(self._f.fileno()).st_size

    def flush(self) -> None:
        """Write buffered data, fsync the file and the directory, and check the file is still
        the one in the mount path (a removed directory keeps accepting writes to an unlinked
        file: that data is gone, and saying so now is the point of a flush)."""
        try:
            self._f.flush()
            self.mount.disk.fsync(self._f.fileno())
            _fsync_dir(self.mount.path)
        except OSError as exc:
            raise self.mount._gone(exc) from exc
        self.mount.check_present()
        try:
            same = os.stat(self.path).st_ino == self._inode
        except FileNotFoundError:
            same = False
        if not same:
            raise MountPathMissing(
                f"Volume {self.volume_id} vanished from mount path {self.mount.path} while "
                "open; data written since the last flush is lost."
            )

    def close(self) -> None:
        self._f.close()

    @property
    def closed(self) -> bool:
        return self._f.closed

    def __enter__(self) -> VolumeFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
