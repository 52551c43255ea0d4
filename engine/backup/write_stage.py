"""Write stage: one thread hands full records to the session's volumes (tape or disk) while
the format stage fills the next record (shared/STYLE.md "a bounded pipeline").

It is the ``RecordSink`` the ``ArchiveWriter`` writes to. ``write_record`` queues the record's
buffer and returns at once; ``fresh_buffer`` gives the format stage a free buffer to continue in
(engine/format/records.py), blocking while all ``depth`` buffers are queued or being written:
that is the back-pressure from a slow device, and the bound on memory (``depth`` records).

Early warning is reported by the device after the write, so it reaches the format stage up to
``depth`` records late; the early-warning zone of any tape is far larger than that. Volume
switches, checkpoints and the end of the session first ``drain`` the queue, so the device sees
records, filemarks and flushes in order, and only one thread talks to it at a time.

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
"""Records queued for the device (2 MiB at 256 KiB): enough to ride out one slow command
(a drive's buffer flush, a robot-free repositioning) without stopping the formatter."""
POLL_S = 0.5
"""How often a blocked format stage looks for a failure of the writer thread."""


class VolumeWriter(Protocol):
    """What a target gives the write stage: the session's volumes, one after another."""

    def write_record(self, record: memoryview) -> bool:
        """Write one record; True once the volume is at early warning."""
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
        if depth < 2:
            raise ValueError("the write stage needs at least two buffers")
        self.volumes = volumes
        self.record_size = record_size
        self._maps = [aligned_buffer(record_size) for _ in range(depth - 1)]
        self._free: queue.Queue[memoryview] = queue.Queue()
        for m in self._maps:
            self._free.put(memoryview(m)[:record_size])
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
        self._todo.put(record)
        return self.early_warning

    def fresh_buffer(self) -> memoryview:
        while True:
            try:
                return self._free.get(timeout=POLL_S)
            except queue.Empty:
                self.check()

    def next_volume(self, volume_seq: int) -> None:
        self.drain()
        self.volumes.next_volume(volume_seq)
        self.early_warning = False

    # -- control -------------------------------------------------------------------------

    def check(self) -> None:
        """Raise the writer thread's failure, if any (the device error, unchanged)."""
        if self._error is not None:
            raise self._error

    def drain(self) -> None:
        """Return once every queued record reached the device (or raise its failure)."""
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
        volumes = self.volumes
        while True:
            item = self._todo.get()
            if item is _STOP:
                return
            if isinstance(item, _Barrier):
                item.done.set()
                continue
            record: memoryview = item  # type: ignore[assignment]
            if self._error is None:
                try:
                    if volumes.write_record(record):
                        self.early_warning = True
                    self.records += 1
                except BaseException as exc:
                    self._error = exc
            self._free.put(record)
