"""Write stage: one thread hands full records to the session's volumes (tape or disk) while
the format stage fills the next ones (shared/STYLE.md "a bounded pipeline").

It is the ``RecordSink`` the ``ArchiveWriter`` writes to. The buffers are the slots of one
page-aligned map, in groups of ``span`` slots lying one after another (``span_records``: 4
records of 256 KiB). ``fresh_buffer`` gives the format stage the next slot of its group;
``write_record`` queues a group once its last slot is filled, and the thread writes it with
one command (``VolumeWriter.write_records``: one fixed-block WRITE of several blocks, as
restore reads several per READ, engine/restore/sources.py). Per record the format stage only
appends to a list; the thread hand-off and the path through the engine -> devices -> drivers
layers are paid once per group. The format stage blocks when every group is queued or being
written: that is the back-pressure from a slow device, and the bound on memory.

Which records go in one command depends only on the records and the barriers (checkpoint
flushes, volume switches, the end): a barrier sends the part of a group filled so far, and the
rest of that group follows in the next command. So a fault planned at the n-th WRITE of a
simulated drive hits the same record in every run (tests/sim replays a seed exactly).

Early warning is reported by the device after the write, so it reaches the format stage up to
``depth`` records late; the early-warning zone of any tape is far larger than that. Volume switches,
checkpoints and the end of the session first ``drain`` the queue, so the device sees records,
filemarks and flushes in order, and only one thread talks to it at a time.

A device failure is a job-level event: the thread keeps the exception, stops writing, and the
next call from the format stage raises it (never through ``on_item_error``).

Threads: every public method is called by the format stage's thread only.
"""

from __future__ import annotations

import queue
import threading
from typing import Protocol

from engine.backup.reader import aligned_buffer

DEFAULT_DEPTH = 8
"""Records the format stage may be ahead of the device (2 MiB at 256 KiB), in two groups:
one being written while the next fills, enough to ride out one slow command (a drive's buffer
flush, a robot-free repositioning) without stopping the formatter. It also bounds how late
early warning reaches the format stage (the small tapes of tests/sim have 16 records of
early-warning zone)."""
MAX_SPAN_BYTES = 2 << 20
"""Bytes per write command at most, whatever the record size: within what an HBA takes in one
SG_IO transfer (max_sectors_kb is 512 KiB to several MiB; the kernel splits nothing for
SG_IO), and what restore's READs reach at 256 KiB (engine/restore/sources.py)."""
POLL_S = 0.5
"""How often a blocked format stage looks for a failure of the writer thread."""


def span_records(record_size: int, depth: int = DEFAULT_DEPTH) -> int:
    """Records per write command: half of ``depth`` (two groups), at most ``MAX_SPAN_BYTES``."""
    return max(1, min(depth // 2, MAX_SPAN_BYTES // record_size))


class VolumeWriter(Protocol):
    """What a target gives the write stage: the session's volumes, one after another."""

    def write_record(self, record: memoryview) -> bool:
        """Write one record; True once the volume is at early warning."""
        ...

    def write_records(self, span: memoryview, count: int) -> bool:
        """Write ``count`` whole records lying one after another in ``span``, in one command
        where the device takes that; True once the volume is at early warning. A failure
        counts the records the device reports written before it."""
        ...

    def next_volume(self, volume_seq: int) -> None:
        """End the current volume part and continue the session on the next volume."""
        ...

    def flush(self) -> None:
        """Every record written so far is on the medium when this returns (checkpoint)."""
        ...


class _Barrier:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class WriteStage:
    """The ``RecordSink`` of the pipeline; ``start`` before the first record."""

    def __init__(self, volumes: VolumeWriter, record_size: int, depth: int = DEFAULT_DEPTH):
        span = span_records(record_size, depth)
        groups = max(2, depth // span)
        self.volumes = volumes
        self.record_size = record_size
        self.span = span
        self._map = aligned_buffer(record_size * span * groups)
        ring = memoryview(self._map)
        self._ring = ring
        self._groups = [
            [
                ring[(g * span + i) * record_size : (g * span + i + 1) * record_size]
                for i in range(span)
            ]
            for g in range(groups)
        ]
        self._slots = {
            id(v): (g, i) for g, views in enumerate(self._groups) for i, v in enumerate(views)
        }
        """id of each slot's view (kept alive in ``_groups``) -> (group, index in it)."""
        self._free: queue.Queue[list[memoryview]] = queue.Queue()
        for views in self._groups:
            self._free.put(views)
        self._local: list[memoryview] = []
        """The rest of the group the format stage is filling, last slot first."""
        self._filled: list[memoryview] = []
        """Records written by the format stage and not yet queued (part of one group)."""
        self._todo: queue.Queue[object] = queue.Queue()
        self._error: BaseException | None = None
        self.early_warning = False
        self.records = 0
        """Records the device accepted (all volumes)."""
        self._thread = threading.Thread(target=self._run, name="tapir-write", daemon=True)

    def start(self) -> WriteStage:
        self._thread.start()
        return self

    # -- RecordSink (format stage thread) ------------------------------------------------

    def write_record(self, record: memoryview) -> bool:
        self.check()
        slot = self._slots.get(id(record))
        if slot is None:  # not one of the slots: written alone, after what came before it
            self._send()
            self._todo.put([record])
            return self.early_warning
        self._filled.append(record)
        if slot[1] == self.span - 1:
            self._send()
        return self.early_warning

    def fresh_buffer(self) -> memoryview:
        if not self._local:
            while True:
                try:
                    self._local = self._free.get(timeout=POLL_S)[::-1]
                    break
                except queue.Empty:
                    self.check()
        return self._local.pop()

    def next_volume(self, volume_seq: int) -> None:
        self.drain()
        self.volumes.next_volume(volume_seq)
        self.early_warning = False

    def _send(self) -> None:
        if self._filled:
            self._todo.put(self._filled)
            self._filled = []

    # -- control -------------------------------------------------------------------------

    def check(self) -> None:
        """Raise the writer thread's failure, if any (the device error, unchanged)."""
        if self._error is not None:
            raise self._error

    def drain(self) -> None:
        """Return once every record written so far reached the device (or raise its failure)."""
        self._send()
        barrier = _Barrier()
        self._todo.put(barrier)
        while not barrier.done.wait(POLL_S):
            self.check()
        self.check()

    def flush(self) -> None:
        """A checkpoint's first half: drained, then flushed to the medium."""
        self.drain()
        self.volumes.flush()

    def close(self) -> None:
        """Stop the thread (after a drain, or abandoning queued records after a failure)."""
        if self._thread.is_alive():
            self._todo.put(_STOP)
            self._thread.join()

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._todo.get()
            if item is _STOP:
                return
            if isinstance(item, _Barrier):
                item.done.set()
                continue
            run: list[memoryview] = item  # type: ignore[assignment]
            if self._error is None:
                self._write(run)
            slot = self._slots.get(id(run[-1]))
            if slot is not None and slot[1] == self.span - 1:  # the group's last: all done
                self._free.put(self._groups[slot[0]])

    def _write(self, run: list[memoryview]) -> None:
        try:
            if len(run) == 1:
                warned = self.volumes.write_record(run[0])
            else:
                g, i = self._slots[id(run[0])]
                start = (g * self.span + i) * self.record_size
                span = self._ring[start : start + len(run) * self.record_size]
                warned = self.volumes.write_records(span, len(run))
            if warned:
                self.early_warning = True
            self.records += len(run)
        except BaseException as exc:
            self._error = exc
