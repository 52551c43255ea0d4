"""Read stage: read a regular file into the caller's buffers, checksum it, report its problems.

The consumer (the pax writer, engine/format) owns page-aligned record buffers and asks for file
data straight into them, so file bytes are copied once, by the kernel (BASELINES.md: ``readinto``
a reused page-aligned buffer runs at page-cache speed; ``bytes`` copies and large unaligned
``bytearray`` targets do not)::

    src = reader.open(entry)          # None: skipped, already reported
    if src is not None:
        with src:
            header(src.stat)          # fstat at open: fresher than the scan's lstat
            while src.remaining:
                n = src.readinto(record_view[pos:])   # always fills min(len, remaining)
                ...
            outcome = src.finish()    # checksum, exceptions (also reported via on_item_error)

``readinto`` always delivers exactly ``min(len(view), remaining)`` bytes: after a read error or
an early end of file (the file shrank) it writes zeros for the rest, so the member keeps the size
its header announced and the archive stays valid. The checksum (xxh3-128, 49 GB/s on one core,
GIL released) covers the member data as stored, zeros included, so verify compares like with like.

Problems, each an :class:`ItemException` through ``on_item_error`` (exceptions.py):
- before opening: open for writing by another process (inuse.py), under the job's
  :class:`InUsePolicy` (retry with a refreshed snapshot, then flag or skip);
- at open: vanished, permission denied, replaced by a symlink or another type (skipped), or
  size/mtime/ctime/inode moved since the scan (``changed_since_scan``: flagged, or skipped by
  the SKIP policy);
- while reading: a read error (``read_error``, corrupted, with the offset of the first byte not
  read) and a size/mtime/ctime move between the open's ``fstat`` and the one after the read, or
  an early end of file (``changed_while_reading``, always stored and flagged: its bytes are
  already in the archive).

The one seam: ``opener`` (default :func:`open_source`) turns a path into a :class:`RawFile`
(``readinto``/``fileno``/``close``). Tests pass an opener whose file raises ``EIO`` at a chosen
offset, because no real mechanism gives one here (no FUSE, no device-mapper ``error`` target in
CI); the reader's own loop, zero-fill and reporting run unchanged.

Threads: a :class:`FileReader` may be shared by several reader threads (it keeps no per-file
state); a :class:`SourceFile` belongs to one thread at a time.
"""

from __future__ import annotations

import errno
import mmap
import os
import stat as stat_mod
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import xxhash

from engine.backup.exceptions import (
    InUseAction,
    InUsePolicy,
    ItemErrorHandler,
    ItemException,
    Reason,
    describe_errno,
    from_os_error,
)
from engine.backup.inuse import Holder, InUseMonitor, describe_holders
from engine.backup.scan import FileEntry, Kind, kind_of

PAGE_SIZE = mmap.PAGESIZE
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
"""``O_NOFOLLOW``: a path swapped for a symlink after the scan fails (ELOOP) instead of being
followed; ``O_NONBLOCK``: a path swapped for a FIFO never blocks the reader."""
NOATIME = getattr(os, "O_NOATIME", 0)
"""Reading for backup should not touch atime; allowed only to the owner or root (EPERM else)."""


