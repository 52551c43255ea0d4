"""The pipeline's first two stages: scan (one thread) and read + checksum (reader threads).

The scan thread walks the source (scan.py), applies the backup level (levels.py, the catalog's
``BaseView``), and groups the items in tar order into ``Batch``es: up to ``batch_files``
items, ``batch_bytes`` of small-file data, ``STREAMED_PER_BATCH`` large files. Each batch goes
to two bounded queues: the readers' work queue and the format stage's order queue; the format
stage takes batches in order and waits for each to be prepared, so order is tar's whatever
thread prepared what, and at most ``depth`` batches are ahead of the formatter (flat memory).

A reader thread prepares every item of a batch off the formatting thread: ``lstat`` data into a
``Member`` with its xattrs/ACLs and link target; for a regular file, open + ``fstat`` under the
in-use policy (reader.py), then either the whole file read into the batch's page-aligned buffer
(small files: the formatter copies it into the record in one slice) or the open ``SourceFile``
(large files, streamed by the formatter straight into the records) or its data extents (sparse
files). Per-file problems go through ``on_item_error`` and stay attached to the item.

Why batches: a hand-off between threads costs tens of microseconds in Python; a batch of
up to 256 items (pipeline.DEFAULT_BATCH_FILES) pays it once.
"""

from __future__ import annotations

import contextlib
import os
import queue
import stat as stat_mod
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.backup.buffers import BufferPool
from engine.backup.exceptions import ItemErrorHandler, ItemException, from_os_error
from engine.backup.inuse import InUseMonitor
from engine.backup.read_worker import HEADER_ROOM, ReadWorker, Spec
from engine.backup.reader import NOATIME, OPEN_FLAGS, FileReader, SourceFile
from engine.backup.scan import FileEntry, Kind, PlainRun
from engine.catalog.files_model import Change, FileRow
from engine.child_process import ChildGone
from engine.format import sparse as sp
from engine.format.members import Member, member_from_stat, read_xattrs

STREAMED_PER_BATCH = 4
"""Large files per batch: each holds an open descriptor until formatted, so this times the
queue depth bounds the descriptors in flight."""
POLL_S = 0.2
"""How often a blocked stage looks at the stop flag."""


class Stopped(Exception):
    """The pipeline is stopping (a failure elsewhere, or cancellation)."""


@dataclass(slots=True)
class Item:
    """One thing for the format stage, in tar order."""

    entry: FileEntry | None
    name: bytes = b""
    change: Change | None = None
    member: Member | None = None
    st: os.stat_result | None = None
    source: SourceFile | None = None
    data: memoryview | None = None
    extents: list[sp.Extent] | None = None
    exceptions: list[ItemException] = field(default_factory=list)
    skipped: bool = False
    deletions: list[FileRow] | None = None
    small: bool = False
    worked: tuple[Any, ...] | None = None
    """Read by a worker process: its ``read_worker.Result`` (header, index line parts, row
    head); ``data`` holds the file and ``st`` is None."""
    late: bool = False
    """Not prepared yet: the format stage prepares it when it gets there (plain_runs.py)."""


class Batch:
    __slots__ = ("buffer", "done", "error", "fill", "items", "run", "streamed", "used")

    def __init__(self, buffer: memoryview | None, run: PlainRun | None = None) -> None:
        self.items: list[Item] = []
        self.run = run
        """A plain run, the batch's only content until a reader turns it into its items
        (plain_runs.py)."""
        self.buffer = buffer
        self.fill = 0
        """Bytes of small-file data the scan reserved."""
        self.used = 0
        """Bytes the readers took."""
        self.streamed = 0
        self.done = threading.Event()
        self.error: BaseException | None = None


