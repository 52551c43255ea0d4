"""Scan stage: the thread that walks the source, decides what the backup level stores, and
cuts the items into batches for the readers and the format stage (stages.py).

Level: every scanned item is shown to the catalog's ``BaseView`` (deletions since the base run
come back and travel with the next item, to be committed at the next checkpoint); the
``LevelFilter`` decides whether a regular file is stored; an unchanged file is only counted
(the base run's row stands for it). A stored item gets its ``Change`` against the base run.

Items the scanner reports instead of producing (vanished at ``lstat``, sockets, ...) become
items without an entry, so the catalog and the session index still list them as skipped. An
unreadable directory's exception is attached to the directory's own item.

A full backup's scanner may give plain runs (scan.PlainRun: names of regular files, not
``lstat``-ed): each goes in batches of its own, ``run_length`` names at a time
(plain_runs.py).

Thread: ``run`` is the scan thread's body; it ends the order queue with ``None`` and sends one
``None`` per reader on the work queue.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.backup.buffers import BufferPool
from engine.backup.exceptions import ItemErrorHandler, ItemException, Reason
from engine.backup.levels import ChangeReason, Decision, LevelFilter, compare
from engine.backup.read_worker import SLOT_EXTRA
from engine.backup.scan import Kind, PlainRun, Scanner
from engine.backup.stages import Batch, Flow, Item, Stopped, arcname
from engine.catalog.files_model import Change
from engine.format import sparse as sp

if TYPE_CHECKING:
    from engine.backup.plain_runs import RunLength

REAL_CHANGES = frozenset(
    {
        ChangeReason.KIND,
        ChangeReason.SIZE,
        ChangeReason.MTIME,
        ChangeReason.CTIME,
        ChangeReason.INODE,
    }
)
"""Reasons that mean the file changed (racy and previous-exception copies are unchanged)."""


@dataclass(slots=True)
class ScanCounts:
    unchanged: int = 0
    deleted: int = 0
    added: int = 0
    changed: int = 0


class ScanStage:
    def __init__(
        self,
        flow: Flow,
        scanner: Scanner,
        order: queue.Queue[object],
        work: queue.Queue[object],
        pool: BufferPool,
        *,
        readers: int,
        batch_files: int,
        small_file: int,
        streamed_per_batch: int,
        on_item_error: ItemErrorHandler,
        level: LevelFilter | None = None,
        view: object | None = None,
        run_length: RunLength | None = None,
        on_small: Callable[[int], None] | None = None,
    ) -> None:
        self.flow = flow
        self.run_length = run_length
        self.on_small = on_small
        """Told of each small file queued and of each plain run's names as soon as they are
        listed: the readers start their worker processes ahead
        (stages.ReaderStage.scanned_small)."""
        self.scanner = scanner
        scanner.on_item_error = self._scan_error
        self.order, self.work, self.pool = order, work, pool
        self.readers = readers
        self.batch_files = batch_files
        self.small_file = small_file
        self.streamed_per_batch = streamed_per_batch
        self.forward = on_item_error
        self.level = level
        self.view = view  # engine.catalog.base_view.BaseView (duck-typed: seen/unreadable/finish)
        self.counts = ScanCounts()
        self._batch: Batch | None = None

    # -- the thread ----------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._walk()
            self._emit()
            self.flow.put(self.order, None)
            for _ in range(self.readers):
                self.flow.put(self.work, None)
        except Stopped:
            return
        except BaseException as exc:
            self.flow.fail(exc)

    def _walk(self) -> None:
        view, level = self.view, self.level
        base = level.choice.base if level is not None else None
        stopping = self.flow.stop.is_set
        small_file, file_kind, looks_sparse = self.small_file, Kind.FILE, sp.looks_sparse
        for entry in self.scanner:
            if stopping():
                raise Stopped
            if type(entry) is PlainRun:
                self._add_run(entry)
                continue
            if level is None and view is None:  # a full backup: every item is stored
                st = entry.st
                item = Item(entry, arcname(entry))
                if entry.kind is file_kind and st.st_size <= small_file and not looks_sparse(st):
                    item.small = True
                    self._add(item, st.st_size)
                else:
                    self._add(item, 0)
                continue
            # the level's lookups first: the view's frame of a directory opens at ``seen``
            decision = level.decide(entry) if level is not None else None
            change = None
            if base is not None and decision is not None and decision.store:
                change = self._change(entry, decision, base.started_ns)
            deletions = view.seen(entry.relpath, entry.kind) if view is not None else None  # type: ignore[attr-defined]
            if decision is not None and not decision.store:
                self.counts.unchanged += 1
                if deletions:
                    self._add(Item(None, deletions=deletions), 0)
                continue
            item = Item(entry, arcname(entry), change=change, deletions=deletions or None)
            if change is Change.ADDED:
                self.counts.added += 1
            elif change is Change.CHANGED:
                self.counts.changed += 1
            size = 0
            if (
                entry.kind is Kind.FILE
                and entry.size <= self.small_file
                and not sp.looks_sparse(entry.st)
            ):
                item.small = True
                size = entry.size
            self._add(item, size)
        if view is not None:
            rest = view.finish()  # type: ignore[attr-defined]
            if rest:
                self._add(Item(None, deletions=rest), 0)

    def _change(self, entry: object, decision: Decision, base_ns: int) -> Change:
        reasons = set(decision.reasons)
        if ChangeReason.NEW in reasons:
            return Change.ADDED
        if ChangeReason.ALWAYS in reasons:
            previous = self.view.lookup(entry.relpath)  # type: ignore[attr-defined]
            if previous is None:
                return Change.ADDED
            assert self.level is not None
            reasons = set(compare(entry, previous, base_ns, self.level.criteria).reasons)  # type: ignore[arg-type]
        return Change.CHANGED if reasons & REAL_CHANGES else Change.UNCHANGED

    # -- batches -------------------------------------------------------------------------

    def _add(self, item: Item, size: int) -> None:
        batch = self._batch
        if batch is not None and (
            len(batch.items) >= self.batch_files
            or (item.small and batch.fill + size + SLOT_EXTRA > self.pool.size)
            or batch.streamed >= self.streamed_per_batch
        ):
            self._emit()
            batch = None
        if batch is None:
            batch = self._batch = Batch(self.pool.take(self.flow))
        batch.items.append(item)
        if item.small:
            batch.fill += size + SLOT_EXTRA
            if self.on_small is not None:
                self.on_small(1)
        elif item.entry is not None and item.entry.kind is Kind.FILE:
            batch.streamed += 1
        if item.deletions:
            self.counts.deleted += len(item.deletions)

    def _add_run(self, run: PlainRun) -> None:
        """The run in batches of its own, as many names each as ``run_length`` says now."""
        if self.run_length is None or self.level is not None or self.view is not None:
            raise ValueError("plain runs are for full backups with a run length")
        self._emit()
        names, at = run.names, 0
        if self.on_small is not None:
            self.on_small(len(names))  # before its batches wait for room in the queues
        while at < len(names):
            count = self.run_length.value
            part = names if at == 0 and count >= len(names) else names[at : at + count]
            at += count
            part_run = PlainRun(run.directory, run.prefix, part)
            self._batch = Batch(self.pool.take(self.flow), part_run)
            self._emit()

    def _emit(self) -> None:
        batch, self._batch = self._batch, None
        if batch is None:
            return
        self.flow.put(self.order, batch)
        if batch.run is not None or any(i.entry is not None for i in batch.items):
            self.flow.put(self.work, batch)
        else:
            batch.done.set()

    # -- the scanner's reports (scan thread) ---------------------------------------------

    def _scan_error(self, path: str, exc: ItemException) -> None:
        self.forward(path, exc)
        batch = self._batch
        if exc.code is Reason.DIRECTORY_UNREADABLE and self.view is not None:
            relpath = self._relpath(path)
            if relpath is not None:
                self.view.unreadable(relpath)  # type: ignore[attr-defined]
        if exc.stored and batch is not None and batch.items:
            last = batch.items[-1]
            if last.entry is not None and last.entry.path == path:
                last.exceptions.append(exc)
                return
        if not exc.stored:
            note = Item(None, exceptions=[exc], skipped=True)
            try:
                self._add(note, 0)
            except Stopped:
                return

    def _relpath(self, path: str) -> str | None:
        root = self.scanner.root
        if path == root:
            return "."
        if path.startswith(root.rstrip("/") + "/"):
            return path[len(root.rstrip("/")) + 1 :]
        return None