def aligned_buffer(size: int) -> mmap.mmap:
    """An anonymous, page-aligned, zeroed buffer of at least ``size`` bytes (whole pages)."""
    pages = max(1, -(-size // PAGE_SIZE))
    return mmap.mmap(-1, pages * PAGE_SIZE)


class RawFile(Protocol):
    """What an opener returns: a file read with ``readinto`` (short reads allowed)."""

    def readinto(self, buffer: memoryview) -> int: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...


class FdFile:
    """The default :class:`RawFile`: a bare descriptor read with ``readv`` (no ``FileIO``, whose
    constructor costs one more ``fstat`` per file)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def readinto(self, buffer: memoryview) -> int:
        return os.readv(self.fd, (buffer,))

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def open_source(path: str) -> FdFile:
    """Open for backup reading: no symlink following, no blocking, no atime update if allowed."""
    if NOATIME:
        try:
            return FdFile(os.open(path, OPEN_FLAGS | NOATIME))
        except PermissionError:
            pass  # not the owner: O_NOATIME is refused, plain read access may not be
    return FdFile(os.open(path, OPEN_FLAGS))


Opener = Callable[[str], RawFile]


@dataclass(frozen=True, slots=True)
class ReadOutcome:
    """What :meth:`SourceFile.finish` found; the writer's index and the catalog record it."""

    digest: bytes
    """xxh3-128 of the member data as stored (zeros after a read error included)."""
    size: int
    stat_after: os.stat_result | None
    exceptions: tuple[ItemException, ...]
    """Every item exception of this file, those reported at open included (in use, changed
    since the scan); the writer marks the index entry with them."""
    corrupted_offset: int | None
    """Offset of the first byte not read after a read error, else ``None``."""

    @property
    def clean(self) -> bool:
        return not self.exceptions


def _moved(before: os.stat_result, after: os.stat_result, *, identity: bool) -> list[str]:
    """Names of what changed between two stats of the same file (for the reason sentence)."""
    moved = []
    if identity and (before.st_ino != after.st_ino or before.st_dev != after.st_dev):
        moved.append("inode")
    if before.st_size != after.st_size:
        moved.append("size")
    if before.st_mtime_ns != after.st_mtime_ns:
        moved.append("mtime")
    if before.st_ctime_ns != after.st_ctime_ns:
        moved.append("ctime")
    return moved


class SourceFile:
    """One open regular file being streamed into the caller's buffers (module docstring)."""

    def __init__(
        self,
        entry: FileEntry,
        raw: RawFile,
        st: os.stat_result,
        exceptions: list[ItemException],
        report: ItemErrorHandler,
    ) -> None:
        self.entry = entry
        self.stat = st
        """``fstat`` at open: make the header from this."""
        self.size = st.st_size
        """Member data size: what ``readinto`` will deliver in total."""
        self.remaining = st.st_size
        self.exceptions = exceptions
        self._raw: RawFile | None = raw
        self._report = report
        self._hash = xxhash.xxh3_128()
        self._offset = 0
        self._error: tuple[int, OSError] | None = None
        self._short_at: int | None = None

    def readinto(self, view: memoryview) -> int:
        """Fill ``view[:min(len(view), remaining)]`` and return that count (0 once done).

        Blocks on disk I/O (GIL released). Never raises for file problems: they are recorded
        and reported by :meth:`finish`; the bytes that could not be read are zeros.
        """
        want = min(len(view), self.remaining)
        if want == 0:
            return 0
        if self._raw is None:
            raise RuntimeError(f"{self.entry.path}: readinto() after close()")
        target = view[:want] if want < len(view) else view
        got = 0
        if self._error is None and self._short_at is None:
            raw = self._raw
            while got < want:
                try:
                    n = raw.readinto(target[got:])
                except OSError as exc:
                    self._error = (self._offset + got, exc)
                    break
                if not n:
                    self._short_at = self._offset + got
                    break
                got += n
        if got < want:
            target[got:] = bytes(want - got)
        self._hash.update(target)
        self._offset += want
        self.remaining -= want
        return want

    def finish(self) -> ReadOutcome:
        """Check for changes, close, report this read's exceptions; call once, after the last
        byte. Raises ``RuntimeError`` if bytes remain (use :meth:`close` to abandon a file)."""
        if self.remaining:
            raise RuntimeError(f"{self.entry.path}: finish() with {self.remaining} bytes unread")
        if self._raw is None:
            raise RuntimeError(f"{self.entry.path}: finish() after close()")
        path = self.entry.path
        after: os.stat_result | None = None
        try:
            after = os.fstat(self._raw.fileno())
        except OSError:
            after = None
        finally:
            self.close()
        corrupted = None
        if self._error is not None:
            corrupted, exc = self._error
            self._add(
                ItemException(
                    Reason.READ_ERROR,
                    path,
                    offset=corrupted,
                    stored=True,
                    error=describe_errno(exc),
                    errno=exc.errno,
                )
            )
        moved = _moved(self.stat, after, identity=False) if after is not None else []
        if self._short_at is not None and "size" not in moved:
            moved.insert(0, "size")
        if moved:
            self._add(
                ItemException(
                    Reason.CHANGED_WHILE_READING, path, stored=True, moved=", ".join(moved)
                )
            )
        return ReadOutcome(self._hash.digest(), self.size, after, tuple(self.exceptions), corrupted)

    def fileno(self) -> int:
        """The open descriptor (sparse files: the writer seeks it from extent to extent)."""
        if self._raw is None:
            raise RuntimeError(f"{self.entry.path}: fileno() after close()")
        return self._raw.fileno()

    def close(self) -> None:
        """Close without checking or reporting (cancellation, or after ``finish``). Idempotent."""
        if self._raw is not None:
            raw, self._raw = self._raw, None
            raw.close()

    def _add(self, exc: ItemException) -> None:
        self.exceptions.append(exc)
        self._report(exc.path, exc)

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class FileReader:
    """Opens scanned regular files for the read stage under the job's in-use policy.

    ``in_use`` is the job's :class:`InUseMonitor` (``None``: no in-use check). ``sleep`` is the
    wait between in-use retries (``time.sleep``; a job passes one that wakes on cancellation).
    """

    def __init__(
        self,
        on_item_error: ItemErrorHandler,
        *,
        in_use: InUseMonitor | None = None,
        policy: InUsePolicy | None = None,
        opener: Opener = open_source,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.on_item_error = on_item_error
        self.in_use = in_use
        self.policy = policy or InUsePolicy()
        self.opener = opener
        self.sleep = sleep

    def open(self, entry: FileEntry) -> SourceFile | None:
        """Open ``entry`` for streaming, or report why not and return ``None``.

        Only regular files: FIFOs and devices are recorded from their metadata and never
        opened (``ValueError`` if asked). May block for in-use retries.
        """
        if entry.kind is not Kind.FILE:
            raise ValueError(f"{entry.path}: only regular files are read, not {entry.kind.value}")
        skip = self.policy.action is InUseAction.SKIP
        flagged: list[ItemException] = []
        holders = self._holders(entry)
        if holders:
            exc = ItemException(
                Reason.OPEN_FOR_WRITING,
                entry.path,
                stored=not skip,
                holders=describe_holders(holders),
                pids=tuple(h.pid for h in holders),
            )
            self._report(exc)
            if skip:
                return None
            flagged.append(exc)
        try:
            raw = self.opener(entry.path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self._report(ItemException(Reason.REPLACED, entry.path, now="symlink"))
            else:
                self._report(from_os_error(entry.path, exc))
            return None
        try:
            st = os.fstat(raw.fileno())
        except OSError as exc:
            raw.close()
            self._report(from_os_error(entry.path, exc))
            return None
        if not stat_mod.S_ISREG(st.st_mode):
            raw.close()
            now = kind_of(st.st_mode).value
            self._report(ItemException(Reason.REPLACED, entry.path, now=now))
            return None
        moved = _moved(entry.st, st, identity=True)
        if moved:
            exc = ItemException(
                Reason.CHANGED_SINCE_SCAN, entry.path, stored=not skip, moved=", ".join(moved)
            )
            self._report(exc)
            if skip:
                raw.close()
                return None
            flagged.append(exc)
        return SourceFile(entry, raw, st, flagged, self.on_item_error)

    def checksum(self, entry: FileEntry, buffer: memoryview) -> ReadOutcome | None:
        """Read a whole file through ``buffer`` (reused) and return its outcome; for verify
        and benchmarks, where nothing consumes the bytes."""
        src = self.open(entry)
        if src is None:
            return None
        with src:
            while src.readinto(buffer):
                pass
            return src.finish()

    def _holders(self, entry: FileEntry) -> tuple[Holder, ...]:
        """Who holds the file open for writing after the policy's retries."""
        if self.in_use is None:
            return ()
        dev, ino = entry.identity
        holders = self.in_use.holders(dev, ino)
        policy = self.policy
        for _ in range(policy.retries):
            if not holders:
                break
            self.sleep(policy.retry_delay_s)
            holders = self.in_use.refresh(max_age_s=policy.retry_delay_s).holders(dev, ino)
        return holders

    def _report(self, exc: ItemException) -> None:
        self.on_item_error(exc.path, exc)
