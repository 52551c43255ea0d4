"""Scan stage: walk the source tree and produce one :class:`FileEntry` per item to back up.

Algorithm: an explicit stack of directory frames (no recursion, so depth is unlimited); each
directory is listed once with ``os.scandir``, its names sorted, and its items produced in that
order, a directory before its contents (pre-order, as tar archives them). Each item is
``lstat``-ed once, when it is reached, so metadata is as fresh as the bounded pipeline allows.
Symlinks are never followed (the source itself included, as GNU tar does without ``-h``).

Order is deterministic: names sorted by code point, which for UTF-8 names is byte order, so two
runs over the same tree compare item by item.

Paths are ``str``; names that are not valid UTF-8 survive as surrogate escapes
(``os.fsdecode``), and :attr:`FileEntry.path_bytes` gives the original bytes back. Every ``os``
call accepts the ``str`` form unchanged.

What is not produced:
- excluded items (patterns.py) are counted in :class:`ScanStats`, never reported;
- sockets (and any type the kernel adds) are reported through ``on_item_error`` as skipped;
- an item that vanishes between listing and ``lstat``, or a directory that cannot be listed,
  is reported and the walk goes on;
- with ``one_file_system``, a directory on another file system (a mount point) is produced
  (so a restore recreates it) but not descended, and counted in ``ScanStats.other_fs``.

FIFOs and device files are produced (their metadata is backed up) and never opened here.

Plain runs (``runs`` > 0, the pipeline's full backups): consecutive names of one directory that
the listing itself says are regular files (``d_type``, no ``lstat``) come out as one
:class:`PlainRun` of up to ``runs`` names instead of one ``FileEntry`` each. Why: a small file's
``lstat`` and entry object are a third of the backup process's time per file (issue 4
"Speed"); a reader worker process (read_worker.py) opens, ``fstat``-s and reads the run's files
instead, and what it does not take is ``lstat``-ed by the reader stage (:func:`entry_at`), as the
walk would have. Their sizes are not in ``ScanStats.bytes``.

Memory: one sorted listing per directory level on the stack, so it grows with the widest
directory on the current path, never with the tree.

Threads: a :class:`Scanner` is iterated by one thread (the pipeline's scan stage); the callback
runs on that thread.
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from engine.backup.exceptions import (
    ItemErrorHandler,
    ItemException,
    Reason,
    describe_errno,
    from_os_error,
)
from engine.backup.patterns import Selection

ROOT_RELPATH = "."
"""Relative path of the source itself; children are ``name``, ``name/child``, ..."""


class Kind(StrEnum):
    """File type, from ``st_mode``."""

    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    FIFO = "fifo"
    CHAR_DEVICE = "char_device"
    BLOCK_DEVICE = "block_device"
    SOCKET = "socket"
    UNKNOWN = "unknown"


_KIND_BY_FORMAT: dict[int, Kind] = {
    stat_mod.S_IFREG: Kind.FILE,
    stat_mod.S_IFDIR: Kind.DIRECTORY,
    stat_mod.S_IFLNK: Kind.SYMLINK,
    stat_mod.S_IFIFO: Kind.FIFO,
    stat_mod.S_IFCHR: Kind.CHAR_DEVICE,
    stat_mod.S_IFBLK: Kind.BLOCK_DEVICE,
    stat_mod.S_IFSOCK: Kind.SOCKET,
}

UNSUPPORTED_KINDS = frozenset({Kind.SOCKET, Kind.UNKNOWN})
"""A socket cannot be recreated by a restore (it only exists while a process listens)."""


def kind_of(mode: int) -> Kind:
    return _KIND_BY_FORMAT.get(stat_mod.S_IFMT(mode), Kind.UNKNOWN)


class FileEntry:
    """One scanned item: its paths, type, ``lstat`` result and symlink target.

    Fields are read straight from the ``os.stat_result`` (no copies); times are nanoseconds.
    The pax writer makes the header from these (or, for regular files, from the fresher
    ``fstat`` the reader takes at open, ``SourceFile.stat``).
    """

    __slots__ = ("kind", "link_target", "path", "relpath", "st")

    def __init__(
        self, path: str, relpath: str, kind: Kind, st: os.stat_result, link_target: str | None
    ) -> None:
        self.path = path
        """Absolute path, for opening."""
        self.relpath = relpath
        """Path relative to the source, ``/``-separated; ``"."`` for the source itself."""
        self.kind = kind
        self.st = st
        self.link_target = link_target
        """``readlink`` result for symlinks, else ``None``."""

    @property
    def path_bytes(self) -> bytes:
        return os.fsencode(self.path)

    @property
    def relpath_bytes(self) -> bytes:
        return os.fsencode(self.relpath)

    @property
    def size(self) -> int:
        return self.st.st_size

    @property
    def mode(self) -> int:
        return self.st.st_mode

    @property
    def permissions(self) -> int:
        return stat_mod.S_IMODE(self.st.st_mode)

    @property
    def uid(self) -> int:
        return self.st.st_uid

    @property
    def gid(self) -> int:
        return self.st.st_gid

    @property
    def mtime_ns(self) -> int:
        return self.st.st_mtime_ns

    @property
    def ctime_ns(self) -> int:
        return self.st.st_ctime_ns

    @property
    def atime_ns(self) -> int:
        return self.st.st_atime_ns

    @property
    def ino(self) -> int:
        return self.st.st_ino

    @property
    def dev(self) -> int:
        return self.st.st_dev

    @property
    def nlink(self) -> int:
        return self.st.st_nlink

    @property
    def identity(self) -> tuple[int, int]:
        """``(st_dev, st_ino)``: the key for hard links and for the in-use snapshot."""
        return (self.st.st_dev, self.st.st_ino)

    @property
    def rdev_major(self) -> int:
        return os.major(self.st.st_rdev)

    @property
    def rdev_minor(self) -> int:
        return os.minor(self.st.st_rdev)

    def __repr__(self) -> str:
        return f"FileEntry({self.relpath!r}, {self.kind.value}, size={self.size})"


class PlainRun:
    """Names in one directory, in walk order, that were regular files when listed."""

    __slots__ = ("directory", "names", "prefix")

    def __init__(self, directory: str, prefix: str, names: list[str]) -> None:
        self.directory = directory
        """Absolute path of the directory, ``/``-terminated."""
        self.prefix = prefix
        """Relative path of the directory, ``/``-terminated (``""`` for the source)."""
        self.names = names

    def __repr__(self) -> str:
        return f"PlainRun({self.prefix!r}, {len(self.names)} names)"


def entry_at(
    path: str, relpath: str, st: os.stat_result | None = None
) -> FileEntry | ItemException:
    """``lstat`` (unless given ``st``) and ``readlink`` one path, as the walk does for a
    listed name: its entry, or the exception that keeps it out (vanished, unreadable,
    unsupported type)."""
    try:
        if st is None:
            st = os.lstat(path)
        kind = kind_of(st.st_mode)
        link = os.readlink(path) if kind is Kind.SYMLINK else None
    except OSError as exc:
        return from_os_error(path, exc)
    if kind in UNSUPPORTED_KINDS:
        return ItemException(Reason.UNSUPPORTED_TYPE, path, kind=kind.value)
    return FileEntry(path, relpath, kind, st, link)


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What to take from the source (issue 4, "Running it")."""

    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    one_file_system: bool = False
    runs: int = 0
    """Most names in one ``PlainRun`` (module docstring); 0: every item is a ``FileEntry``."""


