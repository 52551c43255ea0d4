"""Writing a restored file's data on a second thread while the next record is read (issue 5
"Speed": full restore >= 0.9 x ``tar -xf``).

A full restore spends about half its time in ``pwrite`` to the destination and the other half
reading the next record through the drive stack (hwsim, driver, device: Python per record,
then ``pread`` of the simulated tape). Both ``pwrite`` and ``pread`` release the GIL, so one
``pwrite`` on this thread overlaps the Python and the read of the next record on the caller's.

Only data that cannot change under the writer goes here: a chunk whose buffer is an immutable
``bytes`` (a tape record as read, one new object per READ). A chunk of a reused buffer (disk
volumes, ``FileSource``) is valid only until the next record is read, so the caller writes it
itself (``stable`` says which). At most ``DEPTH`` chunks wait, so memory stays flat. The first
error is kept and raised by ``wait`` (then every later chunk of that file is dropped): the
caller reports it for that file, as it would a synchronous ``pwrite``'s.
"""

from __future__ import annotations

import os
import queue
import threading

DEPTH = 2
"""Chunks queued at most (each one record, 256 KiB by default): enough to keep the writer busy
while the next record is read, and the memory a restore holds stays a few records."""
MIN_ASYNC = 64 * 1024
"""Smaller chunks are written by the caller: a hand-off costs more than their ``pwrite``."""


def stable(chunk: memoryview) -> bool:
    """Whether ``chunk`` may be written later: its buffer is an immutable ``bytes`` object."""
    return len(chunk) >= MIN_ASYNC and type(chunk.obj) is bytes


def pwrite_all(fd: int, view: memoryview, offset: int) -> None:
    """``pwrite`` until all of ``view`` is at ``offset`` (short writes happen on signals)."""
    while len(view):
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


class BackgroundWriter:
    """One thread, started on first use, that ``pwrite``s submitted chunks in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[int, memoryview, int] | None] = queue.Queue(DEPTH)
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None

    def submit(self, fd: int, chunk: memoryview, offset: int) -> None:
        """Queue ``chunk`` for ``offset`` of ``fd`` (blocks while ``DEPTH`` chunks wait)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="restore-writer", daemon=True)
            self._thread.start()
        self._queue.put((fd, chunk, offset))

    def wait(self) -> None:
        """Return once every submitted chunk is written; raise the first error, if any."""
        if self._thread is not None:
            self._queue.join()
        error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        """Stop the thread (after the chunks already queued)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                fd, chunk, offset = item
                if self._error is None:
                    pwrite_all(fd, chunk, offset)
            except OSError as exc:
                self._error = exc
            finally:
                self._queue.task_done()
