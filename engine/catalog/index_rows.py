"""Catalog rows (engine/catalog/files_model.py ``FileRow``) from session index entries
(engine/format/index.py ``IndexEntry``): what a rebuild inserts and what ``tapir restore
--from-media`` plans from. The index holds path, kind, position, size, mtime, checksum, link
and exception, and (docs/tapir-format.md, since this metadata was added) mode, owner, ctime,
inode, device, link count, exception code, the change against the base run and the run's
deletions: the rows then equal the
backup's, so the next incremental compares against them (engine/backup/levels.py) and a
rebuilt chain forgets deleted paths. From an older index those stay 0 / absent (restore reads
mode and owner from the member headers; the next incremental stores every file again)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from engine.backup.scan import Kind
from engine.catalog.files_model import Change, FileRow, join_path, normalize
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
    if entry.deleted is not None:
        return FileRow(
            path=full,
            kind=entry.deleted,
            size=entry.size,
            mtime_ns=entry.mtime_ns,
            **_meta(entry),
            change=Change.DELETED,
        )
    stored = entry.record >= 0
    return FileRow(
        path=full,
        kind=KINDS.get(entry.kind, Kind.UNKNOWN).value,
        size=entry.size if entry.st_size is None else entry.st_size,
        mtime_ns=entry.mtime_ns,
        link_target=entry.link if entry.kind is MemberKind.SYMLINK else None,
        link_group=entry.link_group,
        checksum=bytes.fromhex(entry.checksum) if entry.checksum else None,
        part=entry.volume + 1 if stored else None,
        record=entry.record if stored else None,
        offset=entry.offset if stored else None,
        exception_category=entry.exception,
        exception_code=entry.code or entry.exception,
        exception_sentence=entry.reason,
        exception_offset=entry.error_offset,
        change=Change(entry.change) if entry.change else None,
        **_meta(entry),
    )


def _meta(entry: IndexEntry) -> dict[str, object]:
    """The row's stat columns the index holds (none from an index older than them)."""
    found = {
        "mode": entry.mode,
        "uid": entry.uid,
        "gid": entry.gid,
        "uname": entry.uname,
        "gname": entry.gname,
        "ctime_ns": entry.ctime_ns,
        "inode": entry.inode,
        "dev": entry.dev,
        "nlink": entry.nlink,
    }
    return {name: value for name, value in found.items() if value is not None}


def rows_of(entries: Iterable[IndexEntry], source: bytes) -> Iterator[FileRow]:
    """Catalog rows of index entries (``tapir restore --from-media`` reads them too)."""
    for entry in entries:
        yield file_row(entry, normalize(source))
