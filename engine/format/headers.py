"""Tar header blocks: ustar (POSIX.1-2001 "ustar Interchange Format") and pax extended headers
(POSIX.1-2001 "pax Extended Header"), encoded and decoded by hand.

Why not ``tarfile`` for every member: ``TarInfo.tobuf`` costs tens of microseconds per member,
too much for the small-files target (issue 4 "Speed"). The encoder here follows ``tarfile``'s
PAX_FORMAT output byte for byte (octal fields zero-padded with a NUL, checksum as six octal
digits, NUL, space; device fields empty unless char/block device; extended header named
``././@PaxHeader``), which tests/engine/format/test_headers.py checks with Hypothesis.

Names, link targets and values are bytes throughout: file names on Linux are bytes, and a name
that is not UTF-8 goes into a pax ``path`` record under ``hdrcharset=BINARY``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

BLOCK = 512
NAME_LEN = 100
LINK_LEN = 100
OWNER_LEN = 32
PREFIX_LEN = 155
MAGIC = b"ustar\x0000"
PAX_NAME = b"././@PaxHeader"
MAX_ID = 8**7
"""uid/gid limit of the 8-byte octal field (7 digits); larger ids go to pax."""
MAX_SIZE = 8**11
"""8 GiB: the 12-byte octal size/mtime field limit (11 digits); beyond goes to pax."""
NS = 1_000_000_000
CHECKSUM_OFFSET = 148
CHECKSUM_LEN = 8
HALF_BLOCK = 256

REGULAR = b"0"
HARDLINK = b"1"
SYMLINK = b"2"
CHARDEV = b"3"
BLOCKDEV = b"4"
DIRECTORY = b"5"
FIFO = b"6"
CONTIGUOUS = b"7"
PAX_LOCAL = b"x"
PAX_GLOBAL = b"g"
GNU_LONGNAME = b"L"
GNU_LONGLINK = b"K"
OLD_REGULAR = b"\0"
HDRCHARSET_BINARY = (b"hdrcharset", b"BINARY")

_EMPTY_DEV = bytes(16)
ZERO_BLOCK = bytes(BLOCK)
_ZERO_PAD = ZERO_BLOCK


class HeaderError(ValueError):
    """A block that is not a valid ustar header (bad checksum, bad number field)."""


def block_sum(block: bytes | memoryview) -> int:
    """Sum of the 512 header bytes, computed with zlib.adler32 on each half (its low 16 bits
    are 1 + the byte sum mod 65521, and a half's sum is at most 256 * 255 < 65521): ten times
    faster than ``sum(block)``."""
    view = memoryview(block)
    return (
        (zlib.adler32(view[:HALF_BLOCK]) & 0xFFFF) + (zlib.adler32(view[HALF_BLOCK:]) & 0xFFFF) - 2
    )


def padding(size: int) -> int:
    """Zero bytes that follow ``size`` bytes of member data to end on a block boundary."""
    return -size % BLOCK


def ustar_header(
    name: bytes,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    typeflag: bytes,
    linkname: bytes = b"",
    uname: bytes = b"",
    gname: bytes = b"",
    devmajor: int = 0,
    devminor: int = 0,
) -> bytes:
    """One ustar header block. Every field must already fit (the caller moved what does not
    into pax records and passes 0 or a truncated value here)."""
    if typeflag in (CHARDEV, BLOCKDEV):
        dev = b"%07o\0%07o\0" % (devmajor, devminor)
    else:
        dev = _EMPTY_DEV
    head = b"%s%07o\0%07o\0%07o\0%011o\0%011o\0        %s%s%s%s%s%s" % (
        name.ljust(NAME_LEN, b"\0"),
        mode & 0o7777,
        uid,
        gid,
        size,
        mtime,
        typeflag,
        linkname.ljust(LINK_LEN, b"\0"),
        MAGIC,
        uname.ljust(OWNER_LEN, b"\0"),
        gname.ljust(OWNER_LEN, b"\0"),
        dev,
    )
    head = head.ljust(BLOCK, b"\0")
    return b"%s%06o\0%s" % (
        head[:CHECKSUM_OFFSET],
        block_sum(head),
        head[CHECKSUM_OFFSET + CHECKSUM_LEN - 1 :],
    )


def pax_record(keyword: bytes, value: bytes) -> bytes:
    """``"%d %s=%s\n"`` where the leading decimal counts the whole record, itself included."""
    body = len(keyword) + len(value) + 3
    if body < 98:  # the common case: a two-digit length (a record of 10 to 99 bytes)
        length = body + 2 if body >= 8 else body + 1
    else:
        length = body + len(str(body))
        if len(str(length)) != len(str(body)):
            length = body + len(str(length))
    return b"%d %s=%s\n" % (length, keyword, value)


def needs_binary(records: Iterable[tuple[bytes, bytes]]) -> bool:
    """True when a value is not UTF-8: the header then declares ``hdrcharset=BINARY``
    (POSIX pax "hdrcharset"), as tarfile does, so readers take the bytes as they are."""
    for _key, value in records:
        if not value.isascii():
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                return True
    return False


_PAX_BLOCKS: dict[tuple[int, bytes], bytes] = {}
"""Extended header blocks by (body size, type): they differ only in the size field."""


def pax_header(
    records: list[tuple[bytes, bytes]], typeflag: bytes = PAX_LOCAL, *, times: bytes = b""
) -> bytes:
    """An extended header member (header block + records padded to a block). ``times``:
    already encoded ASCII records placed after the others (mtime/atime/ctime)."""
    body = b"".join([pax_record(key, value) for key, value in records]) + times
    if not body.isascii() and needs_binary(records):
        body = pax_record(*HDRCHARSET_BINARY) + body
    return pax_header_for(body, typeflag)


def pax_header_for(body: bytes, typeflag: bytes = PAX_LOCAL) -> bytes:
    """The extended header member around an encoded record ``body``."""
    size = len(body)
    header = _PAX_BLOCKS.get((size, typeflag))
    if header is None:
        header = ustar_header(PAX_NAME, 0, 0, 0, size, 0, typeflag)
        if size < 1 << 16:
            _PAX_BLOCKS[(size, typeflag)] = header
    return header + body + _ZERO_PAD[: padding(size)]


def format_time(ns: int) -> bytes:
    """A pax time value: seconds, then up to nine fraction digits without trailing zeros, as GNU
    tar writes them (POSIX pax "mtime": "decimal representation ... of seconds")."""
    sign = b"-" if ns < 0 else b""
    seconds, frac = divmod(abs(ns), NS)
    if not frac:
        return b"%s%d" % (sign, seconds)
    return (b"%s%d.%09d" % (sign, seconds, frac)).rstrip(b"0")


def parse_time(value: bytes) -> int:
    """Nanoseconds from a pax time value (inverse of ``format_time``; any digit count)."""
    text = value.strip()
    negative = text.startswith(b"-")
    if negative:
        text = text[1:]
    whole, _, frac = text.partition(b".")
    ns = int(whole or b"0") * NS + int((frac[:9] or b"0").ljust(9, b"0"))
    return -ns if negative else ns


def parse_number(field: bytes | memoryview) -> int:
    """An octal ustar number field, or GNU's base-256 form (high bit of the first byte)."""
    raw = bytes(field)
    if raw and raw[0] & 0x80:
        value = int.from_bytes(raw[1:], "big")
        if raw[0] & 0x40:
            value -= 1 << (8 * (len(raw) - 1) + 6)
        else:
            value += (raw[0] & 0x3F) << (8 * (len(raw) - 1))
        return value
    text = raw.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError as exc:
        raise HeaderError(f"invalid number field {raw!r}") from exc


def parse_pax(body: bytes | memoryview) -> list[tuple[bytes, bytes]]:
    """The (keyword, value) records of an extended header body, in order."""
    data = bytes(body)
    records: list[tuple[bytes, bytes]] = []
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        if length <= 0:
            raise HeaderError("pax record with a non-positive length")
        record = data[space + 1 : pos + length - 1]
        keyword, _, value = record.partition(b"=")
        records.append((keyword, value))
        pos += length
    return records


def is_zero_block(block: bytes | memoryview) -> bool:
    return bytes(block) == _ZERO_PAD


def decode_ustar(block: bytes | memoryview) -> dict[str, object]:
    """The fields of one header block. Raises HeaderError on a checksum mismatch."""
    raw = bytes(block)
    stored = parse_number(raw[CHECKSUM_OFFSET : CHECKSUM_OFFSET + CHECKSUM_LEN])
    blank = raw[:CHECKSUM_OFFSET] + b" " * CHECKSUM_LEN + raw[CHECKSUM_OFFSET + CHECKSUM_LEN :]
    if stored != block_sum(blank):
        raise HeaderError("header checksum mismatch")
    name = _cstr(raw[0:100])
    prefix = _cstr(raw[345:500]) if raw[257:262] == b"ustar" else b""
    if prefix:
        name = prefix + b"/" + name
    return {
        "name": name,
        "mode": parse_number(raw[100:108]),
        "uid": parse_number(raw[108:116]),
        "gid": parse_number(raw[116:124]),
        "size": parse_number(raw[124:136]),
        "mtime": parse_number(raw[136:148]),
        "type": raw[156:157],
        "linkname": _cstr(raw[157:257]),
        "uname": _cstr(raw[265:297]),
        "gname": _cstr(raw[297:329]),
        "devmajor": parse_number(raw[329:337]),
        "devminor": parse_number(raw[337:345]),
    }


def _cstr(field: bytes) -> bytes:
    return field.split(b"\0", 1)[0]
