"""The small-files paths of ``ArchiveWriter`` (engine/format/writer.py): members whose bytes the
caller already has, most of them formatted ahead by a reader worker process
(engine/backup/read_worker.py), written with slice copies and an index line completed with
their position (issue 4 "Speed": per-file work on the format thread is what limits a backup of
many small files).

Early warning: these members may cross a record boundary only before the drive reported it
(a record filled on the way may bring it: the volume then switches at a later boundary, never
inside such a member); past it only a member that fits the current record, else the caller
takes the general path (``ArchiveWriter.add_prepared``), which places the switch.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from itertools import accumulate, repeat
from operator import floordiv, mod
from typing import TYPE_CHECKING

import xxhash

from engine.format import codec
from engine.format import headers as h
from engine.format.index import plain_line_parts
from engine.format.members import Member

if TYPE_CHECKING:
    from engine.format.index import IndexBuilder
    from engine.format.records import RecordWriter


class PlainMembers:
    """Mixed into ``ArchiveWriter``, whose state these methods share."""

    out: RecordWriter
    record_size: int
    volume: int
    members: int
    _index: IndexBuilder

    def add_small(
        self, member: Member, data: memoryview, st: os.stat_result, change: str | None = None
    ) -> tuple[int, int, str] | None:
        """The small-files path (issue 4 "Speed"): a regular file that is not a hard link,
        without xattrs or ACLs, whose data the caller already read (``add_worked`` says when
        it may cross a record boundary). ``st``: the file's stat (for its index line).
        Returns (record, offset, xxh3-128 hex) of the member, or None (nothing written:
        use ``add_prepared``)."""
        size, out = len(data), self.out
        if size != member.size:
            return None
        header = codec.encode_member(member)
        if out.early_warning and len(header) + size + (-size % h.BLOCK) + out.fill >= (
            self.record_size
        ):
            return None  # as add_worked would
        x = xxhash.xxh3_128_hexdigest(data)
        names = (member.uname, member.gname)
        head, tail = plain_line_parts(member.name, size, st.st_mtime_ns, x, st, *names, change)
        record, offset = self.add_worked(header, data, head, tail)  # type: ignore[misc]
        return record, offset, x

    def add_worked(
        self, header: bytes | memoryview, data: memoryview | None, head: str, tail: str
    ) -> tuple[int, int] | None:
        """The small-files path with everything formatted ahead (by a reader worker process,
        engine/backup/read_worker.py): the header, and the index line before and after its
        position (``index.plain_line_parts``). ``data`` None: ``header`` is the whole member
        (header, data, zeros to the block), as the worker laid it out. Writes header, data
        and padding and returns the member's (record, offset). It may cross a record boundary
        only before early warning (a record filled on the way may bring it: the volume then
        switches at a later boundary, never inside this member); past early warning only a
        member that fits the current record, else None (nothing written: ``add_prepared``
        places the switch)."""
        out = self.out
        fill = out.fill
        record = out.records
        buffer = out.buffer
        if data is None:  # ``header``: the whole member, padding included
            end = fill + len(header)
            if end < self.record_size:
                buffer[fill:end] = header
                out.fill = end
            elif out.early_warning:
                return None
            else:
                out.write(header)
        else:
            size = len(data)
            pad = -size % h.BLOCK
            data_at = fill + len(header)
            end = data_at + size
            if end + pad < self.record_size:
                buffer[fill:data_at] = header
                buffer[data_at:end] = data
                buffer[end : end + pad] = h.ZERO_BLOCK[:pad]
                out.fill = end + pad
            elif out.early_warning:
                return None
            else:
                out.write(header)
                out.write(data)
                out.zeros(pad)
        self.members += 1
        self._index.add_parts(head, self.volume, record, fill, tail)
        return record, fill

    def add_laid(self, view: memoryview, lengths: list[int], lines: str) -> list[tuple[int, int]]:
        """Members a reader worker laid out back to back in ``view`` (engine/backup/
        plain_runs.py ``LaidRun``: their ``lengths``, their index lines as templates joined
        by newlines, ``index.line_template``), written a record's worth at a time while
        early warning is not set: as with ``add_worked``, at most one member crosses a record
        boundary after the drive reported it, and the volume never switches inside one.
        Returns the (record, offset) of each member written, a prefix of them;
        ``add_worked`` takes the rest. Per member, only C loops (``map``, ``accumulate``):
        this is the format thread's work for most small files."""
        out = self.out
        size_of = self.record_size
        count = len(lengths)
        starts = list(accumulate(lengths, initial=0))  # where each member starts in ``view``
        origin = out.records * size_of + out.fill
        done = 0
        while done < count and not out.early_warning:
            at = starts[done]
            # the members starting in this record, at least the one at its fill
            last = bisect_left(starts, at + size_of - out.fill, done + 1, count)
            out.write(view[at : starts[last]])
            done = last
        if not done:
            return []
        where = list(map(origin.__add__, starts[:done]))
        records = list(map(floordiv, where, repeat(size_of, done)))
        offsets = list(map(mod, where, repeat(size_of, done)))
        position = [self.volume] * (3 * done)
        position[1::3] = records
        position[2::3] = offsets
        if done < count:
            lines = "\n".join(lines.split("\n", done)[:done])
        self._index.add_lines(lines % tuple(position), done)
        self.members += done
        return list(zip(records, offsets, strict=True))
