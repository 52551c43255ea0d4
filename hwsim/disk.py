"""A simulated disk under one mount path: a capacity, and faults keyed by bytes written.

The directory is real (volumes are real files); what is simulated is the disk it lives on,
at the level of the three OS calls a mount path's writer makes (devices/disk.py ``DiskOs``):
``write(fd, data)``, ``fsync(fd)`` and ``statvfs(path)``. ``SimDisk`` answers them as the
kernel would for a small disk that fills up or is pulled out:

- capacity: the disk holds ``capacity`` bytes; the bytes in use are those of the files under
  the directory (so deleting a volume frees space, as on a real disk). ``statvfs`` reports
  what is left (``f_bavail * f_frsize``); a write that does not fit writes what fits and
  returns the short count, the next one fails with ENOSPC.
- ``full`` at_byte=N: the write that would pass byte N (counted over the writes through this
  disk) finds it filled by another writer: it and every later write fail with ENOSPC and
  ``statvfs`` reports nothing free.
- ``gone`` at_byte=N: the write that would pass byte N finds the disk unmounted (pulled out,
  or a lazy unmount): every open file is cut back to what its last ``fsync`` made durable
  (the page cache of a vanished device is lost), the directory's contents leave with the disk
  and an empty mount point stays behind; that write, and every write or fsync on a file
  opened before, fails with EIO (what the kernel answers for a removed device); new opens see
  the empty mount point. ``remount`` puts the disk back.

Byte counts are this object's (one process's writes through it), never wall time, so a test
can loop N = 1, 2, ... and a run replays exactly. Thread-safe (one lock); imports nothing
from engine, devices or drivers (hwsim is "the hardware").
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DISK_FAULTS = frozenset({"full", "gone"})
FRSIZE = 4096
"""The simulated file system's block size (``f_frsize``)."""
AWAY_SUFFIX = ".hwsim-unmounted"
"""Where an unmounted disk's contents wait for ``remount``: beside the mount point."""


class DiskSpecError(ValueError):
    """A simulated disk description that cannot be used; the message names the field."""


@dataclass(frozen=True)
class DiskFault:
    kind: str
    """``full`` or ``gone`` (module docstring)."""
    at_byte: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DiskFault:
        kind = d.get("kind")
        if kind not in DISK_FAULTS:
            raise DiskSpecError(f"kind must be one of {sorted(DISK_FAULTS)}, not {kind!r}")
        at = d.get("at_byte")
        if isinstance(at, bool) or not isinstance(at, int) or at < 0:
            raise DiskSpecError(f"at_byte must be an integer >= 0, not {at!r}")
        if unknown := sorted(set(d) - {"kind", "at_byte"}):
            raise DiskSpecError(f"unknown key {unknown[0]!r} in a disk fault")
        return cls(kind, at)


@dataclass(frozen=True)
class DiskSpec:
    """What a site configuration says of a simulated disk (``hwsim = {...}`` of a mount path)."""

    capacity: int | None = None
    faults: tuple[DiskFault, ...] = ()


