"""The backup pipeline: scan -> read + checksum -> format -> write -> catalog (shared/STYLE.md
"a bounded pipeline that reports, never aborts, on one file").

Threads and queues (each bound is a default of ``PipelineOptions`` with its reason):
- scan (scan_stage.py): walks the tree, applies the level, cuts batches in tar order; in a
  full backup a directory's regular files come as plain runs of names (scan.PlainRun);
- readers (stages.py): open/fstat/read/close and xattr listing, off the formatting thread;
  a plain run goes to the reader's worker process whole, which lays out its small files'
  members in the batch buffer (plain_runs.py, read_worker.py);
- format: the calling thread; takes batches in order and turns items into pax members
  (engine/format ``ArchiveWriter``), keeps each member's catalog row, runs checkpoints;
- write (write_stage.py): hands records to the target's volumes while the next is formatted;
- catalog (checkpoint.py): commits rows after each checkpoint's flush, never before (with a
  ``staging`` catalog it inserts them, invisible, as they come, and publishes them there).

Failures: a file's problem is an ``ItemException`` through ``on_item_error`` and on its row
and index entry; the run goes on. A device, target or catalog failure stops every stage and
is raised from ``run`` unchanged (a job-level event). Rows sealed by a checkpoint before the
failure are committed (their records were flushed); nothing later is.
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.backup import stages as st_
from engine.backup.buffers import BufferPool
from engine.backup.checkpoint import CatalogStage, Checkpoints, Commit, Staging
from engine.backup.exceptions import (
    InUsePolicy,
    ItemErrorHandler,
    ItemException,
)
from engine.backup.format_stage import Counters, FormatStage
from engine.backup.inuse import InUseMonitor
from engine.backup.levels import LevelFilter
from engine.backup.plain_runs import RunLength, RunReaderStage
from engine.backup.reader import FileReader, Opener, open_source
from engine.backup.scan import Scanner, ScanOptions
from engine.backup.scan_stage import ScanStage
from engine.backup.stages import Flow, Stopped
from engine.backup.targets import SessionVolumes
from engine.backup.write_stage import DEFAULT_DEPTH as WRITE_DEPTH
from engine.backup.write_stage import WriteStage
from engine.format.records import DEFAULT_RECORD_SIZE
from engine.format.writer import ArchiveWriter, SessionSummary

GIB = 1 << 30
DEFAULT_CHECKPOINT_BYTES = 16 * GIB
"""~45 s of LTO-8 streaming (360 MB/s): the reposition a flush costs (~2.5 s: the drive stops
and starts again) keeps a modeled LTO-8/9 drive above 95% of its native rate, the smallest
such interval (bench/checkpoint_streaming.py); a failure costs at most that much re-written."""
DEFAULT_CHECKPOINT_SECONDS = 600.0
"""Bounds what a failure costs when the source is slow (many small files, a busy disk)."""
DEFAULT_READERS = 2
"""File I/O releases the GIL, so two readers keep opens and reads ahead of the formatter on
two cores; more only contend for the GIL on the per-file Python work."""
DEFAULT_BATCH_FILES = 256
"""Amortises what a batch costs over many small files: thread hand-offs (tens of us each)
and, per batch a reader worker takes, one pipe round trip whose ends wait for the GIL of this
process's reader thread. Measured on the small-files bench (alternated runs, 2 CPUs): 64 files
per batch 1.53 s, 256 1.45 s, 512 1.48 s (more memory for nothing)."""
DEFAULT_BATCH_BYTES = 4 << 20
"""Small-file data read ahead per batch (~256 files of up to 16 KiB); times the buffer count
(``depth`` + readers + 1) it bounds read-ahead memory: 44 MiB."""
BATCHES_PER_CHECKPOINT = 4
"""Batches a checkpoint interval holds at least: checkpoints and stop requests are looked at
between batches, so a batch is kept to a quarter of ``checkpoint_bytes`` (a small interval, as
the tests and a slow link set, is not stretched to a whole 4 MiB batch)."""
DEFAULT_SMALL_FILE = 64 << 10
"""Read whole by a reader thread; larger files stream straight into the records."""
LEAST_BATCH_BYTES = DEFAULT_SMALL_FILE
"""However small the checkpoint interval, a batch buffer holds a whole small file: the
interval is then stretched by one batch at most."""
DEFAULT_WORKERS_AFTER = 2_000
"""Small files listed before the worker processes are started (read_worker.py): a worker
is a fork of the helpers' fork server (a few ms; engine/fork_server.py) or, without one, a
process start (~0.1 s), which pays off over thousands of files, not over a few. The readers
go on in-process until their worker runs."""
RUN_NAMES = 1024
"""Most names the scan lists into one plain run (scan.PlainRun); the scan stage cuts it into
batches of ``RunLength`` names."""
DEFAULT_DEPTH = 8
"""Batches ahead of the formatter: every reader has work while the formatter does a batch."""
PROGRESS_S = 0.5
"""How often the progress callback is called (the CLI redraws at that pace)."""


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """The objects alive when the backup starts (modules, the catalog's metadata, ...) are
    left out of the garbage collector's full passes while it runs: measured, one full pass
    over them took ~50 ms in a 2 s backup of 100,000 small files, with the GIL held, so
    every stage of this process stopped for it. They are handed back afterwards (a cycle
    among them that became garbage is collected then)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    record_size: int = DEFAULT_RECORD_SIZE
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    one_file_system: bool = False
    in_use_check: bool = True
    in_use_policy: InUsePolicy = field(default_factory=InUsePolicy)
    checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    readers: int = DEFAULT_READERS
    batch_files: int = DEFAULT_BATCH_FILES
    batch_bytes: int = DEFAULT_BATCH_BYTES
    small_file: int = DEFAULT_SMALL_FILE
    depth: int = DEFAULT_DEPTH
    workers_after: int | None = DEFAULT_WORKERS_AFTER
    """None: small files are read by the reader threads only."""
    write_depth: int = WRITE_DEPTH
    xattrs: bool = True
    acls: bool = True
    detect_sparse: bool = True
    opener: Opener = open_source
    """Test seam (reader.py): e.g. a file raising EIO at a chosen offset."""
    should_stop: Callable[[], bool | str] | None = None
    """Polled right after each checkpoint (format thread; must not block): True (or a reason,
    e.g. "Preempted by job 9.") ends the run there, cleanly: the items already formatted are
    written, the session ends (index, filemark, flush) and is committed, and nothing more is
    read (``PipelineResult.stopped``, ``stop_reason``)."""


@dataclass(frozen=True, slots=True)
class Progress:
    files: int
    bytes: int
    rate: float
    """Bytes per second since the start."""
    volume: str
    device: str
    exceptions: int
    elapsed_s: float


@dataclass(frozen=True)
class PipelineResult:
    summary: SessionSummary
    counters: Counters
    stopped: bool = False
    """Ended early by ``PipelineOptions.should_stop`` at a checkpoint."""
    stop_reason: str | None = None


class Pipeline:
    def __init__(
        self,
        source: str | os.PathLike[str],
        volumes: SessionVolumes,
        options: PipelineOptions | None = None,
        *,
        on_item_error: ItemErrorHandler,
        commit: Commit | None = None,
        commit_tuples: bool = False,
        staging: Staging | None = None,
        session: dict[str, Any] | None = None,
        level: LevelFilter | None = None,
        view: object | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.options = opts = options or PipelineOptions()
        self.volumes = volumes
        self.forward = on_item_error
        self.counters = Counters()
        self._report_lock = threading.Lock()
        self.progress = progress
        self.flow = Flow()
        runs = level is None and view is None and opts.opener is open_source
        scan_opts = ScanOptions(
            opts.includes, opts.excludes, opts.one_file_system, runs=RUN_NAMES if runs else 0
        )
        self.scanner = Scanner(source, scan_opts)
        self.root = os.fsencode(self.scanner.root)
        batch_bytes = max(
            LEAST_BATCH_BYTES,
            min(opts.batch_bytes, opts.checkpoint_bytes // BATCHES_PER_CHECKPOINT),
        )
        self.pool = BufferPool(opts.depth + opts.readers + 1, batch_bytes)
        small_file = min(opts.small_file, batch_bytes)
        run_length = RunLength(opts.batch_files, batch_bytes, st_.STREAMED_PER_BATCH)
        self.order: queue.Queue[object] = queue.Queue(opts.depth)
        self.work: queue.Queue[object] = queue.Queue(opts.depth)
        monitor = InUseMonitor() if opts.in_use_check else None
        self.readers = RunReaderStage(
            self.flow,
            self.work,
            self._report,
            lambda cb: FileReader(
                cb, in_use=monitor, policy=opts.in_use_policy, opener=opts.opener
            ),
            count=opts.readers,
            xattrs=opts.xattrs,
            acls=opts.acls,
            detect_sparse=opts.detect_sparse,
            lean=(monitor or True) if opts.opener is open_source else False,
            pool=self.pool,
            workers_after=opts.workers_after,
            small_file=small_file,
            run_length=run_length,
        )
        self.scan = ScanStage(
            self.flow,
            self.scanner,
            self.order,
            self.work,
            self.pool,
            readers=opts.readers,
            batch_files=opts.batch_files,
            small_file=small_file,
            streamed_per_batch=st_.STREAMED_PER_BATCH,
            on_item_error=self._report,
            level=level,
            view=view,
            run_length=run_length if runs else None,
            on_small=self.readers.scanned_small,
        )
        self.write = WriteStage(volumes, opts.record_size, opts.write_depth)
        self.catalog = CatalogStage(commit, raw=commit_tuples, staging=staging)
        self.checkpoints = Checkpoints(
            opts.checkpoint_bytes, opts.checkpoint_seconds, self.write.flush, self.catalog
        )
        self.writer = ArchiveWriter(
            self.write,
            record_size=opts.record_size,
            session=session or {},
            xattrs=opts.xattrs,
            acls=opts.acls,
            detect_sparse=opts.detect_sparse,
        )
        unbuffered = st_.Batch(None)
        self.items = FormatStage(
            self.writer,
            self.checkpoints.pending,
            self.counters,
            self._report,
            self.root,
            prepare_late=lambda item: self.readers.prepare(item, unbuffered),
        )
        self._started = time.monotonic()
        self._next_progress = 0.0
        self.stopped = False
        self.stop_reason: str | None = None

    def _report(self, path: str, exc: ItemException) -> None:
        with self._report_lock:  # scan and reader threads report concurrently
            self.counters.exceptions += 1
        self.forward(path, exc)

    # -- the run -------------------------------------------------------------------------

    def run(self) -> PipelineResult:
        """Back the source up into the volumes; raises the first job-level failure."""
        with _frozen_heap():
            return self._run()

    def _run(self) -> PipelineResult:
        scan_thread = threading.Thread(target=self.scan.run, name="tapir-scan", daemon=True)
        self.write.start()
        scan_thread.start()
        self.readers.start()
        try:
            self._format()
            if self.stopped:
                self._stop_reading(scan_thread)
            summary = self.writer.close()
            self.write.drain()
            self.volumes.finish()
            self.catalog.submit(self.checkpoints.pending.cut((1 << 62, 0)))
            self.catalog.close()
        except BaseException as exc:
            self.flow.fail(exc)
            self._abandon()
            raise
        finally:
            self.flow.stop.set()
            scan_thread.join()
            self.readers.join()
            self.pool.close()
            self.write.close()
        c = self.counters
        c.unchanged = self.scan.counts.unchanged
        c.deleted = self.scan.counts.deleted
        c.added, c.changed = self.scan.counts.added, self.scan.counts.changed
        c.excluded = self.scanner.stats.excluded
        c.checkpoints = self.checkpoints.count + 1
        c.rows = self.catalog.committed
        c.volumes = summary.volumes
        self._tick(force=True)
        return PipelineResult(summary, c, stopped=self.stopped, stop_reason=self.stop_reason)

    def _stop_reading(self, scan_thread: threading.Thread) -> None:
        """A stop at a checkpoint: the scan and reader threads end, and the batches they had
        prepared ahead are dropped (their open files closed); nothing of them was written."""
        self.flow.stop.set()
        scan_thread.join()
        self.readers.join()
        self._drop_queued()

    def _drop_queued(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                batch = self.order.get_nowait()
                if isinstance(batch, st_.Batch):
                    batch.done.wait(1.0)
                    for item in batch.items:
                        if isinstance(item, st_.Item) and item.source is not None:
                            item.source.close()

    def _abandon(self) -> None:
        """After a job-level failure: close what readers opened, end the partial part,
        commit what earlier checkpoints sealed (flushed before the failure)."""
        self._drop_queued()
        with contextlib.suppress(Exception):
            self.write.close()
        with contextlib.suppress(Exception):
            self.volumes.abort()
        with contextlib.suppress(Exception):
            self.catalog.close()

    def _format(self) -> None:
        flow = self.flow
        while True:
            try:
                batch = flow.get(self.order)
            except Stopped:
                raise flow.error or Stopped() from None
            if batch is None:
                return
            assert isinstance(batch, st_.Batch)
            while not batch.done.wait(st_.POLL_S):
                if flow.stop.is_set():
                    raise flow.error or Stopped()
            if batch.error is not None:
                raise batch.error
            self.items.add_batch(batch.items)
            if batch.buffer is not None:
                self.pool.give(batch.buffer)
            if self.checkpoints.due(self.counters.bytes):
                self.checkpoints.run(self.items.covered(), self.counters.bytes)
                stop = self.options.should_stop
                verdict = stop() if stop is not None else False
                if verdict:
                    self.stopped = True
                    self.stop_reason = verdict if isinstance(verdict, str) else None
                    return
            self.write.check()
            if time.monotonic() >= self._next_progress:
                self._tick()

    def _tick(self, force: bool = False) -> None:
        self._next_progress = time.monotonic() + PROGRESS_S
        if self.progress is None:
            return
        elapsed = max(time.monotonic() - self._started, 1e-9)
        c = self.counters
        self.progress(
            Progress(
                c.files,
                c.bytes,
                c.bytes / elapsed,
                self.volumes.volume,
                self.volumes.device,
                c.exceptions,
                elapsed,
            )
        )
