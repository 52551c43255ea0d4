"""``BaseView``: the base run's tree for an incremental or differential backup, one directory at
a time — the ``levels.Lookup`` the level filter asks, and the deletions the run must record.

Algorithm. The scanner walks in pre-order (engine/backup/scan.py: a directory before its
contents, names sorted). The view keeps a stack of *open* directories, the path from the root
to the item being scanned; each frame holds the base run's listing of that directory (one
indexed query, chains resolved: files_store.py) and the names seen this run. When an item
arrives whose parent is not the top frame, frames that are not its ancestors are closed: what
their base listing holds and this run did not see was deleted. A deleted directory takes its
whole base subtree with it (one range query), as does a directory that became a file.
Memory: the listings of the directories on the current path, never the tree.

Protocol (one thread, the pipeline's scan stage): call ``seen(relpath, kind)`` for every item
the run records (stored, unchanged, or skipped with an exception), in scan order; ``lookup``
may be called for any seen item; call ``unreadable(relpath)`` for a directory whose listing
failed (its base entries are not called deleted); ``finish()`` at the end. ``seen`` and
``finish`` return deletion rows to hand to ``FilesStore.add_files`` at the next checkpoint.
An excluded item is not seen, so a path excluded since the base run counts as deleted: it is
not in this backup's view of the tree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from engine.backup.levels import PreviousRecord
from engine.backup.scan import ROOT_RELPATH, Kind
from engine.catalog.files_model import Change, FileRow, join_path, normalize
from engine.catalog.files_store import FilesStore

_KINDS = frozenset(k.value for k in Kind)


def previous_record(row: FileRow) -> PreviousRecord:
    """What engine/backup/levels.py compares a scanned file with. Here, on the backup side,
    rather than in files_store.py, which ``tapir ls`` imports without the backup modules."""
    kind = Kind(row.kind) if row.kind in _KINDS else Kind.UNKNOWN
    return PreviousRecord(kind, row.size, row.mtime_ns, row.ctime_ns, row.inode, clean=row.clean)


@dataclass(slots=True)
class _Frame:
    relpath: str
    path: bytes
    base: dict[bytes, FileRow]
    seen: set[bytes] = field(default_factory=set)
    unreadable: bool = False


def _parent(relpath: str) -> str:
    head, _, _ = relpath.rpartition("/")
    return head or ROOT_RELPATH


def _is_within(relpath: str, directory: str) -> bool:
    if directory == ROOT_RELPATH:
        return True
    return relpath == directory or relpath.startswith(directory + "/")


class BaseView:
    def __init__(self, store: FilesStore, base_run_id: int, root: bytes | str) -> None:
        self.store = store
        self.base_run_id = base_run_id
        self.root = normalize(root)
        self._stack: list[_Frame] = []
        self._root_record: FileRow | None = None
        self._pending: list[FileRow] = []
        self.queries = 0
        """Directory listings read so far (bench and tests)."""

    def _abs(self, relpath: str) -> bytes:
        if relpath == ROOT_RELPATH:
            return self.root
        return join_path(self.root, os.fsencode(relpath))

    # -- levels.Lookup -------------------------------------------------------------------

    def lookup(self, relpath: str) -> PreviousRecord | None:
        """The base run's record of ``relpath``, or None (new file)."""
        row = self._base_row(relpath)
        return previous_record(row) if row is not None else None

    def __call__(self, relpath: str) -> PreviousRecord | None:
        return self.lookup(relpath)

    def _base_row(self, relpath: str) -> FileRow | None:
        if relpath == ROOT_RELPATH:
            if self._root_record is None:
                self._root_record = self.store.lookup(self.root, self.base_run_id)
            return self._root_record
        frame = self._frame_for(_parent(relpath))
        return frame.base.get(os.fsencode(relpath.rpartition("/")[2]))

    # -- deletions -----------------------------------------------------------------------

    def seen(self, relpath: str, kind: Kind) -> list[FileRow]:
        """Record ``relpath`` as present this run; returns the deletions found meanwhile."""
        if relpath == ROOT_RELPATH:
            self._close_to(ROOT_RELPATH)
        else:
            frame = self._frame_for(_parent(relpath))
            name = os.fsencode(relpath.rpartition("/")[2])
            frame.seen.add(name)
            before = frame.base.get(name)
            if before is not None and before.kind == Kind.DIRECTORY and kind != Kind.DIRECTORY:
                self._pending += self._subtree(before.path)
        if kind == Kind.DIRECTORY:
            self._frame_for(relpath)
        return self._drain()

    def unreadable(self, relpath: str) -> None:
        """The directory could not be listed: its contents are unknown, not deleted."""
        self._frame_for(relpath).unreadable = True

    def finish(self) -> list[FileRow]:
        """Close every open directory; the last deletions."""
        while self._stack:
            self._close(self._stack.pop())
        return self._drain()

    def _drain(self) -> list[FileRow]:
        pending, self._pending = self._pending, []
        return pending

    # -- the stack -----------------------------------------------------------------------

    def _frame_for(self, directory: str) -> _Frame:
        """The open frame of ``directory``, closing frames that are not its ancestors."""
        self._close_to(directory)
        if not self._stack or self._stack[-1].relpath != directory:
            path = self._abs(directory)
            self.queries += 1
            listing = self.store.previous_directory(self.base_run_id, path)
            self._stack.append(_Frame(directory, path, listing))
        return self._stack[-1]

    def _close_to(self, directory: str) -> None:
        while self._stack and not _is_within(directory, self._stack[-1].relpath):
            self._close(self._stack.pop())

    def _close(self, frame: _Frame) -> None:
        """What the base listing held and this run did not see was deleted."""
        if frame.unreadable:
            return
        for name, row in sorted(frame.base.items()):
            if name in frame.seen:
                continue
            self._pending.append(_deletion(row))
            if row.kind == Kind.DIRECTORY:
                self._pending += self._subtree(row.path)

    def _subtree(self, path: bytes) -> list[FileRow]:
        return [_deletion(r) for r in self.store.descendants(self.base_run_id, path)]


def _deletion(row: FileRow) -> FileRow:
    """A row saying ``row.path`` is gone: the kind and metadata it had, no position."""
    return FileRow(
        path=row.path,
        kind=row.kind,
        size=row.size,
        mode=row.mode,
        uid=row.uid,
        gid=row.gid,
        uname=row.uname,
        gname=row.gname,
        mtime_ns=row.mtime_ns,
        ctime_ns=row.ctime_ns,
        inode=row.inode,
        dev=row.dev,
        nlink=row.nlink,
        change=Change.DELETED,
    )
