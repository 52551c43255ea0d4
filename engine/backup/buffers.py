"""The batch buffers the scan stage hands out and the readers fill (stages.py).

Small files are read whole into a batch's buffer and copied from it into the records, so
the bytes in flight are bounded by the buffer count (flat memory). The buffers are slices of
one ``memfd`` mapping so that the reader worker processes (read_worker.py) can fill them too.
"""

from __future__ import annotations

import mmap
import os
import queue
from typing import TYPE_CHECKING

from engine.backup.reader import aligned_buffer

if TYPE_CHECKING:
    from engine.backup.stages import Flow


class BufferPool:
    """Page-aligned batch buffers, reused; ``take`` blocks while all are in flight.

    They are slices of one ``memfd`` mapping (``fd``), so that worker processes
    (read_worker.py) can read files into them; ``offset`` says where a buffer starts in it.
    """

    def __init__(self, count: int, size: int) -> None:
        self.size = size
        slot = len(aligned_buffer(size))  # whole pages
        self.fd = os.memfd_create("tapir-batches", os.MFD_CLOEXEC)
        os.ftruncate(self.fd, slot * count)
        self._map = mmap.mmap(self.fd, slot * count)
        whole = memoryview(self._map)
        self._free: queue.Queue[object] = queue.Queue()
        self._offsets: dict[int, int] = {}
        for i in range(count):
            view = whole[i * slot : i * slot + size]
            self._offsets[id(view)] = i * slot
            self._free.put(view)

    def take(self, flow: Flow) -> memoryview:
        """A free buffer; blocks (looking at ``flow``'s stop flag) while all are in use."""
        return flow.get(self._free)  # type: ignore[return-value]

    def give(self, view: memoryview) -> None:
        self._free.put(view)

    def offset(self, view: memoryview) -> int:
        """Where a buffer handed out by ``take`` starts in the memfd."""
        return self._offsets[id(view)]

    def close(self) -> None:
        """Release the memfd (the mapping goes with the last buffer view)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
