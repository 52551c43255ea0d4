"""Format stage, per item: a prepared item (stages.py) becomes a pax member (engine/format
``ArchiveWriter.add_prepared``) and a catalog row kept until the next checkpoint covers it
(checkpoint.py). What reading found (a read error, a change while reading) is put on the
member's index entry and its row; counters are kept here.

Thread: the format stage's (the caller of ``Pipeline.run``), except ``report``, which the scan
and reader threads call too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate, repeat
from typing import TYPE_CHECKING, Any

from engine.backup.checkpoint import PendingRows
from engine.backup.exceptions import (
    Category,
    ItemErrorHandler,
    ItemException,
    Reason,
    describe_errno,
)
from engine.backup.plain_runs import LaidRun
from engine.backup.rows import (
    ROW_TAILS,
    deletion_entry,
    file_row,
    plain_file_row,
    whole_rows,
)
from engine.backup.scan import FileEntry, Kind
from engine.backup.stages import Item
from engine.catalog.files_model import FileRow
from engine.catalog.row_staging import PlainBlob
from engine.format.index import IndexEntry
from engine.format.members import MemberKind, member_from_stat
from engine.format.writer import ArchiveWriter

if TYPE_CHECKING:
    from engine.backup.plain_runs import Laid

_SEVERITY = {Category.SKIPPED: 0, Category.CORRUPTED: 1, Category.IN_USE: 2}


@dataclass(slots=True)
class Counters:
    files: int = 0
    """Regular files stored (hard links to a stored inode included)."""
    directories: int = 0
    others: int = 0
    bytes: int = 0
    """File content bytes stored."""
    unchanged: int = 0
    added: int = 0
    changed: int = 0
    excluded: int = 0
    deleted: int = 0
    skipped: int = 0
    in_use: int = 0
    corrupted: int = 0
    exceptions: int = 0
    """Every item exception reported (a file may have several)."""
    checkpoints: int = 0
    rows: int = 0
    """Rows committed to the catalog."""
    volumes: int = 1

    @property
    def with_exceptions(self) -> int:
        return self.skipped + self.in_use + self.corrupted

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


def primary(exceptions: list[ItemException]) -> ItemException | None:
    """The exception a row and an index entry carry: not stored first, then corrupted."""
    if not exceptions:
        return None
    return min(exceptions, key=lambda e: (e.stored, _SEVERITY[e.category]))


class FormatStage:
    def __init__(
        self,
        writer: ArchiveWriter,
        pending: PendingRows,
        counters: Counters,
        report: ItemErrorHandler,
        root: bytes,
        prepare_late: Callable[[Item], None] | None = None,
    ) -> None:
        self.prepare_late = prepare_late
        """Prepares an item marked ``late`` (the reader stage's ``prepare``, no buffer)."""
        self.writer = writer
        self.pending = pending
        self.counters = counters
        self._report = report
        self.root = root

    def add_batch(self, items: list[Item | LaidRun]) -> None:
        """``add`` of each item; the files a reader worker process read and formatted
        (read_worker.py) take the shortest path: copy into the record, the index line and
        the catalog row completed with their position (issue 4 "Speed": per-file work here
        is what the format thread, the backup's busiest, spends). A plain run's members come
        as ``LaidRun`` stretches (plain_runs.py), no object per file."""
        writer, counters, pending = self.writer, self.counters, self.pending
        out = writer.out
        record_size = out.record_size
        tails = ROW_TAILS
        add_worked = writer.add_worked
        for item in items:
            if type(item) is LaidRun:
                self._add_laid(item)
                continue
            worked = item.worked
            if worked is not None:
                data = item.data
                whole = worked[0]
                at = add_worked(
                    whole,
                    None if type(whole) is memoryview else data,
                    worked[1],  # type: ignore[arg-type]
                    worked[2],  # type: ignore[arg-type]
                )
                if at is not None:
                    record, offset = at
                    volume = writer.volume
                    counters.files += 1
                    counters.bytes += len(data)  # type: ignore[arg-type]
                    start = out.records * record_size
                    pending.add(
                        worked[3] + (volume + 1, record, offset) + tails[item.change],
                        (volume, start + out.fill),
                        (volume, start),
                    )
                    continue
            self.add(item)

    def _add_laid(self, run: LaidRun) -> None:
        """A stretch of members a worker laid out (plain_runs.py): copied a record's worth
        at a time, their rows kept as the worker pickled them, with their positions; past
        early warning the rest go one by one (``add_worked``, else the general path)."""
        writer, lengths = self.writer, run.lengths
        placed = writer.add_laid(run.view, lengths, run.lines)
        done = len(placed)
        if done:
            out = writer.out
            size_of = out.record_size
            volume = writer.volume
            record, offset = placed[0]
            ends = accumulate(lengths[:done], initial=record * size_of + offset)
            next(ends)
            keys = list(zip(repeat(volume, done), ends, strict=True))
            covered = (volume, out.records * size_of)
            if done == len(lengths):
                self.pending.extend_blob(PlainBlob(run.blob, volume + 1, placed), keys, covered)
            else:
                rows = whole_rows(run.heads(), volume + 1, placed)  # the prefix written
                self.pending.extend_plain(rows, keys, covered)
            self.counters.files += done
            self.counters.bytes += sum(run.sizes[:done])
        if done < len(lengths):
            at = sum(lengths[:done])
            for index in range(done, len(lengths)):
                self._add_one_laid(run.laid(index, at))
                at += lengths[index]

    def _add_one_laid(self, laid: Laid) -> None:
        member, data, head, tail, row, _atime = laid
        writer = self.writer
        at = writer.add_worked(member, None, head, tail)
        if at is None:
            self.add(self._unlaid(laid))
            return
        record, offset = at
        out, volume = writer.out, writer.volume
        start = out.records * out.record_size
        self.counters.files += 1
        self.counters.bytes += len(data)
        self.pending.add(
            (*row, volume + 1, record, offset, *ROW_TAILS[None]),
            (volume, start + out.fill),
            (volume, start),
        )

    def _unlaid(self, laid: Laid) -> Item:
        """A laid-out member that must take the general path (it does not fit the record
        past early warning) as the item the reader stage would have made of it."""
        member, data, head, tail, row, atime = laid
        path = row[0]
        name = self._relpath(path)  # type: ignore[arg-type]
        st = worked_stat((member, head, tail, row, atime))
        entry = FileEntry(os.fsdecode(path), os.fsdecode(name), Kind.FILE, st, None)  # type: ignore[arg-type]
        return Item(entry, name, data=data, worked=(member, head, tail, row, atime))

    def add(self, item: Item) -> None:
        """Archive one prepared item and keep its catalog row (format thread)."""
        if item.late:
            assert self.prepare_late is not None
            item.late = False
            self.prepare_late(item)
        if item.worked is not None:  # did not fit the current record: the general path
            item.st = worked_stat(item.worked)
            item.worked = None
            item.member = member_from_stat(item.name, item.st)
        if (
            item.data is not None
            and not item.exceptions
            and not item.deletions
            and not item.skipped
            and self._add_small(item)
        ):
            return
        pending = self.pending
        if item.deletions:
            key, covered = self.key(), self.covered()
            for row in item.deletions:
                pending.add(row, key, covered)
                self.writer.note_deleted(deletion_entry(row, self._relpath(row.path)))
        if item.entry is None and not item.exceptions:
            return
        writer = self.writer
        exc = primary(item.exceptions)
        mark = (exc.category.value, exc.sentence, exc.code.value) if exc is not None else None
        if item.skipped:
            assert exc is not None
            name = item.name or self._relname(exc.path)
            scanned = item.entry
            st = item.st or (scanned.st if scanned is not None else None)
            change = item.change if scanned is not None else None
            writer.note_exception(
                name, exc.category.value, exc.sentence, code=exc.code.value, st=st, change=change
            )
            self._count_exception(exc)
            pending.add(self._row(item, None, exc), self.key(), self.covered())
            return
        member, src = item.member, item.source
        assert member is not None and item.st is not None
        if src is not None and item.extents is None:
            entry, used = writer.add_prepared(
                member,
                item.st,
                src,
                exception=mark,
                finish=lambda e: self._finished(item, e),
                change=item.change,
            )
            if not used:
                src.close()
        elif src is not None:
            with src:
                entry, used = writer.add_prepared(
                    member,
                    item.st,
                    src.fileno(),
                    extents=item.extents,
                    exception=mark,
                    finish=lambda e: self._sparse_done(item, e),
                    change=item.change,
                )
        else:
            entry, used = writer.add_prepared(
                member, item.st, item.data, exception=mark, change=item.change
            )
        kind = entry.kind
        if kind is MemberKind.FILE or kind is MemberKind.HARDLINK:
            self.counters.files += 1
            self.counters.bytes += entry.size
        elif kind is MemberKind.DIRECTORY:
            self.counters.directories += 1
        else:
            self.counters.others += 1
        exc = primary(item.exceptions)
        if exc is not None:
            self._count_exception(exc)
        pending.add(self._row(item, entry, exc), self.key(), self.covered())

    def _add_small(self, item: Item) -> bool:
        """The small-files path: a plain regular file read whole by a reader, written with
        ``ArchiveWriter.add_small`` and kept as a row tuple (``rows.plain_file_row``), with
        no ``IndexEntry`` or ``FileRow`` built. False when it does not apply (nothing done)."""
        member, st = item.member, item.st
        if (
            member is None
            or st is None
            or member.kind is not MemberKind.FILE
            or st.st_nlink > 1
            or member.xattrs
            or member.acl_access is not None
            or member.acl_default is not None
        ):
            return False
        writer = self.writer
        at = writer.add_small(member, item.data, st, item.change)  # type: ignore[arg-type]
        if at is None:
            return False
        counters = self.counters
        counters.files += 1
        counters.bytes += member.size
        out = writer.out
        volume, records = writer.volume, out.records
        self.pending.add(
            plain_file_row(item, member.uname, member.gname, st, volume + 1, at),
            (volume, records * out.record_size + out.fill),
            (volume, records * out.record_size),
        )
        return True

    def _finished(self, item: Item, entry: IndexEntry) -> None:
        """A streamed file's data is written: what reading found goes on its index entry."""
        assert item.source is not None
        outcome = item.source.finish()
        item.exceptions[:] = outcome.exceptions
        _mark(entry, primary(item.exceptions), outcome.corrupted_offset)

    def _sparse_done(self, item: Item, entry: IndexEntry) -> None:
        """Sparse files are read by the writer (extent by extent): check them as reader.py
        checks the others, a read error or a change while reading."""
        src = item.source
        assert src is not None and item.st is not None
        path = src.entry.path
        found: list[ItemException] = []
        if entry.exception == "corrupted":
            error = OSError(5, entry.reason or "read error")
            found.append(
                ItemException(
                    Reason.READ_ERROR,
                    path,
                    offset=entry.error_offset,
                    stored=True,
                    error=describe_errno(error),
                )
            )
        after = os.fstat(src.fileno())
        before = item.st
        moved = [
            name
            for name, a, b in (
                ("size", before.st_size, after.st_size),
                ("mtime", before.st_mtime_ns, after.st_mtime_ns),
                ("ctime", before.st_ctime_ns, after.st_ctime_ns),
            )
            if a != b
        ]
        if moved:
            found.append(
                ItemException(
                    Reason.CHANGED_WHILE_READING, path, stored=True, moved=", ".join(moved)
                )
            )
        for exc in found:
            self._report(path, exc)
        item.exceptions += found
        _mark(entry, primary(item.exceptions), entry.error_offset)

    def _count_exception(self, exc: ItemException) -> None:
        c = self.counters
        if not exc.stored:
            c.skipped += 1
        elif exc.category is Category.CORRUPTED:
            c.corrupted += 1
        else:
            c.in_use += 1

    def _relname(self, path: str) -> bytes:
        return self._relpath(os.fsencode(path))

    def _relpath(self, raw: bytes) -> bytes:
        """``raw`` (absolute, as backed up) as the archive names it: relative to the root."""
        root = self.root.rstrip(b"/") + b"/"
        return raw[len(root) :] if raw.startswith(root) else raw.lstrip(b"/")

    def _row(self, item: Item, entry: IndexEntry | None, exc: ItemException | None) -> FileRow:
        return file_row(item, entry, exc)

    def covered(self) -> tuple[int, int]:
        """(volume part, bytes) handed to the write stage: what a checkpoint covers."""
        out = self.writer.out
        return (self.writer.volume, out.records * out.record_size)

    def key(self) -> tuple[int, int]:
        """Where the next member starts: the end of the one just written."""
        return (self.writer.volume, self.writer.out.position)


def worked_stat(worked: tuple[Any, ...]) -> os.stat_result:
    """The ``fstat`` a reader worker took, from its row head and atime (read_worker.Result):
    the fields the writer, the index and the catalog row read."""
    row, atime = worked[3], worked[4]
    size, mode, uid, gid, mtime, ctime, ino, dev, nlink = row[2:6] + row[8:13]
    ns = 10**9
    return os.stat_result(
        (mode, ino, dev, nlink, uid, gid, size, atime // ns, mtime // ns, ctime // ns),
        {
            "st_atime": atime / ns,
            "st_mtime": mtime / ns,
            "st_ctime": ctime / ns,
            "st_atime_ns": atime,
            "st_mtime_ns": mtime,
            "st_ctime_ns": ctime,
            "st_blksize": 4096,
            "st_blocks": -(-size // 512),
            "st_rdev": 0,
        },
    )


def _mark(entry: IndexEntry, exc: ItemException | None, offset: int | None) -> None:
    if exc is None:
        return
    entry.exception, entry.reason, entry.code = exc.category.value, exc.sentence, exc.code.value
    if offset is not None:
        entry.error_offset = offset
