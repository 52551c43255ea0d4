"""Sparse files in GNU tar's sparse format 1.0 (GNU tar manual, "Storing Sparse Files",
format 1.0 / pax): the member's pax header carries ``GNU.sparse.major=1``,
``GNU.sparse.minor=0``, ``GNU.sparse.name`` (the real name) and ``GNU.sparse.realsize``; the
ustar name is ``<dir>/GNUSparseFile.0/<base>``; the member data starts with the map in decimal
text (entry count, then offset and length of each data extent, one number per line, zero-padded
to a block), followed by the extents' bytes back to back.

Extents are found with ``lseek(SEEK_DATA / SEEK_HOLE)`` so that a file of 8 GiB apparent size
with a few written blocks costs a few system calls, not a scan of zeros. A file ending in a hole
gets a final zero-length extent at its real size, as GNU tar writes it.
"""

from __future__ import annotations

import errno
import os

from engine.format.headers import BLOCK, HeaderError, padding

SPARSE_DIR = b"GNUSparseFile.0"
MAJOR_KEY = b"GNU.sparse.major"
MINOR_KEY = b"GNU.sparse.minor"
NAME_KEY = b"GNU.sparse.name"
REALSIZE_KEY = b"GNU.sparse.realsize"

Extent = tuple[int, int]


def looks_sparse(st: os.stat_result) -> bool:
    """Cheap pre-check from stat: fewer allocated blocks than the size needs."""
    return st.st_blocks * 512 < st.st_size


def data_extents(fd: int, size: int) -> list[Extent] | None:
    """The (offset, length) data extents of an open file up to ``size``, or None when the
    file has no hole (or the filesystem cannot say)."""
    extents: list[Extent] = []
    pos = 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:
                    break
                raise
            if start >= size:
                break
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            extents.append((start, end - start))
            pos = end
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return None
        raise
    finally:
        os.lseek(fd, 0, os.SEEK_SET)
    if extents == [(0, size)]:
        return None
    if not extents or extents[-1][0] + extents[-1][1] < size:
        extents.append((size, 0))
    return extents


def encode_map(extents: list[Extent]) -> bytes:
    """The map prefix of the member data, padded to a block."""
    lines = [b"%d\n" % len(extents)]
    for offset, length in extents:
        lines.append(b"%d\n%d\n" % (offset, length))
    text = b"".join(lines)
    return text + bytes(padding(len(text)))


def stored_size(extents: list[Extent]) -> int:
    return sum(length for _offset, length in extents)


def sparse_name(name: bytes) -> bytes:
    """The ustar name GNU tar gives the member (``%d/GNUSparseFile.%p/%f`` with pid 0)."""
    head, sep, base = name.rstrip(b"/").rpartition(b"/")
    return head + sep + SPARSE_DIR + b"/" + base


def map_complete(prefix: bytes) -> bool:
    """True when ``prefix`` (whole blocks of member data) holds the whole map."""
    lines = prefix.split(b"\n")
    if len(lines) < 2:
        return False
    try:
        count = int(lines[0])
    except ValueError as exc:
        raise HeaderError("sparse map count is not a number") from exc
    return len(lines) - 1 > 2 * count


def decode_map(prefix: bytes) -> tuple[list[Extent], int]:
    """The extents and the map's length in bytes (a multiple of the block size)."""
    lines = prefix.split(b"\n")
    try:
        count = int(lines[0])
        numbers = [int(value) for value in lines[1 : 1 + 2 * count]]
    except ValueError as exc:
        raise HeaderError("sparse map holds a non-number") from exc
    if len(numbers) != 2 * count:
        raise HeaderError("sparse map is truncated")
    text_len = sum(len(line) + 1 for line in lines[: 1 + 2 * count])
    extents = list(zip(numbers[0::2], numbers[1::2], strict=True))
    return extents, text_len + padding(text_len) if text_len % BLOCK else text_len
