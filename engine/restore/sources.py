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


class TapeSource:
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

    def locate(self, block: int) -> None:
        """SSC-4 7.4 LOCATE(16) straight to ``block``, then READ POSITION to log it."""
        self.tape.locate(block)
        self.located.append((self.volume, block, self.tape.position()))

    def read_record(self) -> bytes | None:
        got = self.tape.read_record(self.record_size)
        if got.kind is not RecordKind.DATA:
            return None
        self.records_read += 1
        return got.data

    def next_volume(self, volume_seq: int) -> bool:
        nxt = self._next_part(volume_seq)
        if nxt is None:
            return False
        self.tape, self.volume = nxt.tape, nxt.volume
        self.located += nxt.located
        return True

    def close(self) -> None:
        """Nothing held: the drive stays mounted (``TapeMounts`` releases it)."""


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