@dataclass(slots=True)
class ScanStats:
    """Counts kept while scanning; read them after (or during) the walk."""

    items: int = 0
    files: int = 0
    directories: int = 0
    bytes: int = 0
    """Sum of regular file sizes at ``lstat`` time."""
    excluded: int = 0
    """Items left out by the job's rules; an excluded directory counts once."""
    other_fs: int = 0
    """Mount points produced but not descended (``one_file_system``)."""
    reported: int = 0
    """Item exceptions reported by the scan."""
    by_kind: dict[Kind, int] = field(default_factory=dict)


def _ignore(path: str, exc: ItemException) -> None:
    return None


class _Frame:
    __slots__ = ("children", "emitted", "entry", "included", "prefix")

    def __init__(
        self, entry: FileEntry, children: Iterator[os.DirEntry[str]], emitted: bool, included: bool
    ) -> None:
        self.entry = entry
        self.children = children
        self.emitted = emitted
        self.included = included
        """Everything below is included (no include patterns, or this directory matched one)."""
        self.prefix = "" if entry.relpath == ROOT_RELPATH else entry.relpath + "/"


def _by_name(d: os.DirEntry[str]) -> str:
    return d.name


class Scanner:
    """Iterate to walk ``root``; ``stats`` fills in as items are produced.

    Raises ``OSError`` only if the source itself cannot be ``lstat``-ed (a missing source is a
    job-level error, reported to the user before anything is written). Everything below the
    source goes through ``on_item_error``.
    """

    def __init__(
        self,
        root: str | bytes | os.PathLike[str],
        options: ScanOptions | None = None,
        on_item_error: ItemErrorHandler | None = None,
    ) -> None:
        self.root = os.path.abspath(os.fsdecode(os.fspath(root)))
        self.options = options or ScanOptions()
        self.selection = Selection(self.options.includes, self.options.excludes)
        self.on_item_error = on_item_error or _ignore
        self.stats = ScanStats()

    def __iter__(self) -> Iterator[FileEntry | PlainRun]:
        st = os.lstat(self.root)
        kind = kind_of(st.st_mode)
        link = os.readlink(self.root) if kind is Kind.SYMLINK else None
        root = FileEntry(self.root, ROOT_RELPATH, kind, st, link)
        if kind in UNSUPPORTED_KINDS:
            self._report(ItemException(Reason.UNSUPPORTED_TYPE, root.path, kind=kind.value))
            return
        self._count(root)
        yield root
        if kind is not Kind.DIRECTORY:
            return
        children = self._list(root, emitted=True)
        if children is None:
            return
        stack = [_Frame(root, children, emitted=True, included=not self.selection.includes)]
        yield from self._walk(stack, st.st_dev)

    def _walk(self, stack: list[_Frame], root_dev: int) -> Iterator[FileEntry | PlainRun]:
        selection = self.selection
        filtering = not selection.selects_everything
        one_fs = self.options.one_file_system
        most = self.options.runs
        run: list[str] = []
        while stack:
            frame = stack[-1]
            d = next(frame.children, None)
            if d is None:
                if run:
                    yield self._run(frame, run)
                    run = []
                stack.pop()
                continue
            relpath = frame.prefix + d.name
            included = frame.included
            if most and frame.emitted and self._plain(d):
                if filtering and (
                    selection.excluded(relpath, False)
                    or not (included or selection.included(relpath, False))
                ):
                    self.stats.excluded += 1
                    continue
                if len(run) >= most:
                    yield self._run(frame, run)
                    run = []
                run.append(d.name)
                continue
            if run:  # the run ends before anything else of its directory
                yield self._run(frame, run)
                run = []
            if filtering:
                is_dir = self._is_dir(d)
                if selection.excluded(relpath, is_dir):
                    self.stats.excluded += 1
                    continue
                if not included:
                    included = selection.included(relpath, is_dir)
                    if not included and not is_dir:
                        self.stats.excluded += 1
                        continue
            entry = self._entry(d, relpath, report=included)
            if entry is None:
                continue
            if entry.kind is not Kind.DIRECTORY:
                if not frame.emitted:
                    yield from self._emit_pending(stack)
                self._count(entry)
                yield entry
                continue
            if included:
                if not frame.emitted:
                    yield from self._emit_pending(stack)
                self._count(entry)
                yield entry
            if one_fs and entry.st.st_dev != root_dev:
                self.stats.other_fs += 1
                continue
            children = self._list(entry, emitted=included)
            if children is not None:
                stack.append(_Frame(entry, children, emitted=included, included=included))

    def _run(self, frame: _Frame, names: list[str]) -> PlainRun:
        stats = self.stats
        stats.items += len(names)
        stats.files += len(names)
        stats.by_kind[Kind.FILE] = stats.by_kind.get(Kind.FILE, 0) + len(names)
        directory = frame.entry.path.rstrip("/") + "/"
        return PlainRun(directory, frame.prefix, names)

    @staticmethod
    def _plain(d: os.DirEntry[str]) -> bool:
        """A regular file by the listing alone (``is_file`` may ``lstat`` when the file
        system gives no type; an error there is for the walk's own ``lstat`` to report)."""
        try:
            return d.is_file(follow_symlinks=False)
        except OSError:
            return False

    def _emit_pending(self, stack: list[_Frame]) -> Iterator[FileEntry]:
        """Directories above an included item that were held back (include patterns only)."""
        for frame in stack:
            if not frame.emitted:
                frame.emitted = True
                self._count(frame.entry)
                yield frame.entry

    def _is_dir(self, d: os.DirEntry[str]) -> bool:
        try:
            return d.is_dir(follow_symlinks=False)
        except OSError:
            return False  # the lstat below reports it

    def _entry(self, d: os.DirEntry[str], relpath: str, *, report: bool) -> FileEntry | None:
        """``lstat`` (and ``readlink``) one listed name; ``None`` after reporting a problem
        (an unsupported type outside the includes is only counted as excluded)."""
        try:
            st = d.stat(follow_symlinks=False)
        except OSError as exc:
            self._report(from_os_error(d.path, exc))
            return None
        found = entry_at(d.path, relpath, st)
        if isinstance(found, FileEntry):
            return found
        if report or found.code is not Reason.UNSUPPORTED_TYPE:
            self._report(found)
        else:
            self.stats.excluded += 1
        return None

    def _list(self, entry: FileEntry, *, emitted: bool) -> Iterator[os.DirEntry[str]] | None:
        """The directory's items sorted by name, or ``None`` after reporting why not."""
        try:
            with os.scandir(entry.path) as it:
                return iter(sorted(it, key=_by_name))
        except (FileNotFoundError, NotADirectoryError):
            self._report(ItemException(Reason.VANISHED, entry.path, stored=emitted))
        except OSError as exc:
            self._report(
                ItemException(
                    Reason.DIRECTORY_UNREADABLE,
                    entry.path,
                    stored=emitted,
                    error=describe_errno(exc),
                )
            )
        return None

    def _count(self, entry: FileEntry) -> None:
        stats = self.stats
        stats.items += 1
        stats.by_kind[entry.kind] = stats.by_kind.get(entry.kind, 0) + 1
        if entry.kind is Kind.FILE:
            stats.files += 1
            stats.bytes += entry.st.st_size
        elif entry.kind is Kind.DIRECTORY:
            stats.directories += 1

    def _report(self, exc: ItemException) -> None:
        self.stats.reported += 1
        self.on_item_error(exc.path, exc)


def scan(
    root: str | bytes | os.PathLike[str],
    options: ScanOptions | None = None,
    on_item_error: ItemErrorHandler | None = None,
) -> Iterator[FileEntry | PlainRun]:
    """Walk ``root`` (see :class:`Scanner`); use a ``Scanner`` directly to read its stats."""
    return iter(Scanner(root, options, on_item_error))