class Flow:
    """Shared stop flag and the failure that set it (any stage's unexpected exception)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.stop.set()

    def put(self, q: queue.Queue[object], item: object) -> None:
        while True:
            if self.stop.is_set():
                raise Stopped
            try:
                q.put(item, timeout=POLL_S)
                return
            except queue.Full:
                continue

    def get(self, q: queue.Queue[object]) -> object:
        while True:
            if self.stop.is_set():
                raise Stopped
            try:
                return q.get(timeout=POLL_S)
            except queue.Empty:
                continue


class _Collector(threading.local):
    """Per reader thread: the exceptions of the file being opened."""

    current: list[ItemException] | None = None


class ReaderStage:
    """``count`` threads preparing batches from ``work`` (module docstring)."""

    def __init__(
        self,
        flow: Flow,
        work: queue.Queue[object],
        on_item_error: ItemErrorHandler,
        make_reader: Callable[[ItemErrorHandler], FileReader],
        *,
        count: int,
        xattrs: bool,
        acls: bool,
        detect_sparse: bool,
        all_times: bool = True,
        lean: InUseMonitor | bool = False,
        pool: BufferPool | None = None,
        workers_after: int | None = None,
    ) -> None:
        self.flow = flow
        self.pool = pool
        self.workers_after = workers_after if pool is not None and all_times else None
        """Small files the scan sent before the readers start worker processes (None: never;
        the lean path only: a test opener keeps everything in-process)."""
        self._small_seen = 0
        self._small_scanned = 0
        self._workers: list[ReadWorker | None] = [None] * count
        self._worker_failed = [False] * count
        self._workers_lock = threading.Lock()  # the starter thread sets them (``_start_all``)
        self._starting = False
        self.lean = lean is not False
        """Small files take ``_read_small`` (no SourceFile); off when a test opener is set."""
        self.monitor = lean if isinstance(lean, InUseMonitor) else None
        self._noatime = NOATIME
        self.work = work
        self.forward = on_item_error
        self._collect = _Collector()
        self.reader = make_reader(self._report)
        self.xattrs, self.acls = xattrs, acls
        self.detect_sparse = detect_sparse
        self.all_times = all_times
        self.threads = [
            threading.Thread(target=self._run, args=(i,), name=f"tapir-read-{i}", daemon=True)
            for i in range(count)
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join()
        with self._workers_lock:
            workers, self._workers = self._workers, [None] * len(self._workers)
            self._worker_failed = [True] * len(workers)  # none started after this
        for worker in workers:
            if worker is not None:
                worker.close()

    def _report(self, path: str, exc: ItemException) -> None:
        current = self._collect.current
        if current is not None:
            current.append(exc)
        self.forward(path, exc)

    def _run(self, index: int) -> None:
        try:
            while True:
                batch = self.flow.get(self.work)
                if batch is None:
                    return
                assert isinstance(batch, Batch)
                try:
                    self._prepare_batch(index, batch)
                except BaseException as exc:
                    batch.error = exc
                    self.flow.fail(exc)
                finally:
                    batch.done.set()
        except Stopped:
            return

    def _prepare_batch(self, index: int, batch: Batch) -> None:
        if self.workers_after is not None and self.lean:
            self._by_worker(index, batch)
        for item in batch.items:
            if item.entry is not None and item.member is None and item.worked is None:
                self.prepare(item, batch)

    # -- plain small files through a worker process (read_worker.py) ----------------------

    def scanned_small(self, count: int) -> None:
        """The scan found ``count`` more small files (or names of a plain run, counted as
        soon as the directory is listed). Once they are more than ``workers_after``, the
        worker processes are started (``_start_workers``) while the readers take their
        first files in-process. Scan thread."""
        if self.workers_after is None or not self.lean or self.pool is None:
            return
        before = self._small_scanned
        self._small_scanned = before + count
        if before <= self.workers_after < self._small_scanned:
            self._start_workers()

    def _start_workers(self) -> None:
        """Start every worker from a thread of its own: neither the scan nor a reader waits
        for one (a fork from the helpers' fork server is quick, but the server may still be
        importing: ~0.1 s after the backup started). Each reader sends its files to its
        worker from the moment it runs, in-process until then (``_ready_worker``)."""
        with self._workers_lock:
            if self._starting:
                return
            self._starting = True
        starter = threading.Thread(target=self._start_all, name="tapir-worker-start", daemon=True)
        starter.start()

    def _start_all(self) -> None:
        for index in range(len(self._workers)):
            with self._workers_lock:
                if self._workers[index] is not None or self._worker_failed[index]:
                    continue  # ``join`` marks them all failed: none starts after it
                assert self.pool is not None
                try:
                    self._workers[index] = ReadWorker(self.pool.fd, xattrs=self.xattrs or self.acls)
                except OSError:
                    self._worker_failed[index] = True

    def _ready_worker(self, index: int, small: int) -> ReadWorker | None:
        """This reader's worker if it runs, else None: the reader takes its ``small`` files
        in-process. The workers are started here too when the readers, not the scan, are
        the first to count more than ``workers_after`` small files."""
        worker = self._workers[index]
        if worker is None and not self._starting:
            self._small_seen += small
            if self._small_seen > self.workers_after:  # type: ignore[operator]
                self._start_workers()
        return worker

    def _by_worker(self, index: int, batch: Batch) -> None:
        """Send the batch's plain small files to this thread's worker; what it could not
        take (``None``) stays for ``prepare``."""
        buffer, pool = batch.buffer, self.pool
        if buffer is None or pool is None:
            return
        chosen = [i for i in batch.items if i.small and i.entry is not None and not i.exceptions]
        worker = self._ready_worker(index, len(chosen))
        if worker is None or not chosen:
            return
        base, at, room = pool.offset(buffer), batch.used, len(buffer)
        monitor = self.monitor
        specs: list[Spec] = []
        placed: list[tuple[Item, int, int]] = []
        for item in chosen:
            st = item.entry.st  # type: ignore[union-attr]
            size = st.st_size
            need = HEADER_ROOM + size + (-size % 512)
            if at + need > room or (monitor is not None and monitor.holders(st.st_dev, st.st_ino)):
                continue
            data_at = at + HEADER_ROOM
            path, name, change = item.entry.path, item.name, item.change  # type: ignore[union-attr]
            ids = (st.st_dev, st.st_ino, size, st.st_mtime_ns, st.st_ctime_ns)
            specs.append((path, name, *ids, base + data_at, change))
            placed.append((item, data_at, size))
            at += need
        if not specs:
            return
        try:
            results = worker.run(specs)
        except ChildGone:
            self._workers[index] = None
            self._worker_failed[index] = True
            with contextlib.suppress(OSError):
                worker.close()
            return
        batch.used = at  # the space of files the worker gave back stays unused
        for (item, start, size), result in zip(placed, results, strict=True):
            if result is not None:
                header = result[0]
                if type(header) is int:  # written before the data: the whole member's view
                    result[0] = buffer[start - header : start + size + (-size % 512)]
                item.worked = result
                item.data = buffer[start : start + size]

    # -- one item ------------------------------------------------------------------------

    def prepare(self, item: Item, batch: Batch) -> None:
        entry = item.entry
        assert entry is not None
        if entry.kind is Kind.FILE:
            self._open(item, batch)
            if item.skipped:
                return
        else:
            item.st = entry.st
        item.member = member = member_from_stat(item.name, item.st)  # type: ignore[arg-type]
        if not self.all_times:
            member.atime_ns = member.ctime_ns = None
        if entry.kind is Kind.SYMLINK and entry.link_target is not None:
            member.linkname = os.fsencode(entry.link_target)
        if self.xattrs or self.acls:
            try:
                read_xattrs(os.fsencode(entry.path), member, with_acls=self.acls)
            except OSError as exc:
                self._skip(item, from_os_error(entry.path, exc))
                return
            if not self.xattrs:
                member.xattrs.clear()

    def _skip(self, item: Item, exc: ItemException) -> None:
        if item.source is not None:
            item.source.close()
            item.source = None
        item.data = None
        item.skipped = True
        item.exceptions.append(exc)
        self.forward(exc.path, exc)

    def _read_small(self, item: Item, batch: Batch) -> bool:
        """The lean path of a plain small file: open, fstat, one readv into the batch buffer,
        fstat, close, with no objects built. False (nothing kept) on anything unusual: in
        use, changed since the scan, short read, error; ``_open`` then takes the file through
        reader.py, which reports the problem."""
        entry = item.entry
        assert entry is not None and batch.buffer is not None
        scanned = entry.st
        if self.monitor is not None and self.monitor.holders(scanned.st_dev, scanned.st_ino):
            return False
        try:
            fd = os.open(entry.path, OPEN_FLAGS | self._noatime)
        except PermissionError:
            if not self._noatime:
                return False
            self._noatime = 0  # not the owner: O_NOATIME refused (reader.py open_source)
            return self._read_small(item, batch)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            size = st.st_size
            if (
                st.st_ino != scanned.st_ino
                or st.st_dev != scanned.st_dev
                or size != scanned.st_size
                or st.st_mtime_ns != scanned.st_mtime_ns
                or st.st_ctime_ns != scanned.st_ctime_ns
                or not stat_mod.S_ISREG(st.st_mode)
                or batch.used + size > len(batch.buffer)
            ):
                return False
            view = batch.buffer[batch.used : batch.used + size]
            if size and os.readv(fd, (view,)) != size:
                return False
            after = os.fstat(fd)
            if after.st_mtime_ns != st.st_mtime_ns or after.st_ctime_ns != st.st_ctime_ns:
                return False
        except OSError:
            return False
        finally:
            os.close(fd)
        batch.used += size
        item.data, item.st = view, st
        return True

    def _open(self, item: Item, batch: Batch) -> None:
        entry = item.entry
        assert entry is not None
        if item.small and self.lean and batch.buffer is not None and self._read_small(item, batch):
            return
        self._collect.current = item.exceptions
        try:
            src = self.reader.open(entry)
        finally:
            self._collect.current = None
        if src is None:
            item.skipped = True
            return
        st = item.st = src.stat
        if self.detect_sparse and sp.looks_sparse(st):
            try:
                extents = sp.data_extents(src.fileno(), st.st_size)
            except OSError:
                extents = None
            if extents is not None:
                item.source, item.extents = src, extents
                return
        size = src.size
        buffer = batch.buffer
        if item.small and buffer is not None and batch.used + size <= len(buffer):
            view = buffer[batch.used : batch.used + size]
            batch.used += size
            with src:
                src.readinto(view)
                outcome = src.finish()
            item.data = view
            item.exceptions[:] = outcome.exceptions
            return
        item.source = src


def arcname(entry: FileEntry) -> bytes:
    """The member name: the path relative to the source; the source itself is ``.`` when it
    is a directory, else its own base name."""
    if entry.relpath != ".":
        return os.fsencode(entry.relpath)
    if entry.kind is Kind.DIRECTORY:
        return b"."
    return os.path.basename(os.fsencode(entry.path))
