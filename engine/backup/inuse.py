"""Which files other processes have open for writing: one snapshot per scan phase.

"In use" (issue 4) means another process has the file open with ``O_WRONLY`` or ``O_RDWR``.
Asking that per file (``lsof FILE``) walks every process's descriptors each time; instead one
pass over ``/proc`` builds a map ``(st_dev, st_ino) -> holders`` and every file of the scan is
a dict lookup:

    for each pid (psutil.pids()):
        for each fd in /proc/PID/fd:
            readlink: skip sockets, pipes and anon inodes (targets not starting with "/")
            /proc/PID/fdinfo/FD "flags:" (octal, proc(5)): keep O_WRONLY / O_RDWR
            stat the fd's magic link (the open file itself, even if renamed or deleted):
            keep regular files, key them by (st_dev, st_ino)

Names (``/proc/PID/comm`` via psutil) are read only for processes that hold a writer.

The race, stated: the snapshot is a picture at ``taken_at``. A process that opens a file for
writing after it is missed, and one that closed it since is still listed. The first case is
caught by the reader's changed-while-reading check whenever the process actually writes (a write
moves mtime/ctime); the second is what ``InUsePolicy`` retries are for: a retry refreshes the
snapshot (at most once per retry delay, shared by all reader threads) before looking again.
Also not seen: writable shared memory maps whose descriptor was closed (``mmap`` then
``close``), and, when not root, other users' processes (their fd directories are unreadable;
``unreadable_pids`` counts them).
"""

from __future__ import annotations

import os
import stat as stat_mod
import threading
import time
from dataclasses import dataclass

import psutil

PROC = "/proc"
FDINFO_FLAGS = b"flags:"
WRITE_ACCESS = {os.O_WRONLY: "write", os.O_RDWR: "read-write"}
"""Access modes (``flags & O_ACCMODE``) that make a file in use, and how the reason names them."""
FDINFO_READ_LEN = 256
"""``pos``, ``flags`` and ``mnt_id`` lines come first in fdinfo; 256 bytes always hold them."""


@dataclass(frozen=True, slots=True)
class Holder:
    """One process descriptor open for writing on a file."""

    pid: int
    name: str
    fd: int
    access: str

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.name}, fd {self.fd}, {self.access})"


FileKey = tuple[int, int]
"""``(st_dev, st_ino)``."""


class InUseSnapshot:
    """Files open for writing at ``taken_at`` (``time.monotonic``); immutable once taken."""

    def __init__(
        self, writers: dict[FileKey, tuple[Holder, ...]], taken_at: float, unreadable_pids: int
    ) -> None:
        self._writers = writers
        self._keys: frozenset[FileKey] | None = None
        self.taken_at = taken_at
        self.unreadable_pids = unreadable_pids

    @classmethod
    def take(cls) -> InUseSnapshot:
        """One pass over ``/proc`` (module docstring). Never raises for a process that exits."""
        taken_at = time.monotonic()
        found: dict[FileKey, list[tuple[int, int, str]]] = {}
        unreadable = 0
        for pid in psutil.pids():
            try:
                fds = os.scandir(f"{PROC}/{pid}/fd")
            except PermissionError:
                unreadable += 1
                continue
            except OSError:
                continue  # exited
            with fds:
                for fd_entry in fds:
                    _add_writer(found, pid, fd_entry)
        names: dict[int, str] = {}
        writers = {
            key: tuple(Holder(pid, _name(names, pid), fd, acc) for pid, fd, acc in holders)
            for key, holders in found.items()
        }
        return cls(writers, taken_at, unreadable)

    @classmethod
    def empty(cls) -> InUseSnapshot:
        """A snapshot that sees nothing in use (a job that does not check)."""
        return cls({}, time.monotonic(), 0)

    def holders(self, dev: int, ino: int) -> tuple[Holder, ...]:
        """Who has this file open for writing (empty if nobody did at ``taken_at``)."""
        return self._writers.get((dev, ino), ())

    def identities(self) -> frozenset[FileKey]:
        """The (st_dev, st_ino) of every file open for writing (a reader worker process
        leaves these to the in-process path, which applies the policy)."""
        keys = self._keys
        if keys is None:
            keys = self._keys = frozenset(self._writers)
        return keys

    @property
    def age_s(self) -> float:
        return time.monotonic() - self.taken_at

    def __len__(self) -> int:
        return len(self._writers)


def _add_writer(
    found: dict[FileKey, list[tuple[int, int, str]]], pid: int, fd_entry: os.DirEntry[str]
) -> None:
    try:
        if not os.readlink(fd_entry.path).startswith("/"):
            return
        fd = int(fd_entry.name)
        access = WRITE_ACCESS.get(_fd_flags(pid, fd) & os.O_ACCMODE)
        if access is None:
            return
        st = os.stat(fd_entry.path)
    except (OSError, ValueError):
        return  # the process or descriptor went away meanwhile
    if stat_mod.S_ISREG(st.st_mode):
        found.setdefault((st.st_dev, st.st_ino), []).append((pid, fd, access))


def _fd_flags(pid: int, fd: int) -> int:
    """The descriptor's open flags from ``/proc/PID/fdinfo/FD`` (octal, proc(5))."""
    info = os.open(f"{PROC}/{pid}/fdinfo/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        text = os.read(info, FDINFO_READ_LEN)
    finally:
        os.close(info)
    for line in text.splitlines():
        if line.startswith(FDINFO_FLAGS):
            return int(line[len(FDINFO_FLAGS) :].strip(), 8)
    raise ValueError(f"no flags line in fdinfo of pid {pid} fd {fd}")


def _name(cache: dict[int, str], pid: int) -> str:
    if pid not in cache:
        try:
            cache[pid] = psutil.Process(pid).name()
        except psutil.Error:
            cache[pid] = "?"
    return cache[pid]


class InUseMonitor:
    """The job's current snapshot, shared by reader threads, refreshed on demand.

    Thread-safe: ``current`` is one attribute read; ``refresh`` takes a lock so that several
    readers retrying at once cause one ``/proc`` pass, not one each.
    """

    def __init__(self, snapshot: InUseSnapshot | None = None) -> None:
        self.current = snapshot if snapshot is not None else InUseSnapshot.take()
        self._lock = threading.Lock()

    def holders(self, dev: int, ino: int) -> tuple[Holder, ...]:
        return self.current.holders(dev, ino)

    def refresh(self, max_age_s: float = 0.0) -> InUseSnapshot:
        """A snapshot no older than ``max_age_s``: the current one, or a new pass. May block
        for the pass (milliseconds per thousand descriptors)."""
        with self._lock:
            if self.current.age_s > max_age_s:
                self.current = InUseSnapshot.take()
            return self.current


def describe_holders(holders: tuple[Holder, ...]) -> str:
    """``pid 12 (python3, fd 3, write)`` joined, for the in-use sentence."""
    return ", ".join(str(h) for h in holders)
