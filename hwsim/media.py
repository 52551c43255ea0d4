"""What is on one tape: records, filemarks, end of data, and what is still only buffered.

Storage (one directory per cartridge): ``data`` holds record bytes back to back, ``index``
holds one little-endian u64 per logical object, the end offset of that object in ``data``;
a filemark is an object of length 0 (a record is never empty, SSC-4 4.2.2). Object N
therefore spans ``ends[N-1]..ends[N]``, so LOCATE to any block is O(1), and filemark
positions are kept sorted for SPACE and READ POSITION by bisection.

Drive buffer (SSC-4 4.2.10 buffered mode): a record reaches ``data`` at once (a cheap
sequential write, no fsync), but only objects below ``flushed`` are "on tape". ``flush``
moves the marker and persists index and ``meta.json``; ``power_loss`` truncates back to it
and, if buffered objects were lost, leaves the tape without a valid end of data
(``eod_invalid``) until it is rewritten from the beginning (``truncate(0)``).

Thread-safety: none; the owning drive serialises access under its lock.
"""

from __future__ import annotations

import bisect
import json
import os
import sys
from array import array
from pathlib import Path

DATA_FILE = "data"
INDEX_FILE = "index"
META_FILE = "meta.json"
_ENTRY = 8


class TapeMedium:
    """The recorded contents of one cartridge's single partition."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ends = array("Q")
        self.filemarks = array("Q")
        self.flushed = 0
        self.eod_invalid = False
        self._persisted = 0
        self._fd: int | None = None
        self._load()

    # --- persistence -------------------------------------------------------------------------

    def _load(self) -> None:
        index = self.directory / INDEX_FILE
        meta = self.directory / META_FILE
        if meta.exists():
            raw = json.loads(meta.read_text())
            self.flushed = int(raw["flushed"])
            self.eod_invalid = bool(raw["eod_invalid"])
        if index.exists():
            self.ends.frombytes(index.read_bytes()[: self.flushed * _ENTRY])
            if sys.byteorder != "little":
                self.ends.byteswap()
        self.flushed = self._persisted = len(self.ends)
        previous = 0
        for i, end in enumerate(self.ends):
            if end == previous:
                self.filemarks.append(i)
            previous = end

    def _write_meta(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / (META_FILE + ".tmp")
        tmp.write_text(json.dumps({"flushed": self.flushed, "eod_invalid": self.eod_invalid}))
        os.replace(tmp, self.directory / META_FILE)

    def _persist(self) -> None:
        """Bring the index file to the on-tape objects (append only what is new), then meta."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / INDEX_FILE, "r+b" if self._persisted else "wb") as f:
            if self._persisted > self.flushed:
                self._persisted = self.flushed
                f.truncate(self.flushed * _ENTRY)
            entries = self.ends[self._persisted : self.flushed]
            if sys.byteorder != "little":
                entries.byteswap()
            f.seek(self._persisted * _ENTRY)
            f.write(entries.tobytes())
            f.truncate()
        self._persisted = self.flushed
        self._write_meta()

    @property
    def fd(self) -> int:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.directory / DATA_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        return self._fd

    def close(self) -> None:
        """Release the data file (the cartridge left the drive)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # --- geometry ---------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Logical objects recorded: the object number of end of data."""
        return len(self.ends)

    @property
    def data_end(self) -> int:
        return self.ends[-1] if self.ends else 0

    def start(self, n: int) -> int:
        return self.ends[n - 1] if n > 0 else 0

    def length(self, n: int) -> int:
        return self.ends[n] - self.start(n)

    def is_filemark(self, n: int) -> bool:
        return self.ends[n] == self.start(n)

    def filemarks_before(self, n: int) -> int:
        """Filemarks between BOP and object ``n`` (SSC-4 logical file identifier)."""
        return bisect.bisect_left(self.filemarks, n)

    def next_filemark(self, n: int) -> int | None:
        """The first filemark at or after object ``n``."""
        i = bisect.bisect_left(self.filemarks, n)
        return self.filemarks[i] if i < len(self.filemarks) else None

    def previous_filemark(self, n: int) -> int | None:
        """The last filemark before object ``n``."""
        i = bisect.bisect_left(self.filemarks, n)
        return self.filemarks[i - 1] if i > 0 else None

    def only_filemarks_from(self, n: int) -> bool:
        """Is every object from ``n`` to end of data a filemark (WORM may rewrite those)?"""
        return len(self.filemarks) - self.filemarks_before(n) == self.count - n

    @property
    def buffered_objects(self) -> int:
        return self.count - self.flushed

    @property
    def buffered_bytes(self) -> int:
        return self.data_end - self.start(self.flushed)

    # --- reading and writing ------------------------------------------------------------------

    def read(self, n: int, limit: int) -> bytes:
        """Up to ``limit`` bytes of record ``n``."""
        return os.pread(self.fd, min(limit, self.length(n)), self.start(n))

    def read_span(
        self, n: int, count: int, unit: int, into: memoryview | None = None
    ) -> bytes | memoryview:
        """Records ``n`` .. ``n + count - 1`` as a fixed-block READ transfers them: every one
        but the last exactly ``unit`` bytes (the caller checked), the last up to ``unit``.
        With ``into`` (at least ``count * unit`` bytes) they are read into it: a view of it."""
        if count <= 0:
            return b""
        size = (count - 1) * unit + min(unit, self.length(n + count - 1))
        if into is None:
            return os.pread(self.fd, size, self.start(n))
        return into[: os.preadv(self.fd, [into[:size]], self.start(n))]

    def truncate(self, n: int) -> None:
        """Discard object ``n`` and everything after it (writing at ``n`` erases the rest).

        Rewriting from BOP gives the tape a valid end of data again.
        """
        if n > self.count:
            raise ValueError(f"truncate at {n} beyond end of data {self.count}")
        persisted_changed = n < self.flushed or (n == 0 and self.eod_invalid)
        if n < self.count:
            del self.ends[n:]
            del self.filemarks[bisect.bisect_left(self.filemarks, n) :]
            os.ftruncate(self.fd, self.data_end)
        if n == 0:
            self.eod_invalid = False
        if persisted_changed:
            self.flushed = min(self.flushed, n)
            self._persist()

    def append_record(self, n: int, data: memoryview | bytes) -> None:
        """Write one record as object ``n`` (== count after ``truncate(n)``)."""
        self.append_records(n, data, len(data))

    def append_records(self, n: int, data: memoryview | bytes, unit: int) -> None:
        """Write ``data`` as records of ``unit`` bytes (the last may be shorter) from object
        ``n`` on, with one ``pwrite`` (a fixed-block WRITE of several blocks)."""
        if n != self.count:
            self.truncate(n)
        end = self.data_end
        written = os.pwrite(self.fd, data, end)
        while written < len(data):  # short writes are rare; finish them without copying much
            written += os.pwrite(self.fd, memoryview(data)[written:], end + written)
        self.ends.extend(range(end + unit, end + written, unit))
        self.ends.append(end + written)

    def append_filemarks(self, n: int, count: int) -> None:
        if n != self.count:
            self.truncate(n)
        end = self.data_end
        for _ in range(count):
            self.filemarks.append(self.count)
            self.ends.append(end)

    def flush(self) -> None:
        """Everything buffered reaches the tape (and survives power loss and restarts)."""
        if self.flushed != self.count:
            self.flushed = self.count
            self._persist()

    def power_loss(self) -> bool:
        """Drop the buffered objects; True when some were lost (end of data now invalid)."""
        lost = self.flushed < self.count
        if lost:
            del self.ends[self.flushed :]
            del self.filemarks[bisect.bisect_left(self.filemarks, self.flushed) :]
            os.ftruncate(self.fd, self.data_end)
            self.eod_invalid = True
            self._write_meta()
        return lost
