"""``Member`` <-> header bytes: the ustar block, preceded by a pax extended header only when
ustar cannot hold a field (POSIX pax "ustar Interchange Format" limits; GNU tar's keywords for
what POSIX does not define).

Fast path: short ASCII name, ids < 2**21, size < 8 GiB, whole-second mtime, no atime/ctime,
xattrs or ACLs: one 512-byte block, no pax header. Everything else adds pax records:
``path`` / ``linkpath`` (long or non-ASCII; ``hdrcharset=BINARY`` when not UTF-8), ``uname`` /
``gname``, ``uid`` / ``gid``, ``size``, ``mtime`` / ``atime`` / ``ctime`` (ns), ``SCHILY.xattr.*``,
``SCHILY.acl.access`` / ``SCHILY.acl.default`` and the ``GNU.sparse.*`` 1.0 keys.
"""

from __future__ import annotations

import zlib

from engine.format import headers as h
from engine.format import sparse as sp
from engine.format.members import KINDS, TYPEFLAGS, Member, MemberKind

XATTR_PREFIX = b"SCHILY.xattr."
ACL_ACCESS_KEY = b"SCHILY.acl.access"
ACL_DEFAULT_KEY = b"SCHILY.acl.default"
VOLUME_FILENAME_KEY = b"GNU.volume.filename"
VOLUME_SIZE_KEY = b"GNU.volume.size"
VOLUME_OFFSET_KEY = b"GNU.volume.offset"
NO_DATA_TYPES = frozenset({h.HARDLINK, h.SYMLINK, h.CHARDEV, h.BLOCKDEV, h.DIRECTORY, h.FIFO})
"""POSIX ustar "size": readers ignore it for links, devices, directories and FIFOs."""


_FAST_TIMES = (10**9, 10**10)
"""Times from 2001 to 2286 have ten-digit seconds: their records have a fixed length."""
_THREE_TIMES = b"30 mtime=%d.%09d\n30 atime=%d.%09d\n30 ctime=%d.%09d\n"


def _ascii_fallback(value: bytes, limit: int) -> bytes:
    """What tarfile puts in a ustar field when the value went to pax: ASCII with '?'."""
    return value.decode("utf-8", "surrogateescape").encode("ascii", "replace")[:limit]


