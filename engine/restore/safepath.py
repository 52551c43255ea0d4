"""Writing under the restore root and nowhere else (issue 5 "Safety").

Every operation goes through directory file descriptors opened from the root with
``O_NOFOLLOW``: a relative path is split into components, ``..``, absolute paths, NUL bytes and
empty names are refused (``UnsafePath``), and each parent component is opened with
``O_DIRECTORY | O_NOFOLLOW``, so a symlink anywhere below the root (one planted earlier in the
same restore, or one already there) is never followed: the member is refused instead. The
final name is only ever created (``O_EXCL``), renamed over, linked or unlinked relative to its
parent's descriptor, and those never follow a symlink in the last component.

Not thread-safe: one restore uses one ``Root`` from one thread.
"""

from __future__ import annotations

import errno
import itertools
import os
from collections import OrderedDict

SEP = b"/"
PARENT_FDS = 64
"""Open parent directories kept (members come in tar order: siblings share a parent)."""
DIR_MODE = 0o700
"""Directories created before their member is read (the member's mode is set at the end)."""
TMP_PREFIX = b".tapir-restore-"
NOFOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(ValueError):
    """A member that would be written outside the root; the message says why."""

    code = "restore.unsafe_path"


def components(rel: bytes) -> list[bytes]:
    """``a/b/c`` -> [a, b, c]. Refuses absolute paths, ``..``, NUL and an empty path."""
    if not rel or rel.startswith(SEP):
        raise UnsafePath(f"{_show(rel)} is absolute or empty; members must be relative.")
    if b"\0" in rel:
        raise UnsafePath(f"{_show(rel)} holds a NUL byte.")
    parts = [p for p in rel.split(SEP) if p not in (b"", b".")]
    if b".." in parts:
        raise UnsafePath(f"{_show(rel)} contains '..' and could leave the restore root.")
    if not parts:
        raise UnsafePath(f"{_show(rel)} names the root itself.")
    return parts


def _show(rel: bytes) -> str:
    return repr(os.fsdecode(rel))


class Root:
    """The restore root; ``parent(parts)`` gives the descriptor of a member's directory."""

    def __init__(self, root: bytes) -> None:
        os.makedirs(root, exist_ok=True)
        self.path = root
        self.fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._fds: OrderedDict[tuple[bytes, ...], int] = OrderedDict()
        self._tmp = itertools.count()
        self.created_dirs: set[tuple[bytes, ...]] = set()

    def parent(self, parts: list[bytes], *, create: bool = True) -> int:
        """Descriptor of the directory holding ``parts[-1]``; missing directories are made
        (``DIR_MODE``) when ``create``. Raises ``UnsafePath`` at a symlink or non-directory."""
        return self.directory(tuple(parts[:-1]), create=create)

    def directory(self, key: tuple[bytes, ...], *, create: bool = True) -> int:
        if not key:
            return self.fd
        fd = self._fds.get(key)
        if fd is not None:
            self._fds.move_to_end(key)
            return fd
        up = self.directory(key[:-1], create=create)
        name = key[-1]
        try:
            fd = os.open(name, NOFOLLOW_DIR, dir_fd=up)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(name, DIR_MODE, dir_fd=up)
            self.created_dirs.add(key)
            fd = os.open(name, NOFOLLOW_DIR, dir_fd=up)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                where = os.fsdecode(SEP.join(key))
                raise UnsafePath(
                    f"{where!r} is a symlink or not a directory; nothing is written through it."
                ) from exc
            raise
        self._fds[key] = fd
        if len(self._fds) > PARENT_FDS:
            _, old = self._fds.popitem(last=False)
            os.close(old)
        return fd

    def forget(self, key: tuple[bytes, ...]) -> None:
        """A directory was replaced: drop its cached descriptor (and its children's)."""
        for k in [k for k in self._fds if k[: len(key)] == key]:
            os.close(self._fds.pop(k))

    def tmp_name(self) -> bytes:
        return TMP_PREFIX + b"%d-%d" % (os.getpid(), next(self._tmp))

    def lstat(self, dir_fd: int, name: bytes) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        os.close(self.fd)
