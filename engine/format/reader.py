"""``ArchiveReader``: members and their data from a stream of records (restore, verify, catalog
rebuild; issue 5). Reads what ``ArchiveWriter`` writes and what GNU tar writes in pax, ustar and
GNU formats (long names 'L'/'K', sparse 1.0, multi-volume continuation).

The source hands out records of any size that is a multiple of 512 (a tape block, a file
chunk); data chunks are memoryviews into the source's buffer, valid until the next call into
the reader. Start anywhere a member starts: ``ArchiveReader(source, record=r, offset=o)`` after
the caller positioned the source at record r (one LOCATE), with (r, o) from the index.

At the end of a volume part in the middle of a member's data the reader asks the source for
the next volume and checks GNU tar's continuation headers (GNU.volume.filename / .offset).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from engine.format import codec
from engine.format import headers as h
from engine.format import sparse as sp
from engine.format.index import INDEX_MEMBER, Trailer, find_trailer, iter_index
from engine.format.members import Member


class FormatError(ValueError):
    """The records do not hold a valid archive here (message for the user)."""

    code = "format.invalid"


class RecordSource(Protocol):
    def read_record(self) -> bytes | memoryview | None:
        """The next record, or None at the end of the volume part (filemark, end of file)."""
        ...

    def next_volume(self, volume_seq: int) -> bool:
        """Switch to part ``volume_seq`` of the session; False when there is none."""
        ...


@dataclass(slots=True)
class Entry:
    """A member as read, with where its first header block was."""

    member: Member
    volume: int
    record: int
    offset: int
    stored_size: int


class ArchiveReader:
    """Iterate with ``for entry in reader``; read the current member's data with ``chunks()``
    before advancing (unread data is skipped)."""

    def __init__(
        self, source: RecordSource, *, record: int = 0, offset: int = 0, volume: int = 0
    ) -> None:
        self.source = source
        self.volume = volume
        self._record_no = record - 1
        self._rec: memoryview = memoryview(b"")
        self._pos = 0
        self._data: Iterator[tuple[int, memoryview]] | None = None
        self._ended = False
        if offset:
            if not self._fetch():
                raise FormatError("The session ends before the requested position.")
            self._pos = offset

    # -- records and blocks ------------------------------------------------------------

    def _fetch(self) -> bool:
        record = self.source.read_record()
        if record is None or not len(record):
            return False
        view = memoryview(record)
        if len(view) % h.BLOCK:
            raise FormatError(f"A record of {len(view)} bytes is not a multiple of {h.BLOCK}.")
        self._rec, self._pos = view, 0
        self._record_no += 1
        return True

    def _block(self) -> memoryview | None:
        if self._pos >= len(self._rec) and not self._fetch():
            return None
        block = self._rec[self._pos : self._pos + h.BLOCK]
        self._pos += h.BLOCK
        return block

    def _bytes(self, size: int) -> bytes:
        """Small data (pax bodies, long names, maps) as bytes, padding skipped."""
        return b"".join(bytes(chunk) for chunk in self._stream(size, None))

    def _stream(self, size: int, member: Member | None) -> Iterator[memoryview]:
        """``size`` stored bytes, then the padding skipped. ``member`` allows continuing on the
        next volume (regular member data)."""
        done = 0
        while done < size:
            if self._pos >= len(self._rec) and not self._fetch():
                if member is None:
                    raise FormatError("The archive ends inside a header.")
                self._continue(member, done, size)
                continue
            take = min(size - done, len(self._rec) - self._pos)
            yield self._rec[self._pos : self._pos + take]
            self._pos += take
            done += take
        self._pos += h.padding(size)

    def _continue(self, member: Member, done: int, size: int) -> None:
        """Next volume part: check the continuation headers, leave the stream at the data."""
        if not self.source.next_volume(self.volume + 1):
            raise FormatError(
                f"{member.name!r} continues on volume {self.volume + 2}, which is not available."
            )
        self.volume += 1
        self._record_no = -1
        self._rec, self._pos = memoryview(b""), 0
        info = None
        records: list[tuple[bytes, bytes]] = []
        while True:
            block = self._block()
            if block is None:
                raise FormatError(f"Volume {self.volume + 1} is empty.")
            fields = h.decode_ustar(block)
            if fields["type"] == h.PAX_GLOBAL:
                info = codec.volume_records(h.parse_pax(self._bytes(int(fields["size"]))))  # type: ignore[call-overload]
            elif fields["type"] == h.PAX_LOCAL:
                records += h.parse_pax(self._bytes(int(fields["size"])))  # type: ignore[call-overload]
            else:
                break
        if info is None:
            raise FormatError(f"Volume {self.volume + 1} does not continue {member.name!r}.")
        name, left, offset = info
        if name.rstrip(b"/") != member.name.rstrip(b"/") or offset != done:
            raise FormatError(
                f"Volume {self.volume + 1} continues {name!r} at {offset}, "
                f"not {member.name!r} at {done}."
            )
        if codec.stored_size(fields, records) != size - done or left != size - done:
            raise FormatError(f"Volume {self.volume + 1} gives {member.name!r} a wrong size.")

    # -- members ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[Entry]:
        while (entry := self.next()) is not None:
            yield entry

    def next(self) -> Entry | None:
        """The next member, or None at the end of the archive."""
        if self._data is not None:
            for _ in self._data:
                pass
            self._data = None
        if self._ended:
            return None
        records: list[tuple[bytes, bytes]] = []
        long_name = long_link = None
        start = None
        orphan = False
        while True:
            if self._pos >= len(self._rec) and not self._fetch():
                if not self.source.next_volume(self.volume + 1):
                    self._ended = True
                    return None
                self.volume += 1
                self._record_no = -1
                continue
            if start is None:
                start = (self.volume, self._record_no, self._pos)
            block = self._block()
            assert block is not None
            if h.is_zero_block(block):
                self._ended = True
                return None
            fields = h.decode_ustar(block)
            typeflag = fields["type"]
            size = int(fields["size"])  # type: ignore[call-overload]
            if typeflag == h.PAX_LOCAL:
                records += h.parse_pax(self._bytes(size))
            elif typeflag == h.PAX_GLOBAL:
                orphan = codec.volume_records(h.parse_pax(self._bytes(size))) is not None
            elif typeflag == h.GNU_LONGNAME:
                long_name = self._bytes(size).rstrip(b"\0")
            elif typeflag == h.GNU_LONGLINK:
                long_link = self._bytes(size).rstrip(b"\0")
            else:
                break
        if long_name is not None:
            fields["name"] = long_name
        if long_link is not None:
            fields["linkname"] = long_link
        member = codec.decode_member(fields, records)
        stored = codec.stored_size(fields, records)
        entry = Entry(member, start[0], start[1], start[2], stored)
        if member.sparse is not None:
            self._data = self._sparse_chunks(member, stored)
        else:
            self._data = self._plain_chunks(member, stored)
        if orphan:
            return self.next()  # the rest of a member whose start is on an earlier volume
        return entry

    def _plain_chunks(self, member: Member, stored: int) -> Iterator[tuple[int, memoryview]]:
        offset = 0
        for chunk in self._stream(stored, member):
            yield offset, chunk
            offset += len(chunk)

    def _sparse_chunks(self, member: Member, stored: int) -> Iterator[tuple[int, memoryview]]:
        """GNU sparse 1.0: the map (whole blocks, read one block at a time), then the extents
        back to back."""
        stream = self._stream(stored, member)
        prefix = b""
        pending = memoryview(b"")
        while not sp.map_complete(prefix):
            if not len(pending):
                pending = next(stream)
            prefix += bytes(pending[: h.BLOCK])
            pending = pending[h.BLOCK :]
        member.sparse, _map_len = sp.decode_map(prefix)
        for offset, length in member.sparse:
            done = 0
            while done < length:
                if not len(pending):
                    pending = next(stream)
                take = min(length - done, len(pending))
                yield offset + done, pending[:take]
                pending = pending[take:]
                done += take
        for _ in stream:
            pass

    def chunks(self) -> Iterator[tuple[int, memoryview]]:
        """(file offset, bytes) of the current member's content; sparse members skip holes."""
        return self._data if self._data is not None else iter(())

    def read_data(self) -> bytes:
        """The whole content of the current member (small members only)."""
        return b"".join(bytes(chunk) for _offset, chunk in self.chunks())


