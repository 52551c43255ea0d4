"""Plain runs in the reader stage: a directory's regular files read as one request.

A full backup's scan lists names without ``lstat``-ing the regular files (scan.PlainRun); the
scan stage gives each run a batch of its own (as many names as the batch buffer holds at the
sizes seen so far, ``RunLength``). A reader thread sends the run to its worker process
(read_worker.py), one run ahead of the answer it takes (``RunReaderStage._run``), and the
worker opens, reads and lays out the members of the plain small files back to back in the
batch buffer; the batch's items become, in walk order:

- a ``LaidRun`` per stretch of members the worker laid out one after the other (their bytes
  as one view, and per member the worker's ``RunMember``: lengths, index line halves, catalog
  row head, atime): the format stage copies the stretch into the records a record's worth at
  a time and completes each line and row with its position, with no object built per file;
- an ``Item`` for every other name, ``lstat``-ed here as the walk would have
  (scan.entry_at): read now into the buffer when it is small and there is room, else marked
  ``late``: the format stage opens it when it gets there, so a run of large files holds one
  descriptor, not one each; a name that vanished or turned into a socket is reported here
  and kept as a skipped note, as the scan stage keeps its own reports.

Why (issue 4 "Speed"): per file, the backup process did a scandir entry, an ``lstat``, an
entry and an item object, a spec tuple for the worker and an item update after it, all under
one GIL: more than half of its time on the small-files bench. Per run it now does one request
and one tuple per file.

Before the readers start their workers (``ReaderStage.workers_after``), or when a worker is gone
or a test opener is set, every name takes the in-process path.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
from typing import TYPE_CHECKING, Any, NamedTuple

from engine.backup.exceptions import ItemException
from engine.backup.read_worker import ReadWorker, RunRequest, RunStretch
from engine.backup.rows import row_head
from engine.backup.scan import Kind, PlainRun, entry_at
from engine.backup.stages import Batch, Item, ReaderStage, Stopped
from engine.child_process import ChildGone
from engine.format import sparse as sp
from engine.format.index import template_parts

if TYPE_CHECKING:
    from engine.backup.inuse import InUseMonitor

Laid = tuple[memoryview, memoryview, str, str, tuple[object, ...], int]
"""One laid-out member on its own: (member: header, data and padding; data; index line head;
tail; catalog row head; atime_ns)."""


class LaidRun:
    """Members a worker laid out back to back (read_worker ``RunStretch``): ``view`` holds
    them all, in order; per member its length, header length, file size and atime; their
    index lines as one template text; ``blob`` their catalog row heads, pickled by the
    worker."""

    __slots__ = (
        "_heads", "_lines", "atimes", "blob", "headers", "lengths", "lines", "sizes", "view",
    )  # fmt: skip

    def __init__(self, view: memoryview, stretch: RunStretch) -> None:
        _, self.lengths, self.headers, self.sizes, self.atimes, self.lines, self.blob = stretch
        self.view = view
        self._heads: list[tuple[Any, ...]] | None = None
        self._lines: list[str] | None = None

    def heads(self) -> list[tuple[Any, ...]]:
        """The staged row heads (``rows.staged_row_head``), unpickled (only when a member
        takes a slower path)."""
        if self._heads is None:
            self._heads = pickle.loads(self.blob)
            if len(self._heads) != len(self.lengths):
                raise ValueError("a laid run's rows and members differ in number")
        return self._heads

    def laid(self, index: int, at: int) -> Laid:
        """Member ``index``, which starts at ``at`` in ``view``, on its own."""
        if self._lines is None:
            self._lines = self.lines.split("\n")
        head, tail = template_parts(self._lines[index])
        length, size = self.lengths[index], self.sizes[index]
        data_at = at + self.headers[index]
        return (
            self.view[at : at + length],
            self.view[data_at : data_at + size],
            head,
            tail,
            row_head(self.heads()[index]),
            self.atimes[index],
        )


NO_IN_USE: frozenset[tuple[int, int]] = frozenset()


class RunLength:
    """How many names of a run go in one batch: what the buffer holds at the average member
    seen so far, with a margin, and no more than about ``late_most`` files the format stage
    streams itself (large ones: the checkpoints and a stop request are looked at between
    batches, as the scan stage keeps to ``STREAMED_PER_BATCH``), between ``least`` and
    ``most``. A name the buffer had no room for is not lost (it takes the in-process path,
    later), only slower. Written by reader threads, read by the scan thread (one int: no
    lock)."""

    MARGIN = 0.75
    FIRST = 8
    """Names in a batch before any size was seen."""

    def __init__(self, most: int, room: int, late_most: int, least: int = 4) -> None:
        self.most, self.room, self.late_most, self.least = most, room, late_most, least
        self.value = max(least, min(most, self.FIRST))
        """Few names until sizes are seen: a batch's bytes also pace the checkpoints."""
        self._average = 0.0
        self._fits = most

    def observe(self, names: int, members: int, used: int, late: int) -> None:
        """A batch of ``names``: ``members`` read into ``used`` bytes of its buffer, ``late``
        left to the format stage."""
        if members > 0:
            sample = used / members
            average = self._average
            self._average = sample if not average else 0.8 * average + 0.2 * sample
            self._fits = int(self.room * self.MARGIN / max(self._average, 1.0))
        value = self._fits
        if late:
            value = min(value, names * self.late_most // late)
        self.value = max(self.least, min(self.most, value))


class _Sent(NamedTuple):
    """A run sent to a reader thread's worker, its answer not taken yet."""

    batch: Batch
    request: RunRequest
    worker: ReadWorker


class RunReaderStage(ReaderStage):
    """``ReaderStage`` that also prepares plain-run batches (module docstring)."""

    def __init__(self, *args: object, small_file: int, run_length: RunLength, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.small_file = small_file
        self.run_length = run_length
        self._sent: list[object | None] = [None] * len(self.threads)
        """Per worker: the in-use snapshot whose files it was sent last."""

    def _run(self, index: int) -> None:
        """``ReaderStage._run`` with one run sent ahead: the next batch's run goes to the
        worker before the answer to the one before is taken, so that the worker goes on at
        once instead of waiting while this thread (under the backup process's GIL) wakes
        up, takes the answer and sends the next run (measured on the small-files bench:
        each worker waited ~30% of the time, ~10% of both CPUs idle). Batches are made
        ready in the order this thread took them; with nothing to send meanwhile, the answer
        is taken at once (a batch the format stage waits for is never held back)."""
        ahead: _Sent | None = None
        try:
            while True:
                if ahead is None:
                    batch = self.flow.get(self.work)
                else:
                    if self.flow.stop.is_set():
                        raise Stopped
                    try:
                        batch = self.work.get_nowait()
                    except queue.Empty:
                        self._finish(index, ahead)
                        ahead = None
                        continue
                if batch is None:
                    return
                assert isinstance(batch, Batch)
                ahead = self._take(index, batch, ahead)
        except Stopped:
            return
        finally:
            if ahead is not None:  # on a stop too: the worker's answers stay paired
                self._finish(index, ahead)

    def _take(self, index: int, batch: Batch, ahead: _Sent | None) -> _Sent | None:
        """Send the batch's run to this thread's worker, or prepare the batch here; returns
        the run whose answer comes next (this one, ``ahead`` still, or None)."""
        try:
            request = self._run_request(index, batch)
            worker = self._workers[index]
            if request is not None and worker is not None:
                try:
                    if not worker.send_plain(request, ahead=ahead is not None):
                        assert ahead is not None  # too big to go ahead: answer first
                        self._finish(index, ahead)
                        ahead = None
                        worker.send_plain(request)
                except ChildGone:
                    self._worker_gone(index, worker)
                else:
                    if ahead is not None:
                        self._finish(index, ahead)
                    return _Sent(batch, request, worker)
            if ahead is not None:
                self._finish(index, ahead)
                ahead = None
            self._prepare_batch(index, batch)
        except BaseException as exc:
            batch.error = exc
            self.flow.fail(exc)
        batch.done.set()
        return ahead

    def _finish(self, index: int, sent: _Sent) -> None:
        """Take the worker's answer to a run sent and make its batch ready (in-process when
        the worker is gone: it died with this run or an earlier one)."""
        batch = sent.batch
        try:
            start, answer = batch.used, None
            if self._workers[index] is sent.worker:
                try:
                    used, answer = sent.worker.receive_plain(sent.request)
                except ChildGone:
                    self._worker_gone(index, sent.worker)
                else:
                    batch.used += used
            self._lay_out(batch, batch.run, answer, start)  # type: ignore[arg-type]
        except BaseException as exc:
            batch.error = exc
            self.flow.fail(exc)
        finally:
            batch.done.set()

    def _prepare_batch(self, index: int, batch: Batch) -> None:
        if batch.run is None:
            super()._prepare_batch(index, batch)
        else:  # no worker for it: every name in-process
            self._lay_out(batch, batch.run, None, batch.used)

    def _lay_out(
        self, batch: Batch, run: PlainRun, answer: list[RunStretch] | None, start: int
    ) -> None:
        """The batch's items: the worker's stretches of members laid out from ``start`` in
        the buffer, the names between them (all of them when ``answer`` is None) here."""
        stretches = answer if answer is not None else []
        at = start
        items: list[Item | LaidRun] = []
        buffer = batch.buffer
        names = run.names
        after = 0  # the names before it are items already
        laid = 0
        for stretch in stretches:
            first, lengths = stretch[0], stretch[1]
            items.extend(self._other(batch, run, name) for name in names[after:first])
            size = sum(lengths)
            items.append(LaidRun(buffer[at : at + size], stretch))  # type: ignore[index]
            at += size
            after = first + len(lengths)
            laid += len(lengths)
        items.extend(self._other(batch, run, name) for name in names[after:])
        late = sum(1 for i in items if type(i) is Item and i.late)
        if answer is None:
            read = sum(1 for i in items if type(i) is Item and i.data is not None)
            self.run_length.observe(len(names), read, batch.used, late)
        else:
            self.run_length.observe(len(names), laid, at - start, late)
        batch.items = items  # type: ignore[assignment]

    def _run_request(self, index: int, batch: Batch) -> RunRequest | None:
        """The request that has this thread's worker lay the batch's run out in its
        buffer, or None: not a run, or no worker (yet): every name in-process."""
        buffer, pool, run = batch.buffer, self.pool, batch.run
        if run is None or buffer is None or pool is None:
            return None
        if self.workers_after is None or not self.lean:
            return None
        worker = self._ready_worker(index, len(run.names))
        if worker is None:
            return None
        monitor: InUseMonitor | None = self.monitor
        in_use: frozenset[tuple[int, int]] | None = NO_IN_USE
        if monitor is not None:
            snapshot = monitor.current
            in_use = None if self._sent[index] is snapshot else snapshot.identities()
            self._sent[index] = snapshot
        return (
            "run",
            run.directory,
            os.fsencode(run.prefix),
            run.names,
            pool.offset(buffer) + batch.used,
            len(buffer) - batch.used,
            self.small_file,
            in_use,
        )

    def _worker_gone(self, index: int, worker: ReadWorker) -> None:
        """The worker died or broke the protocol: this thread reads in-process from now
        on."""
        self._workers[index] = None
        self._worker_failed[index] = True
        self._sent[index] = None
        with contextlib.suppress(OSError):
            worker.close()

    def _other(self, batch: Batch, run: PlainRun, name: str) -> Item:
        """A name the worker did not take, as the walk and the reader stage would have it."""
        relpath = run.prefix + name
        found = entry_at(run.directory + name, relpath)
        if isinstance(found, ItemException):
            self.forward(found.path, found)
            return Item(None, exceptions=[found], skipped=True)
        item = Item(found, os.fsencode(relpath))
        st = found.st
        if found.kind is not Kind.FILE:
            self.prepare(item, batch)
            return item
        size = st.st_size
        buffer = batch.buffer
        if (
            size <= self.small_file
            and not sp.looks_sparse(st)
            and buffer is not None
            and batch.used + size <= len(buffer)
        ):
            item.small = True
            self.prepare(item, batch)
        else:
            item.late = True  # opened by the format stage: one descriptor at a time
        return item
