"""Fixed-size records: the unit the archive is written in (one record per tape block,
shared/DESIGN.md "On-media format"; tar's "blocking factor" x 512).

``RecordWriter`` assembles the byte stream into one reusable, page-aligned buffer (an anonymous
``mmap``): file data is read straight into it with ``readinto`` (no ``bytes`` copy), headers
are copied in with a slice assignment. When the buffer is full it is handed to the sink; the
sink must be done with the memoryview when it returns (write it, or copy it), because the next
record reuses the buffer, unless the sink hands out the buffers itself (``fresh_buffer``: the
backup's write stage queues each record in a buffer of its own, engine/backup/write_stage.py).
BASELINES.md: ``readinto`` a page-aligned buffer is 4x faster than into a large ``bytearray``,
and a bytes copy costs more than the read.

Callers: ``ArchiveWriter`` only, from one thread.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from typing import Protocol

from engine.format.headers import BLOCK, ZERO_BLOCK

DEFAULT_RECORD_SIZE = 256 * 1024
"""One 256 KiB tape block keeps LTO drives streaming (shared/DESIGN.md; devices/label.py)."""
MIN_RECORD_SIZE = 20 * BLOCK
"""GNU tar's default record: a smaller one gains nothing and costs per-record overhead."""


class RecordSink(Protocol):
    """Where full records go (a tape drive, a volume file, a pipe).

    ``write_record`` returns True when the volume reached early warning: the writer then ends
    the volume at the next record boundary where a split is valid and calls ``next_volume``.
    """

    def write_record(self, record: memoryview) -> bool | None: ...

    def next_volume(self, volume_seq: int) -> None: ...


class CallableSink:
    """Adapts a plain ``callback(record)`` to ``RecordSink`` (no volume switching)."""

    def __init__(self, callback: Callable[[memoryview], object]) -> None:
        self._callback = callback

    def write_record(self, record: memoryview) -> bool:
        self._callback(record)
        return False

    def next_volume(self, volume_seq: int) -> None:
        raise RuntimeError("this sink cannot switch volumes")


class Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class BytesSource:
    """``readinto`` over bytes already in memory (small members the caller built)."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def readinto(self, buffer: memoryview) -> int:
        take = min(len(buffer), len(self._view) - self._pos)
        buffer[:take] = self._view[self._pos : self._pos + take]
        self._pos += take
        return take


def check_record_size(record_size: int) -> None:
    if record_size < MIN_RECORD_SIZE or record_size % BLOCK:
        raise ValueError(
            f"record size must be a multiple of {BLOCK} and at least {MIN_RECORD_SIZE}"
        )


class RecordWriter:
    """Byte stream in, full records out. ``position`` counts bytes since the start of the
    current volume part; ``(records, fill)`` is the LOCATE address of the next byte."""

    def __init__(
        self,
        sink: RecordSink,
        record_size: int = DEFAULT_RECORD_SIZE,
        on_boundary: Callable[[], None] | None = None,
    ) -> None:
        check_record_size(record_size)
        self.sink = sink
        self.record_size = record_size
        self._fresh: Callable[[], memoryview] | None = getattr(sink, "fresh_buffer", None)
        """A sink that queues records hands out the buffers (every record one of its own);
        else the one buffer here is reused."""
        self._map = None if self._fresh is not None else mmap.mmap(-1, record_size)
        self.buffer = self._fresh() if self._fresh is not None else memoryview(self._map)
        self.fill = 0
        self.records = 0
        """Records emitted in the current volume part."""
        self.early_warning = False
        self.on_boundary = on_boundary
        """Called after each record while ``early_warning`` is set (volume switching)."""

    @property
    def position(self) -> int:
        return self.records * self.record_size + self.fill

    def write(self, data: bytes | memoryview) -> None:
        """Append bytes, emitting every record that fills up."""
        size = len(data)
        room = self.record_size - self.fill
        if size < room:
            self.buffer[self.fill : self.fill + size] = data
            self.fill += size
            return
        view = memoryview(data)
        done = 0
        while done < size:
            room = self.record_size - self.fill
            take = min(room, size - done)
            self.buffer[self.fill : self.fill + take] = view[done : done + take]
            self.fill += take
            done += take
            if self.fill == self.record_size:
                self._emit()

    def zeros(self, count: int) -> None:
        """Append ``count`` zero bytes (padding; never allocates more than one record)."""
        while count:
            take = min(count, self.record_size - self.fill)
            self.buffer[self.fill : self.fill + take] = (
                ZERO_BLOCK[:take] if take <= BLOCK else (bytes(take))
            )
            self.fill += take
            count -= take
            if self.fill == self.record_size:
                self._emit()

    def space(self, limit: int) -> memoryview:
        """The free part of the current record, at most ``limit`` bytes, to ``readinto``;
        follow with ``advance(n)``."""
        end = min(self.record_size, self.fill + limit)
        return self.buffer[self.fill : end]

    def advance(self, count: int) -> None:
        self.fill += count
        if self.fill == self.record_size:
            self._emit()

    def _emit(self) -> None:
        if self.sink.write_record(self.buffer):
            self.early_warning = True
        if self._fresh is not None:
            self.buffer = self._fresh()
        self.records += 1
        self.fill = 0
        if self.early_warning and self.on_boundary is not None:
            self.on_boundary()

    def new_part(self) -> None:
        """Start counting a new volume part (called after ``sink.next_volume``)."""
        self.records = 0
        self.early_warning = False

    def finish(self) -> None:
        """Pad the last record with zeros and emit it (tar pads the last record likewise)."""
        if self.fill:
            self.buffer[self.fill :] = bytes(self.record_size - self.fill)
            self.fill = self.record_size
            self._emit()

    def close(self) -> None:
        """Release this writer's own buffer now if no slice of it is still referenced (else
        GC does); the sink's buffers are the sink's."""
        if self._map is None:
            return
        try:
            self.buffer.release()
            self._map.close()
        except BufferError:
            pass