class FileSource:
    """Records from files (disk volumes, test archives, ``tar -M`` parts): part N is
    ``paths[N]``, read from byte ``start`` in records of ``record_size`` bytes into one
    page-aligned buffer."""

    def __init__(self, paths: list[str], record_size: int, *, start: int = 0) -> None:
        self.paths = paths
        self.record_size = record_size
        self.start = start
        self._map = mmap.mmap(-1, record_size)
        self._view = memoryview(self._map)
        self._file = open(paths[0], "rb", buffering=0)  # noqa: SIM115 (closed in close())
        self._file.seek(start)

    def read_record(self) -> memoryview | None:
        got = self._file.readinto(self._view)
        return self._view[:got] if got else None

    def next_volume(self, volume_seq: int) -> bool:
        if volume_seq >= len(self.paths):
            return False
        self._file.close()
        self._file = open(self.paths[volume_seq], "rb", buffering=0)  # noqa: SIM115
        return True

    def locate(self, record: int, volume: int = 0) -> None:
        """Position at ``record`` of part ``volume`` (what LOCATE does on tape)."""
        self._file.close()
        self._file = open(self.paths[volume], "rb", buffering=0)  # noqa: SIM115
        self._file.seek((self.start if volume == 0 else 0) + record * self.record_size)

    def tail(self, records: int = 2) -> bytes:
        """The last ``records`` records of the current part (to find the trailer)."""
        size = self._file.seek(0, 2)
        self._file.seek(max(0, size - records * self.record_size))
        return self._file.read()

    def close(self) -> None:
        self._file.close()
        try:
            self._view.release()
            self._map.close()
        except BufferError:
            pass  # a chunk is still referenced; the GC frees the buffer with it

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_index(reader: ArchiveReader) -> Iterator[object]:
    """The index header dict, then its entries, from a reader positioned at the index member
    (``Trailer.index_record`` / ``index_offset``)."""
    entry = reader.next()
    if entry is None or entry.member.name != INDEX_MEMBER:
        raise FormatError("No session index at the position the trailer gives.")
    return iter_index(chunk for _offset, chunk in reader.chunks())


def trailer_of(source: FileSource) -> Trailer:
    """The trailer of the session in the last part of ``source`` (a file volume)."""
    return find_trailer(source.tail())