def encode_member(
    member: Member,
    *,
    stored_size: int | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> bytes:
    """Header bytes for ``member`` (pax header if needed, then the ustar block).

    ``stored_size`` is the byte count that follows in the archive when it differs from
    ``member.size`` (sparse files: map + extents; hard links: 0). ``extra`` records go last.
    """
    kind = member.kind
    if (
        kind is MemberKind.FILE
        and stored_size is None
        and extra is None
        and member.sparse is None
        and not member.xattrs
        and not member.linkname
        and member.acl_access is None
        and member.acl_default is None
    ):
        fast = _plain_file(member)
        if fast is not None:
            return fast
    size = member.size if stored_size is None else stored_size
    name = member.name
    if kind is MemberKind.DIRECTORY and not name.endswith(b"/"):
        name += b"/"
    typeflag = TYPEFLAGS[kind]
    records: list[tuple[bytes, bytes]] = []
    if member.sparse is not None:
        records += [
            (sp.MAJOR_KEY, b"1"),
            (sp.MINOR_KEY, b"0"),
            (sp.NAME_KEY, name),
            (sp.REALSIZE_KEY, b"%d" % member.size),
        ]
        name = sp.sparse_name(name)
    ustar_name = name
    if len(name) > h.NAME_LEN or not name.isascii():
        records.append((b"path", name))
        ustar_name = _ascii_fallback(name, h.NAME_LEN)
    linkname = member.linkname
    if len(linkname) > h.LINK_LEN or not linkname.isascii():
        records.append((b"linkpath", linkname))
        linkname = _ascii_fallback(linkname, h.LINK_LEN)
    uname, gname = member.uname, member.gname
    if len(uname) > h.OWNER_LEN or not uname.isascii():
        records.append((b"uname", uname))
        uname = _ascii_fallback(uname, h.OWNER_LEN)
    if len(gname) > h.OWNER_LEN or not gname.isascii():
        records.append((b"gname", gname))
        gname = _ascii_fallback(gname, h.OWNER_LEN)
    uid, gid = member.uid, member.gid
    if not 0 <= uid < h.MAX_ID:
        records.append((b"uid", b"%d" % uid))
        uid = 0
    if not 0 <= gid < h.MAX_ID:
        records.append((b"gid", b"%d" % gid))
        gid = 0
    if size >= h.MAX_SIZE:
        records.append((b"size", b"%d" % size))
        size_field = 0
    else:
        size_field = size
    seconds, frac = divmod(member.mtime_ns, h.NS)
    times = b""
    atime, ctime = member.atime_ns, member.ctime_ns
    if atime is not None and ctime is not None and _FAST_TIMES[0] <= seconds < _FAST_TIMES[1]:
        a_sec, a_frac = divmod(atime, h.NS)
        c_sec, c_frac = divmod(ctime, h.NS)
        if _FAST_TIMES[0] <= a_sec < _FAST_TIMES[1] and _FAST_TIMES[0] <= c_sec < _FAST_TIMES[1]:
            times = _THREE_TIMES % (seconds, frac, a_sec, a_frac, c_sec, c_frac)
            atime = ctime = None
    if not times and (frac or not 0 <= seconds < h.MAX_SIZE):
        times = h.pax_record(b"mtime", h.format_time(member.mtime_ns))
    if not 0 <= seconds < h.MAX_SIZE:  # beyond 2242: the pax mtime record alone holds it
        seconds = 0
    if atime is not None:
        times += h.pax_record(b"atime", h.format_time(atime))
    if ctime is not None:
        times += h.pax_record(b"ctime", h.format_time(ctime))
    if member.acl_access:
        records.append((ACL_ACCESS_KEY, member.acl_access.encode()))
    if member.acl_default:
        records.append((ACL_DEFAULT_KEY, member.acl_default.encode()))
    if member.xattrs:
        for key, value in member.xattrs.items():
            records.append((XATTR_PREFIX + key, value))
    if extra:
        records += extra
    block = h.ustar_header(
        ustar_name,
        member.mode,
        uid,
        gid,
        size_field,
        seconds,
        typeflag,
        linkname,
        uname,
        gname,
        member.devmajor,
        member.devminor,
    )
    if records:
        return h.pax_header(records, times=times) + block
    if times:
        return h.pax_header_for(times) + block
    return block


_TEMPLATES: dict[tuple[int, int, int, bytes, bytes], tuple[bytes, bytes, int]] = {}
"""Per (mode, uid, gid, uname, gname): the fixed parts of a plain file's ustar block and
their byte sum (the checksum field counted as spaces)."""
_TEMPLATE_LIMIT = 4096
_NUL = b"\0"


def _template(
    mode: int, uid: int, gid: int, uname: bytes, gname: bytes
) -> tuple[bytes, bytes, int]:
    key = (mode, uid, gid, uname, gname)
    found = _TEMPLATES.get(key)
    if found is None:
        whole = h.ustar_header(b"", mode, uid, gid, 0, 0, h.REGULAR, b"", uname, gname)
        ids = whole[h.NAME_LEN : h.NAME_LEN + 24]
        tail = whole[h.CHECKSUM_OFFSET + h.CHECKSUM_LEN :]
        const = h.block_sum(b" " * h.CHECKSUM_LEN) + h.block_sum(ids) + h.block_sum(tail)
        found = (ids, tail, const)
        if len(_TEMPLATES) < _TEMPLATE_LIMIT:
            _TEMPLATES[key] = found
    return found


def _plain_file(member: Member) -> bytes | None:
    """``plain_header`` of a member (``encode_member``'s fast path)."""
    return plain_header(
        member.name,
        member.mode,
        member.uid,
        member.gid,
        member.uname,
        member.gname,
        member.size,
        member.mtime_ns,
        member.atime_ns,
        member.ctime_ns,
    )


def plain_header(
    name: bytes,
    mode: int,
    uid: int,
    gid: int,
    uname: bytes,
    gname: bytes,
    size: int,
    mtime_ns: int,
    atime_ns: int | None,
    ctime_ns: int | None,
) -> bytes | None:
    """The common small-files case (issue 4 "Speed"): a regular file with a short ASCII name,
    ids and names that fit ustar, times from 2001 to 2286 with atime and ctime: the cached
    three-times pax header, then a ustar block from a cached template with only the name,
    size and mtime patched and the checksum summed over just those. Byte for byte what
    ``encode_member``'s general path gives (tests/engine/format/test_headers.py); None when
    it does not apply. Takes the fields, not a ``Member``: a reader worker process
    (engine/backup/read_worker.py) builds none."""
    if (
        atime_ns is None
        or ctime_ns is None
        or len(name) > h.NAME_LEN
        or not name.isascii()
        or len(uname) > h.OWNER_LEN
        or not uname.isascii()
        or len(gname) > h.OWNER_LEN
        or not gname.isascii()
        or not 0 <= uid < h.MAX_ID
        or not 0 <= gid < h.MAX_ID
        or not 0 <= size < h.MAX_SIZE
    ):
        return None
    seconds, frac = divmod(mtime_ns, h.NS)
    a_sec, a_frac = divmod(atime_ns, h.NS)
    c_sec, c_frac = divmod(ctime_ns, h.NS)
    low, high = _FAST_TIMES
    if not (low <= seconds < h.MAX_SIZE and low <= a_sec < high and low <= c_sec < high):
        return None
    ids, tail, const = _template(mode & 0o7777, uid, gid, uname, gname)
    numbers = b"%011o\0%011o\0" % (size, seconds)
    # adler32's low 16 bits are 1 + the byte sum while it stays below 65521 (<= 124 bytes)
    check = const + (zlib.adler32(name + numbers) & 0xFFFF) - 1
    return _PLAIN_FORMAT % (
        seconds, frac, a_sec, a_frac, c_sec, c_frac,
        name.ljust(h.NAME_LEN, _NUL), ids, numbers, check, tail,
    )  # fmt: skip


_TIMES_SIZE = len(_THREE_TIMES % (_FAST_TIMES[0], 0, _FAST_TIMES[0], 0, _FAST_TIMES[0], 0))
"""Always 90: ``plain_header``'s three times have ten-digit seconds and nine fraction digits."""
_PLAIN_FORMAT = (
    h.pax_header_for(b"\0" * _TIMES_SIZE)[: h.BLOCK].replace(b"%", b"%%")
    + _THREE_TIMES
    + bytes(h.padding(_TIMES_SIZE))
    + b"%s%s%s%06o\0 %s"
)
"""``plain_header`` in one formatting: the extended header block for a 90-byte body, the
three times, the padding to the block, then the ustar block's fields."""


def decode_member(fields: dict[str, object], records: list[tuple[bytes, bytes]]) -> Member:
    """A Member from a decoded ustar block and the pax records that preceded it.

    Returns the member with ``size`` = content size; the stored size (bytes that follow) is
    ``stored_size(fields, records)``.
    """
    typeflag = fields["type"]
    kind = KINDS.get(typeflag, MemberKind.FILE)  # type: ignore[arg-type]
    name = fields["name"]
    assert isinstance(name, bytes)
    member = Member(
        name=name,
        kind=kind,
        size=int(fields["size"]) if kind is MemberKind.FILE else 0,  # type: ignore[arg-type]
        mode=int(fields["mode"]),  # type: ignore[arg-type]
        uid=int(fields["uid"]),  # type: ignore[arg-type]
        gid=int(fields["gid"]),  # type: ignore[arg-type]
        uname=fields["uname"],  # type: ignore[arg-type]
        gname=fields["gname"],  # type: ignore[arg-type]
        mtime_ns=int(fields["mtime"]) * h.NS,  # type: ignore[call-overload]
        linkname=fields["linkname"],  # type: ignore[arg-type]
        devmajor=int(fields["devmajor"]),  # type: ignore[arg-type]
        devminor=int(fields["devminor"]),  # type: ignore[arg-type]
    )
    sparse_name = None
    realsize = None
    for key, value in records:
        if key == b"path":
            member.name = value
        elif key == b"linkpath":
            member.linkname = value
        elif key == b"uname":
            member.uname = value
        elif key == b"gname":
            member.gname = value
        elif key == b"uid":
            member.uid = int(value)
        elif key == b"gid":
            member.gid = int(value)
        elif key == b"size":
            if kind is MemberKind.FILE:
                member.size = int(value)
        elif key == b"mtime":
            member.mtime_ns = h.parse_time(value)
        elif key == b"atime":
            member.atime_ns = h.parse_time(value)
        elif key == b"ctime":
            member.ctime_ns = h.parse_time(value)
        elif key.startswith(XATTR_PREFIX):
            member.xattrs[key[len(XATTR_PREFIX) :]] = value
        elif key == ACL_ACCESS_KEY:
            member.acl_access = value.decode("utf-8", "surrogateescape")
        elif key == ACL_DEFAULT_KEY:
            member.acl_default = value.decode("utf-8", "surrogateescape")
        elif key == sp.NAME_KEY:
            sparse_name = value
        elif key == sp.REALSIZE_KEY:
            realsize = int(value)
        elif key not in (b"hdrcharset", sp.MAJOR_KEY, sp.MINOR_KEY):
            member.pax[key] = value
    if sparse_name is not None:
        member.name = sparse_name
        member.sparse = []
        if realsize is not None:
            member.size = realsize
    if member.kind is MemberKind.DIRECTORY and member.name.endswith(b"/"):
        member.name = member.name.rstrip(b"/") or b"/"
    return member


def stored_size(fields: dict[str, object], records: list[tuple[bytes, bytes]]) -> int:
    """Bytes of data that follow the header in the archive (pax ``size`` wins)."""
    size = int(fields["size"])  # type: ignore[call-overload]
    for key, value in records:
        if key == b"size":
            size = int(value)
    if fields["type"] in NO_DATA_TYPES:
        return 0
    return size


PARTS_DIR = b"GNUFileParts/"
"""GNU tar names a continued member ``GNUFileParts/<base>.<volume number>``."""


def continuation_header(member: Member, volume_number: int, total: int, offset: int) -> bytes:
    """The start of a volume that continues ``member`` (GNU tar multi-volume, pax form): a
    global header with ``GNU.volume.filename``, ``GNU.volume.size`` (bytes left) and
    ``GNU.volume.offset`` (bytes already on earlier volumes), then a regular member holding
    the rest of the data. ``volume_number`` counts from 1, as ``tar -M`` numbers volumes."""
    left = total - offset
    glob = h.pax_header(
        [
            (VOLUME_FILENAME_KEY, member.name),
            (VOLUME_SIZE_KEY, b"%d" % left),
            (VOLUME_OFFSET_KEY, b"%d" % offset),
        ],
        h.PAX_GLOBAL,
    )
    base = member.name.rstrip(b"/").rpartition(b"/")[2]
    part = Member(
        name=PARTS_DIR + base + b".%d" % volume_number,
        kind=MemberKind.FILE,
        size=left,
        mode=member.mode,
        uid=member.uid,
        gid=member.gid,
        uname=member.uname,
        gname=member.gname,
        mtime_ns=member.mtime_ns // h.NS * h.NS,
    )
    return glob + encode_member(part)


def volume_records(records: list[tuple[bytes, bytes]]) -> tuple[bytes, int, int] | None:
    """(filename, bytes left, offset) from a global header's GNU.volume.* records, or None."""
    values = dict(records)
    if VOLUME_FILENAME_KEY not in values:
        return None
    return (
        values[VOLUME_FILENAME_KEY],
        int(values.get(VOLUME_SIZE_KEY, b"0")),
        int(values.get(VOLUME_OFFSET_KEY, b"0")),
    )
