"""Record sources for the format reader (engine/format/reader.py ``RecordSource``), with the
one LOCATE a restore does per member run: a tape drive, or a disk volume file.

``locate(block)`` positions at an absolute block of the current volume (a tape block number
as READ POSITION counts it; for a disk volume, the record index in the file, label = 0).
``next_volume(volume_seq)`` continues a member split across volumes on part
``volume_seq + 1`` of the session (``next_part``: a callback that loads that part's volume and
positions it at the part's first record). ``session`` is the catalog session the source reads
(one volume may hold parts of several sessions). Every LOCATE is logged in ``located`` as
(volume, requested block, position READ POSITION reported), so tests and the job's report can
see that a file was reached without reading through the tape.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from pathlib import Path

from devices.drive_values import RecordKind
from devices.tape_drive import TapeDrive
from drivers.errors import MediumError

READ_AHEAD_MAX = 8
"""Records one READ may ask for (fixed-block mode, 2 MiB at 256 KiB records). A stream of
reads grows 1, 2, 4, 8 from each LOCATE, so one file at a spot reads a record or two and a
whole session costs one command per 8 records instead of per record."""


class TapeSource:
    """Records from a mounted tape. After the first record of a stream it reads several
    records per READ in fixed-block mode (block = the session's record size; the mode is set
    back when the stream ends: LOCATE, next volume, close), handing them out one at a time.
    A filemark, end of data or error met by a multi-record READ comes after the records that
    preceded it, as single reads would give them; the drive records an error once."""

    def __init__(
        self,
        tape: TapeDrive,
        volume: str,
        record_size: int,
        next_part: Callable[[int], TapeSource | None],
        *,
        session: int = 0,
    ) -> None:
        self.tape = tape
        self.session = session
        self.volume = volume
        self.record_size = record_size
        self._next_part = next_part
        self.located: list[tuple[str, int, int]] = []
        self.records_read = 0
        self._ahead = 1
        self._batch = memoryview(b"")
        self._at = 0
        self._then: BaseException | bool | None = False
        """After the batch: False to read on, None for the end of the part, or the error."""
        self._mode: int | None = None
        """The block size the drive had before this source switched it to fixed blocks."""
        self._buffer: memoryview | None = None
        """Where multi-record READs land (one page-aligned mapping, made on first use): the
        records handed out are views of it, valid until the next READ, as the reader wants."""

    def locate(self, block: int) -> None:
        """SSC-4 7.4 LOCATE(16) straight to ``block``, then READ POSITION to log it."""
        self._end_stream()
        self.tape.locate(block)
        self.located.append((self.volume, block, self.tape.position()))

    def read_record(self) -> bytes | memoryview | None:
        if self._at < len(self._batch):
            record = self._batch[self._at : self._at + self.record_size]
            self._at += self.record_size
            self.records_read += 1
            return record
        if self._then is not False:
            then, self._then = self._then, False
            if isinstance(then, BaseException):
                raise then
            return None
        count = self._ahead
        if count > 1 and self._mode is None:
            self._mode = self.tape.block_size()
            if self._mode != self.record_size:
                self.tape.set_block_size(self.record_size)
        count = self.tape.records_per_command(self.record_size, count)
        self._ahead = min(READ_AHEAD_MAX, count * 2)
        fixed = self._mode is not None
        into = self._slot() if fixed else None
        try:
            got = self.tape.read_record(
                count * self.record_size if fixed else self.record_size, into
            )
        except MediumError as exc:  # the records before the bad one first
            self._then = exc
            data = exc.result.data if exc.result is not None and fixed else b""
        else:
            data = got.data
            if got.kind is not RecordKind.DATA:
                self._then = None
        self._batch, self._at = memoryview(data), 0
        if not len(data):
            return self.read_record() if self._then is not False else None
        return self.read_record()

    def _slot(self) -> memoryview:
        if self._buffer is None:
            self._buffer = memoryview(mmap.mmap(-1, READ_AHEAD_MAX * self.record_size))
        return self._buffer

    def _end_stream(self) -> None:
        """Forget what was read ahead; the drive's block size as it was before the stream."""
        self._batch, self._at, self._then, self._ahead = memoryview(b""), 0, False, 1
        mode, self._mode = self._mode, None
        if mode is not None and mode != self.record_size:
            self.tape.set_block_size(mode)

    def next_volume(self, volume_seq: int) -> bool:
        self._end_stream()
        nxt = self._next_part(volume_seq)
        if nxt is None:
            return False
        self.tape, self.volume = nxt.tape, nxt.volume
        self.located += nxt.located
        return True

    def close(self) -> None:
        """The drive stays mounted (``TapeMounts`` releases it), in its block size."""
        self._end_stream()


class DiskSource:
    """A disk volume file (devices/disk.py): the label record, then the part's records."""

    def __init__(
        self,
        path: Path,
        volume: str,
        record_size: int,
        next_part: Callable[[int], tuple[Path, str, int] | None],
        *,
        session: int = 0,
    ) -> None:
        self.path, self.volume, self.record_size = path, volume, record_size
        self.session = session
        self._next_part = next_part
        self._map = mmap.mmap(-1, record_size)
        self._view = memoryview(self._map)
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 (closed in close())
        self.located: list[tuple[str, int, int]] = []
        self.records_read = 0

    def locate(self, block: int) -> None:
        self._file.seek(block * self.record_size)
        self.located.append((self.volume, block, self._file.tell() // self.record_size))

    def read_record(self) -> memoryview | None:
        got = self._file.readinto(self._view)
        if not got:
            return None
        self.records_read += 1
        return self._view[:got]

    def next_volume(self, volume_seq: int) -> bool:
        nxt = self._next_part(volume_seq)
        if nxt is None:
            return False
        path, self.volume, first = nxt
        self._file.close()
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115
        self._file.seek(first * self.record_size)
        return True

    def close(self) -> None:
        self._file.close()
