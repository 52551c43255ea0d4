"""The catalog row of one backed-up item (engine/catalog/files_model.py ``FileRow``).

Paths are absolute bytes as backed up; the kind is the scanner's (``file``, ``directory``,
...); the position is the member's first header (session part from 1, record in the part,
offset in the record), absent for a file not archived; the exception is the item's primary
one (pipeline.py ``primary``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from engine.backup.exceptions import ItemException
from engine.backup.scan import Kind
from engine.catalog.files_model import Change, FileRow, join_path
from engine.format.index import IndexEntry
from engine.format.members import MemberKind

if TYPE_CHECKING:  # stages imports read_worker, which imports this module
    from engine.backup.stages import Item

UNKNOWN_KIND = Kind.UNKNOWN.value


def _text(value: bytes) -> str | None:
    return value.decode("utf-8", "surrogateescape") if value else None


_NAMES: dict[bytes, str | None] = {}


def _name(value: bytes) -> str | None:
    found = _NAMES.get(value, _NAMES)
    if found is _NAMES:
        found = _NAMES[value] = _text(value)
    return found  # type: ignore[return-value]


FILE_KIND = Kind.FILE.value


def plain_file_row(
    item: Item, uname: bytes, gname: bytes, st: os.stat_result, part: int, at: tuple[int, int, str]
) -> tuple[Any, ...]:
    """``file_row`` of a clean regular file stored whole, as the tuple of ``FileRow``'s
    fields in order (engine/backup/checkpoint.py keeps tuples; ``FileRow(*row)`` rebuilds):
    the small-files path builds no object per file (issue 4 "Speed")."""
    scanned = item.entry
    assert scanned is not None
    record, offset, checksum = at
    head = plain_row_head(os.fsencode(scanned.path), st, uname, gname, bytes.fromhex(checksum))
    return head + (part, record, offset) + ROW_TAILS[item.change]


def plain_row_head(
    path: bytes, st: os.stat_result, uname: bytes, gname: bytes, digest: bytes
) -> tuple[Any, ...]:
    """``FileRow``'s fields before the position (part, record, offset) of a clean regular
    file stored whole; ``head + (part, record, offset) + ROW_TAILS[change]`` is its row. A
    reader worker process (engine/backup/read_worker.py) builds it, the format stage only
    adds the position."""
    return (path, FILE_KIND, *_stat_fields(st, uname, gname), None, None, digest)


def _stat_fields(st: os.stat_result, uname: bytes, gname: bytes) -> tuple[Any, ...]:
    """``FileRow``'s fields from ``size`` to ``nlink``."""
    return (
        st.st_size,
        st.st_mode,
        st.st_uid,
        st.st_gid,
        _name(uname),
        _name(gname),
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
        st.st_dev,
        st.st_nlink,
    )


ROW_TAILS: dict[Change | None, tuple[Any, ...]] = {
    change: (None, None, None, None, change, None) for change in (None, *Change)
}
"""``FileRow``'s fields after the position of a clean file, by its change."""


def staged_row_head(
    parent: bytearray, name: bytes, st: os.stat_result, uname: bytes, gname: bytes, digest: bytes
) -> tuple[Any, ...]:
    """``plain_row_head`` as a reader worker builds it for a plain run (read_worker.py),
    in the staging's order (row_staging.STAGED_FIELDS): the path split as the catalog keeps it (one
    ``parent`` object for the whole directory: pickled once per stretch), byte strings as
    ``bytearray``, which ``sqlite3`` binds without its adapter lookup. The staging then adds
    the position with one C-level ``map`` per stretch, not a Python call per row."""
    return (parent, bytearray(name), bytearray(digest), FILE_KIND, *_stat_fields(st, uname, gname))


def row_head(staged: tuple[Any, ...]) -> tuple[Any, ...]:
    """The ``plain_row_head`` of a ``staged_row_head``."""
    parent, name, digest, kind, *fields = staged
    return (join_path(bytes(parent), bytes(name)), kind, *fields, None, None, bytes(digest))


def whole_rows(
    staged: list[tuple[Any, ...]], part: int, placed: list[tuple[int, int]]
) -> list[tuple[Any, ...]]:
    """The rows of clean files of a full backup from their ``staged_row_head`` and their
    (record, offset), as many as ``placed`` has."""
    tail = ROW_TAILS[None]
    return [
        (*row_head(head), part, record, offset, *tail)
        for head, (record, offset) in zip(staged, placed, strict=False)
    ]


def file_row(item: Item, entry: IndexEntry | None, exc: ItemException | None) -> FileRow:
    scanned = item.entry
    if scanned is None:  # reported by the scanner, never produced
        assert exc is not None
        kind = exc.fields.get("kind", UNKNOWN_KIND)
        row = FileRow(path=os.fsencode(exc.path), kind=str(kind))
    else:
        st = item.st or scanned.st
        member = item.member
        row = FileRow(
            path=os.fsencode(scanned.path),
            kind=scanned.kind.value,
            size=st.st_size,
            mode=st.st_mode,
            uid=st.st_uid,
            gid=st.st_gid,
            uname=_text(member.uname) if member is not None else None,
            gname=_text(member.gname) if member is not None else None,
            mtime_ns=st.st_mtime_ns,
            ctime_ns=st.st_ctime_ns,
            inode=st.st_ino,
            dev=st.st_dev,
            nlink=st.st_nlink,
            link_target=os.fsencode(scanned.link_target)
            if scanned.link_target is not None
            else None,
            change=item.change,
        )
    if entry is not None:
        row.link_group = entry.link_group
        row.checksum = bytes.fromhex(entry.checksum) if entry.checksum else None
        row.part = entry.volume + 1
        row.record = entry.record
        row.offset = entry.offset
    if exc is not None:
        row.exception_category = exc.category.value
        row.exception_code = exc.code.value
        row.exception_sentence = exc.sentence
        row.exception_offset = exc.offset
    return row


def deletion_entry(row: FileRow, name: bytes) -> IndexEntry:
    """The index line of a deletion row (engine/catalog/base_view.py): the path as archived
    (``name``), the kind and metadata it had in the base run, no member."""
    return IndexEntry(
        name,
        MemberKind.FILE,
        -1,
        -1,
        -1,
        size=row.size,
        mtime_ns=row.mtime_ns,
        mode=row.mode,
        uid=row.uid,
        gid=row.gid,
        uname=row.uname,
        gname=row.gname,
        ctime_ns=row.ctime_ns,
        inode=row.inode,
        dev=row.dev,
        nlink=row.nlink,
        deleted=row.kind,
    )


assert len(FileRow.__slots__) == 25, "plain_file_row builds FileRow's fields positionally"
