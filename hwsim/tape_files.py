"""Tape files of a simulated cartridge, read straight from its state directory, read-only.

A tape file is the records between two filemarks (file 0 runs from beginning of partition to
the first filemark; SSC-4 4.2.6 logical file identifier). ``dd if=/dev/nst0`` on a real drive
positioned at file N returns those records back to back and stops at the filemark; this
module gives the same bytes for a cartridge of a simulated library without loading it in a
drive, so ``tar``, ``cpio`` or any tool can read what hwsim recorded.

Only what is on tape is read: the index file (hwsim.media) holds the flushed objects only,
records still in a drive's buffer are invisible, as they are to a real reader after the
drive loses power. No lock is taken: ``library.json`` is replaced atomically, ``meta.json``
is written after the index and the index is append-only between rewrites, so a reader sees
a consistent prefix even while a daemon or another process has the library open. A
cartridge rewritten from an earlier position while it is being read can shrink under the
reader; that shows as ``TapeFileError`` (short record), never as wrong bytes past the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hwsim.cartridge import CLEANING_PREFIX
from hwsim.media import DATA_FILE, TapeMedium
from hwsim.state import TAPES_DIR, read_state

CHUNK = 1 << 20  # bytes per read when streaming: large enough for pipes, small for memory

__all__ = ["CHUNK", "FileSpan", "TapeFileError", "TapeFiles", "open_tape_files"]


class TapeFileError(Exception):
    """A tape file that cannot be read: unknown barcode, no such file, cartridge changed."""


@dataclass(frozen=True)
class FileSpan:
    """Tape file ``number``: objects ``first`` .. ``end`` (exclusive) and their data bytes;
    ``terminated`` when a filemark follows (the last file of a power-cut tape may lack one)."""

    number: int
    first: int
    end: int
    offset: int
    length: int
    terminated: bool

    @property
    def records(self) -> int:
        return self.end - self.first


class TapeFiles:
    """The on-tape contents of one cartridge, split into tape files."""

    def __init__(self, barcode: str, directory: Path) -> None:
        self.barcode = barcode
        self.directory = directory
        self.medium = TapeMedium(directory)  # reads index and meta; creates nothing

    @property
    def eod_invalid(self) -> bool:
        """Power was lost with records buffered: the tape has no valid end of data
        (SSC-4 4.2.7), and what follows the last flushed record is unreadable."""
        return self.medium.eod_invalid

    @property
    def count(self) -> int:
        """Tape files on the cartridge: one per filemark, plus the records after the last
        filemark if any (an unterminated file)."""
        medium = self.medium
        marks = len(medium.filemarks)
        last_mark = medium.filemarks[-1] if marks else -1
        return marks + (1 if medium.count > last_mark + 1 else 0)

    def span(self, number: int) -> FileSpan:
        """Where tape file ``number`` lies; TapeFileError when it is past the last one."""
        count = self.count
        if number < 0 or number >= count:
            if count == 0:
                raise TapeFileError(f"{self.barcode} is blank: nothing is recorded on it")
            raise TapeFileError(
                f"{self.barcode} holds {count} tape file{'s' if count != 1 else ''} "
                f"(0..{count - 1}); there is no tape file {number}"
            )
        medium = self.medium
        first = medium.filemarks[number - 1] + 1 if number > 0 else 0
        terminated = number < len(medium.filemarks)
        end = medium.filemarks[number] if terminated else medium.count
        offset = medium.start(first)
        return FileSpan(number, first, end, offset, medium.start(end) - offset, terminated)

    def records(self, number: int) -> Iterator[bytes]:
        """The records of tape file ``number``, one per item, as READ returns them."""
        span = self.span(number)
        with self._data() as fd:
            for n in range(span.first, span.end):
                yield _pread_exact(fd, self.medium.length(n), self.medium.start(n), self.barcode)

    def stream(self, number: int, chunk: int = CHUNK) -> Iterator[bytes]:
        """Tape file ``number`` as ``dd`` reads it: its records back to back, in chunks of at
        most ``chunk`` bytes (records are contiguous in the data file: filemarks take none)."""
        span = self.span(number)
        with self._data() as fd:
            done = 0
            while done < span.length:
                size = min(chunk, span.length - done)
                yield _pread_exact(fd, size, span.offset + done, self.barcode)
                done += size

    def _data(self) -> _ReadOnlyFd:
        return _ReadOnlyFd(self.directory / DATA_FILE, self.barcode)


class _ReadOnlyFd:
    """The data file opened read-only for one pass (never created)."""

    def __init__(self, path: Path, barcode: str) -> None:
        self.path = path
        self.barcode = barcode
        self.fd = -1

    def __enter__(self) -> int:
        try:
            self.fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            raise TapeFileError(f"{self.barcode}: recorded data is missing ({self.path})") from None
        return self.fd

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def _pread_exact(fd: int, size: int, offset: int, barcode: str) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise TapeFileError(
            f"{barcode}: the tape changed while being read (it is being rewritten); "
            "retry when no drive writes to it"
        )
    return data


def open_tape_files(state_dir: Path, barcode: str) -> TapeFiles:
    """The tape files of cartridge ``barcode`` in the library at ``state_dir``.

    Raises StateError (no library there) or TapeFileError (unknown or cleaning cartridge).
    """
    state = read_state(state_dir)
    known = sorted(state.get("cartridges", {}))
    if barcode not in known:
        wanted = barcode.upper()
        hint = f"; did you mean {wanted}?" if wanted in known else ""
        listed = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        raise TapeFileError(
            f"no cartridge {barcode!r} in the library at {state_dir} (cartridges: "
            f"{listed or 'none'}){hint}"
        )
    if barcode.upper().startswith(CLEANING_PREFIX):
        raise TapeFileError(f"{barcode} is a cleaning cartridge: it holds no data")
    return TapeFiles(barcode, state_dir / TAPES_DIR / barcode)