class SimDisk:
    """The disk under ``path`` (module docstring)."""

    def __init__(
        self, path: Path | str, capacity: int | None = None, faults: Iterable[DiskFault] = ()
    ) -> None:
        self.path = Path(os.path.abspath(path))
        self.capacity = capacity
        self.faults: list[DiskFault] = list(faults)
        self.fired: list[DiskFault] = []
        self.written = 0
        """Bytes written through this disk so far (the faults' clock)."""
        self.full = False
        self.gone = False
        self._durable: dict[int, int] = {}
        """inode -> the file's size at its last fsync (at its first write, if never synced)."""
        self._lost: set[int] = set()
        """Inodes of files that were open when the disk went away."""
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, path: Path | str, spec: DiskSpec) -> SimDisk:
        return cls(path, spec.capacity, spec.faults)

    # -- the OS calls (devices/disk.py DiskOs) ----------------------------------------------

    def write(self, fd: int, data: bytes | memoryview) -> int:
        with self._lock:
            st = os.fstat(fd)
            if self.gone or st.st_ino in self._lost:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            self._durable.setdefault(st.st_ino, st.st_size)
            size = len(data)
            for fault in list(self.faults):
                if self.written + size > fault.at_byte:
                    self.faults.remove(fault)
                    self.fired.append(fault)
                    if fault.kind == "gone":
                        self._unmount()
                        raise OSError(errno.EIO, os.strerror(errno.EIO))
                    self.full = True
            room = self._room()
            if room is not None and room < size:
                if room <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                data = memoryview(data)[:room]
            done = os.write(fd, data)
            self.written += done
            return done

    def fsync(self, fd: int) -> None:
        with self._lock:
            st = os.fstat(fd)
            if self.gone or st.st_ino in self._lost:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            os.fsync(fd)
            self._durable[st.st_ino] = st.st_size

    def statvfs(self, path: str | Path) -> os.statvfs_result:
        real = os.statvfs(path)
        with self._lock:
            room = self._room()
        if self.gone or room is None:
            return real  # an empty mount point: the file system underneath answers
        blocks = (self.capacity or 0) // FRSIZE
        free = max(0, room) // FRSIZE
        inodes = (real.f_files, real.f_ffree, real.f_favail, real.f_flag, real.f_namemax)
        return os.statvfs_result((FRSIZE, FRSIZE, blocks, free, free, *inodes))

    # -- the operator -----------------------------------------------------------------------

    def remount(self) -> None:
        """The disk is mounted again where it was (what the administrator does)."""
        with self._lock:
            away = self._away()
            if not self.gone or not away.exists():
                return
            for leftover in self.path.iterdir():  # written to the bare mount point meanwhile
                leftover.unlink()
            self.path.rmdir()
            away.rename(self.path)
            self.gone = False

    def clear(self) -> None:
        """Armed faults removed, the disk freed of the other writer and of its size limit."""
        with self._lock:
            self.faults.clear()
            self.full = False
            self.capacity = None

    # -- inside -------------------------------------------------------------------------------

    def _room(self) -> int | None:
        if self.full:
            return 0
        if self.capacity is None:
            return None
        return self.capacity - _used(self.path)

    def _away(self) -> Path:
        return self.path.with_name(self.path.name + AWAY_SUFFIX)

    def _unmount(self) -> None:
        for dirpath, _dirs, names in os.walk(self.path):
            for name in names:
                path = os.path.join(dirpath, name)
                size = self._durable.get(os.lstat(path).st_ino)
                if size is not None:  # what was not fsynced was in the lost page cache
                    os.truncate(path, size)
        self._lost |= set(self._durable)
        self._durable.clear()
        self.path.rename(self._away())
        self.path.mkdir()
        self.gone = True


def _used(root: Path) -> int:
    """Bytes of the regular files under ``root`` (the disk's contents)."""
    total = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                continue
    return total


def parse_disk(table: Mapping[str, Any]) -> DiskSpec:
    """``{capacity = BYTES, faults = [{kind = "gone", at_byte = N}, ...]}`` (sizes as ints;
    the site configuration parses "4MiB" before). Raises ``DiskSpecError``."""
    if unknown := sorted(set(table) - {"capacity", "faults"}):
        raise DiskSpecError(f"unknown key {unknown[0]!r}")
    capacity = table.get("capacity")
    if capacity is not None and (
        isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0
    ):
        raise DiskSpecError(f"capacity must be a size >= 0, not {capacity!r}")
    faults = table.get("faults", [])
    if not isinstance(faults, list) or not all(isinstance(f, Mapping) for f in faults):
        raise DiskSpecError("faults must be an array of tables")
    return DiskSpec(capacity, tuple(DiskFault.from_dict(f) for f in faults))
