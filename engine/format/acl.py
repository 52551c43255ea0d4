"""POSIX ACLs between the kernel's xattr form and the text form GNU tar stores.

GNU tar ``--acls`` (pax ``SCHILY.acl.access`` / ``SCHILY.acl.default``) stores libacl's
``acl_to_text``: one ``tag:qualifier:perms`` entry per line, user and group qualifiers by name
when the name resolves. We read the ACL from the ``system.posix_acl_access`` /
``system.posix_acl_default`` xattrs (Linux ``posix_acl_xattr.h``: a little-endian u32 version 2,
then entries of u16 tag, u16 perm, u32 id) so no libacl is needed, and turn text back into that
form for restore (issue 5).
"""

from __future__ import annotations

import grp
import pwd
import struct
from functools import lru_cache

ACCESS_XATTR = b"system.posix_acl_access"
DEFAULT_XATTR = b"system.posix_acl_default"
ACCESS_KEY = b"SCHILY.acl.access"
DEFAULT_KEY = b"SCHILY.acl.default"
XATTR_VERSION = 2
UNDEFINED_ID = 0xFFFFFFFF

_HEADER = struct.Struct("<I")
_ENTRY = struct.Struct("<HHI")

USER_OBJ = 0x01
USER = 0x02
GROUP_OBJ = 0x04
GROUP = 0x08
MASK = 0x10
OTHER = 0x20
_TAG_NAMES = {
    USER_OBJ: "user",
    USER: "user",
    GROUP_OBJ: "group",
    GROUP: "group",
    MASK: "mask",
    OTHER: "other",
}
_PERM_BITS = ((4, "r"), (2, "w"), (1, "x"))


class AclError(ValueError):
    """An ACL in neither the kernel's xattr form nor libacl's text form."""


@lru_cache(maxsize=4096)
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@lru_cache(maxsize=4096)
def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _perms(bits: int) -> str:
    return "".join(letter if bits & bit else "-" for bit, letter in _PERM_BITS)


def xattr_to_text(raw: bytes) -> str:
    """``acl_to_text`` of the kernel xattr value (lines ending in newline)."""
    if len(raw) < _HEADER.size or (len(raw) - _HEADER.size) % _ENTRY.size:
        raise AclError("ACL xattr of a wrong length")
    (version,) = _HEADER.unpack_from(raw)
    if version != XATTR_VERSION:
        raise AclError(f"ACL xattr version {version}")
    lines = []
    for tag, perm, ident in _ENTRY.iter_unpack(raw[_HEADER.size :]):
        if tag not in _TAG_NAMES:
            raise AclError(f"ACL entry tag {tag:#x}")
        qualifier = ""
        if tag == USER:
            qualifier = _user_name(ident)
        elif tag == GROUP:
            qualifier = _group_name(ident)
        lines.append(f"{_TAG_NAMES[tag]}:{qualifier}:{_perms(perm)}\n")
    return "".join(lines)


def _resolve(qualifier: str, *, user: bool) -> int:
    if qualifier.isdigit():
        return int(qualifier)
    try:
        return pwd.getpwnam(qualifier).pw_uid if user else grp.getgrnam(qualifier).gr_gid
    except KeyError as exc:
        raise AclError(f"unknown {'user' if user else 'group'} {qualifier!r} in ACL") from exc


def text_to_xattr(text: str) -> bytes:
    """The kernel xattr value for an ACL in text form (entries by newline or comma; comments
    after ``#`` ignored), sorted as the kernel wants them (by tag, then id)."""
    entries = []
    for raw_line in text.replace(",", "\n").splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(":")
        if len(parts) != 3:
            raise AclError(f"ACL entry {line!r}")
        kind, qualifier, perms = parts
        perm = sum(bit for bit, letter in _PERM_BITS if letter in perms)
        if kind in ("user", "u"):
            tag = USER if qualifier else USER_OBJ
            ident = _resolve(qualifier, user=True) if qualifier else UNDEFINED_ID
        elif kind in ("group", "g"):
            tag = GROUP if qualifier else GROUP_OBJ
            ident = _resolve(qualifier, user=False) if qualifier else UNDEFINED_ID
        elif kind in ("mask", "m"):
            tag, ident = MASK, UNDEFINED_ID
        elif kind in ("other", "o"):
            tag, ident = OTHER, UNDEFINED_ID
        else:
            raise AclError(f"ACL entry {line!r}")
        entries.append((tag, ident, perm))
    entries.sort()
    body = b"".join(_ENTRY.pack(tag, perm, ident) for tag, ident, perm in entries)
    return _HEADER.pack(XATTR_VERSION) + body
