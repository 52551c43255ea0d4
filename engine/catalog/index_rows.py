"""Catalog rows (engine/catalog/files_model.py ``FileRow``) from session index entries
(engine/format/index.py ``IndexEntry``): what a rebuild inserts and what ``tapir restore
--from-media`` plans from. The index holds path, kind, position, size, mtime, checksum, link
and exception; mode, owner, ctime and inode stay 0 (restore reads those from the member
headers)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from engine.backup.scan import Kind
from engine.catalog.files_model import FileRow, join_path, normalize
from engine.format.index import IndexEntry
from engine.format.members import MemberKind

KINDS = {
    MemberKind.FILE: Kind.FILE,
    MemberKind.HARDLINK: Kind.FILE,
    MemberKind.SYMLINK: Kind.SYMLINK,
    MemberKind.DIRECTORY: Kind.DIRECTORY,
    MemberKind.CHARDEV: Kind.CHAR_DEVICE,
    MemberKind.BLOCKDEV: Kind.BLOCK_DEVICE,
    MemberKind.FIFO: Kind.FIFO,
}
"""Index kinds (docs/tapir-format.md) -> catalog kinds (engine/backup/scan.py ``Kind``); a hard
link is a file row with a link group and no checksum, as the backup records it."""


def file_row(entry: IndexEntry, source: bytes) -> FileRow:
    """The row of ``entry`` of a session that backed up ``source`` (normalized)."""
    path = entry.path.rstrip(b"/")
    full = source if path in (b"", b".") else normalize(join_path(source, path))
    stored = entry.record >= 0
    return FileRow(
        path=full,
        kind=KINDS.get(entry.kind, Kind.UNKNOWN).value,
        size=entry.size,
        mtime_ns=entry.mtime_ns,
        link_target=entry.link if entry.kind is MemberKind.SYMLINK else None,
        link_group=entry.link_group,
        checksum=bytes.fromhex(entry.checksum) if entry.checksum else None,
        part=entry.volume + 1 if stored else None,
        record=entry.record if stored else None,
        offset=entry.offset if stored else None,
        exception_category=entry.exception,
        exception_code=entry.exception,
        exception_sentence=entry.reason,
        exception_offset=entry.error_offset,
    )


def rows_of(entries: Iterable[IndexEntry], source: bytes) -> Iterator[FileRow]:
    """Catalog rows of index entries (``tapir restore --from-media`` reads them too)."""
    for entry in entries:
        yield file_row(entry, normalize(source))
