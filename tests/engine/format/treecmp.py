"""Compare two directory trees: content, type, mode, owner, mtime (ns), symlink targets,
device numbers, hard-link structure, xattrs (POSIX ACLs included, as their xattrs) and sparse
holes. Used by the format tests and by restore tests (issue 5).

``compare_trees(src, dst)`` returns a list of human-readable differences (empty when equal),
so a failing test shows every difference at once. Options turn off what a given tool does not
restore (``mtime_dirs``, ``symlink_mtime``, ...). Sparse files are compared by their data
extents (``SEEK_DATA``) so a 9 GiB file with a few written blocks costs a few reads.
"""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

SPARSE_SLACK = 1 << 20
"""Allocated bytes a restored sparse file may have beyond the source's (filesystem rounding)."""
CHUNK = 1 << 20


@dataclass
class Options:
    mtime: bool = True
    mtime_dirs: bool = True
    symlink_mtime: bool = False
    owner: bool = True
    xattrs: bool = True
    sparse: bool = True
    ignore: frozenset[bytes] = frozenset()
    """Relative paths (bytes) left out on both sides."""


def walk(root: bytes) -> dict[bytes, os.stat_result]:
    """Relative path -> lstat for everything under ``root`` (root itself excluded)."""
    found: dict[bytes, os.stat_result] = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(top, name)
            found[os.path.relpath(full, root)] = os.lstat(full)
    return found


def _xattrs(path: bytes) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    return {name: os.getxattr(path, name, follow_symlinks=False) for name in names}


def _extents(path: bytes, size: int) -> list[tuple[int, int]]:
    fd = os.open(path, os.O_RDONLY)
    try:
        extents = []
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            extents.append((start, end - start))
            pos = end
        return extents
    finally:
        os.close(fd)


def _same_content(a: bytes, b: bytes, size: int) -> bool:
    """Equal bytes over the union of both files' data extents (holes read as zeros)."""
    ranges = sorted(_extents(a, size) + _extents(b, size))
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for offset, length in ranges:
            fa.seek(offset)
            fb.seek(offset)
            left = length
            while left:
                take = min(left, CHUNK)
                if fa.read(take) != fb.read(take):
                    return False
                left -= take
    return True


def _link_groups(tree: dict[bytes, os.stat_result]) -> set[frozenset[bytes]]:
    groups: dict[tuple[int, int], set[bytes]] = defaultdict(set)
    for rel, st in tree.items():
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            groups[(st.st_dev, st.st_ino)].add(rel)
    return {frozenset(paths) for paths in groups.values() if len(paths) > 1}


def compare_trees(src: bytes | str, dst: bytes | str, options: Options | None = None) -> list[str]:
    opts = options or Options()
    src_b, dst_b = os.fsencode(src), os.fsencode(dst)
    left = {k: v for k, v in walk(src_b).items() if k not in opts.ignore}
    right = {k: v for k, v in walk(dst_b).items() if k not in opts.ignore}
    problems = [f"missing in restore: {rel!r}" for rel in sorted(left.keys() - right.keys())]
    problems += [f"extra in restore: {rel!r}" for rel in sorted(right.keys() - left.keys())]
    for rel in sorted(left.keys() & right.keys()):
        problems += _compare_one(rel, src_b, dst_b, left[rel], right[rel], opts)
    if _link_groups(left) != _restrict(_link_groups(right), left.keys()):
        problems.append(f"hard links differ: {_link_groups(left)} vs {_link_groups(right)}")
    return problems


def _restrict(groups: Iterable[frozenset[bytes]], keep: Iterable[bytes]) -> set[frozenset[bytes]]:
    wanted = set(keep)
    return {frozenset(g & wanted) for g in groups if len(g & wanted) > 1}


def _compare_one(
    rel: bytes,
    src: bytes,
    dst: bytes,
    a: os.stat_result,
    b: os.stat_result,
    opts: Options,
) -> list[str]:
    out: list[str] = []
    pa, pb = os.path.join(src, rel), os.path.join(dst, rel)
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return [f"{rel!r}: type {stat.S_IFMT(a.st_mode):o} vs {stat.S_IFMT(b.st_mode):o}"]
    is_link = stat.S_ISLNK(a.st_mode)
    if not is_link and stat.S_IMODE(a.st_mode) != stat.S_IMODE(b.st_mode):
        out.append(f"{rel!r}: mode {stat.S_IMODE(a.st_mode):o} vs {stat.S_IMODE(b.st_mode):o}")
    if opts.owner and (a.st_uid, a.st_gid) != (b.st_uid, b.st_gid):
        out.append(f"{rel!r}: owner {a.st_uid}:{a.st_gid} vs {b.st_uid}:{b.st_gid}")
    check_mtime = opts.mtime and (
        (not stat.S_ISDIR(a.st_mode) or opts.mtime_dirs) and (not is_link or opts.symlink_mtime)
    )
    if check_mtime and a.st_mtime_ns != b.st_mtime_ns:
        out.append(f"{rel!r}: mtime {a.st_mtime_ns} vs {b.st_mtime_ns}")
    if is_link and os.readlink(pa) != os.readlink(pb):
        out.append(f"{rel!r}: symlink {os.readlink(pa)!r} vs {os.readlink(pb)!r}")
    if (stat.S_ISCHR(a.st_mode) or stat.S_ISBLK(a.st_mode)) and a.st_rdev != b.st_rdev:
        out.append(f"{rel!r}: device {a.st_rdev:#x} vs {b.st_rdev:#x}")
    if stat.S_ISREG(a.st_mode):
        if a.st_size != b.st_size:
            out.append(f"{rel!r}: size {a.st_size} vs {b.st_size}")
        elif not _same_content(pa, pb, a.st_size):
            out.append(f"{rel!r}: content differs")
        sparse_src = a.st_blocks * 512 < a.st_size
        if opts.sparse and sparse_src and b.st_blocks * 512 > a.st_blocks * 512 + SPARSE_SLACK:
            out.append(f"{rel!r}: holes lost ({b.st_blocks * 512} bytes allocated)")
    if opts.xattrs and not is_link and _xattrs(pa) != _xattrs(pb):
        out.append(f"{rel!r}: xattrs {_xattrs(pa)} vs {_xattrs(pb)}")
    return out
