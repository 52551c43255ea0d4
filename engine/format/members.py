"""What one archive member says about a file: ``Member``, built from ``lstat`` (plus xattrs
and ACLs) by the writer and decoded from headers by the reader.

Names and link targets are bytes (Linux file names are bytes; non-UTF-8 names survive).
Times are integer nanoseconds. ``xattrs`` maps the attribute name (bytes, e.g. b"user.x") to
its value; POSIX ACLs are not in it but in ``acl_access`` / ``acl_default`` (text form).
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import stat
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from engine.format import acl as acls
from engine.format import headers as h

NO_XATTR_ERRNOS = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA, errno.EPERM})


class MemberKind(StrEnum):
    """Member kinds; values are the index's short codes."""

    FILE = "f"
    HARDLINK = "h"
    SYMLINK = "l"
    CHARDEV = "c"
    BLOCKDEV = "b"
    DIRECTORY = "d"
    FIFO = "p"


TYPEFLAGS: dict[MemberKind, bytes] = {
    MemberKind.FILE: h.REGULAR,
    MemberKind.HARDLINK: h.HARDLINK,
    MemberKind.SYMLINK: h.SYMLINK,
    MemberKind.CHARDEV: h.CHARDEV,
    MemberKind.BLOCKDEV: h.BLOCKDEV,
    MemberKind.DIRECTORY: h.DIRECTORY,
    MemberKind.FIFO: h.FIFO,
}
KINDS: dict[bytes, MemberKind] = {flag: kind for kind, flag in TYPEFLAGS.items()}
KINDS.update({h.OLD_REGULAR: MemberKind.FILE, h.CONTIGUOUS: MemberKind.FILE})

_MODE_KINDS = {
    stat.S_IFREG: MemberKind.FILE,
    stat.S_IFDIR: MemberKind.DIRECTORY,
    stat.S_IFLNK: MemberKind.SYMLINK,
    stat.S_IFCHR: MemberKind.CHARDEV,
    stat.S_IFBLK: MemberKind.BLOCKDEV,
    stat.S_IFIFO: MemberKind.FIFO,
}


class UnsupportedType(Exception):
    """A socket or another type tar cannot hold: the caller skips it (issue 4 "Skipped")."""

    code = "format.unsupported_type"


@dataclass(slots=True)
class Member:
    name: bytes
    kind: MemberKind
    size: int = 0
    """Bytes of file content (the real size for a sparse file); 0 for non-files."""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    uname: bytes = b""
    gname: bytes = b""
    mtime_ns: int = 0
    atime_ns: int | None = None
    ctime_ns: int | None = None
    linkname: bytes = b""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[bytes, bytes] = field(default_factory=dict)
    acl_access: str | None = None
    acl_default: str | None = None
    sparse: list[tuple[int, int]] | None = None
    """Data extents (offset, length) of a sparse file, GNU sparse 1.0."""
    pax: dict[bytes, bytes] = field(default_factory=dict)
    """Extended records the reader did not map to a field (kept for callers)."""


def kind_of(st: os.stat_result) -> MemberKind:
    try:
        return _MODE_KINDS[stat.S_IFMT(st.st_mode)]
    except KeyError:
        file_type = stat.S_IFMT(st.st_mode)
        raise UnsupportedType(f"file type {file_type:#o} cannot be archived") from None


@lru_cache(maxsize=4096)
def user_name(uid: int) -> bytes:
    try:
        return os.fsencode(pwd.getpwuid(uid).pw_name)
    except KeyError:
        return b""


@lru_cache(maxsize=4096)
def group_name(gid: int) -> bytes:
    try:
        return os.fsencode(grp.getgrgid(gid).gr_name)
    except KeyError:
        return b""


def read_xattrs(path: bytes, member: Member, *, with_acls: bool) -> None:
    """Fill ``member.xattrs`` and its ACLs from the file (symlinks not followed). A filesystem
    without xattr support yields none; other errors propagate as the item's problem."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in NO_XATTR_ERRNOS:
            return
        raise
    for attr in names:
        key = os.fsencode(attr)
        try:
            value = os.getxattr(path, attr, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in NO_XATTR_ERRNOS:
                continue
            raise
        if key == acls.ACCESS_XATTR:
            if with_acls:
                member.acl_access = acls.xattr_to_text(value)
        elif key == acls.DEFAULT_XATTR:
            if with_acls:
                member.acl_default = acls.xattr_to_text(value)
        else:
            member.xattrs[key] = value


def member_from_stat(name: bytes, st: os.stat_result) -> Member:
    """Metadata only: no xattrs, no link target, no data (the writer adds those)."""
    kind = kind_of(st)
    member = Member(
        name=name,
        kind=kind,
        size=st.st_size if kind is MemberKind.FILE else 0,
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        uname=user_name(st.st_uid),
        gname=group_name(st.st_gid),
        mtime_ns=st.st_mtime_ns,
        atime_ns=st.st_atime_ns,
        ctime_ns=st.st_ctime_ns,
    )
    if kind in (MemberKind.CHARDEV, MemberKind.BLOCKDEV):
        member.devmajor = os.major(st.st_rdev)
        member.devminor = os.minor(st.st_rdev)
    return member
