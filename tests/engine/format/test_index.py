"""The session index (engine/format/index.py): every entry survives encode/decode, the fast
plain-file line equals the general one, a version 1 index (written before the per-member
metadata and deletion lines) still parses, and a newer version is refused."""

from __future__ import annotations

import gzip
import json
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.format.index import (
    INDEX_VERSION,
    PLAIN_VERSION,
    IndexBuilder,
    IndexEntry,
    IndexError_,
    iter_index,
    line_template,
    plain_line_parts,
    plain_line_template,
    template_parts,
)
from engine.format.members import MemberKind

raw_paths = st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b and b"\0" not in b)
opt_int = st.none() | st.integers(min_value=0, max_value=2**63 - 1)
names = st.none() | st.text(min_size=1, max_size=12)
"""An empty owner name is not written (it reads back as unknown, None)."""


@st.composite
def entries(draw: st.DrawFn, deletions: bool = True) -> IndexEntry:
    stored = draw(st.booleans())
    entry = IndexEntry(
        path=draw(raw_paths),
        kind=draw(st.sampled_from(list(MemberKind))),
        volume=draw(st.integers(0, 50)),
        record=draw(st.integers(0, 2**40)) if stored else -1,
        offset=draw(st.integers(0, 2**20)) if stored else -1,
        size=draw(st.integers(0, 2**50)),
        mtime_ns=draw(st.integers(0, 2**62)),
        checksum=draw(st.none() | st.binary(min_size=16, max_size=16).map(bytes.hex)),
        link=draw(st.none() | raw_paths),
        link_group=draw(st.none() | st.integers(0, 10**6)),
        parts=draw(st.lists(st.tuples(*[st.integers(0, 2**30)] * 4), max_size=3)),
        mode=draw(st.none() | st.integers(0, 0o177777)),
        uid=draw(opt_int),
        gid=draw(opt_int),
        uname=draw(names),
        gname=draw(names),
        ctime_ns=draw(opt_int),
        inode=draw(opt_int),
        dev=draw(opt_int),
        nlink=draw(st.none() | st.integers(1, 2**31)),
        st_size=draw(opt_int),
        change=draw(st.none() | st.sampled_from(["added", "changed"])),
    )
    if draw(st.booleans()):
        entry.exception = draw(st.sampled_from(["corrupted", "in_use", "skipped"]))
        entry.reason = draw(st.text(max_size=30))
        entry.code = draw(st.none() | st.sampled_from(["read_error", "permission_denied"]))
        entry.error_offset = draw(st.none() | st.integers(0, 2**40))
    if deletions and draw(st.booleans()):
        entry.deleted = draw(st.sampled_from(["file", "directory", "symlink", "fifo"]))
    return entry


def encode(entries: list[IndexEntry], level: str = "incremental") -> bytes:
    builder = IndexBuilder({"level": level, "job": 1})
    for entry in entries:
        builder.add(entry)
    body, size = builder.finish()
    data = body.read()
    body.close()
    assert len(data) == size
    return data


def decode(data: bytes, step: int = 7) -> tuple[dict[str, object], list[IndexEntry]]:
    header, *rest = iter_index(data[i : i + step] for i in range(0, len(data), step))
    assert isinstance(header, dict)
    assert all(isinstance(e, IndexEntry) for e in rest)
    return header, rest  # type: ignore[return-value]


@given(st.lists(entries(), max_size=20), st.integers(1, 64))
def test_every_entry_survives_the_round_trip(items: list[IndexEntry], step: int) -> None:
    header, back = decode(encode(items), step)
    assert header["format_version"] == INDEX_VERSION
    assert back == items


@given(
    raw_paths,
    st.integers(0, 2**40),
    st.integers(0, 0o177777),
    st.integers(0, 2**32),
    st.text(max_size=8),
)
def test_the_plain_file_line_is_the_general_line(
    path: bytes, size: int, mode: int, uid: int, uname: str
) -> None:
    """``add_plain`` (small files, from the stat) and ``add`` write the same entry."""
    stat = SimpleNamespace(
        st_mode=mode, st_ino=77, st_dev=5, st_nlink=1, st_uid=uid, st_gid=uid + 1, st_ctime_ns=345
    )
    fast = IndexBuilder({"level": "full"})
    fast.add_plain(path, 0, 3, 512, size, 99, "ab" * 16, stat, uname.encode(), b"")
    general = IndexBuilder({"level": "full"})
    entry = IndexEntry(path, MemberKind.FILE, 0, 3, 512, size, 99, "ab" * 16)
    entry.mode, entry.uid, entry.gid = mode, uid, uid + 1
    entry.uname, entry.ctime_ns, entry.inode, entry.dev, entry.nlink = uname, 345, 77, 5, 1
    general.add(entry)
    got = [decode(b.finish()[0].read())[1] for b in (fast, general)]
    assert got[0] == got[1]
    assert got[0][0].ctime_ns == 345 and got[0][0].inode == 77 and got[0][0].mode == mode


@given(
    st.lists(st.tuples(st.binary(min_size=1, max_size=40), st.text(max_size=6)), max_size=5),
    st.integers(0, 2**40),
    st.integers(0, 3),
)
def test_lines_from_templates_are_the_plain_lines(
    files: list[tuple[bytes, str]], record: int, volume: int
) -> None:
    """A stretch of ``line_template`` templates formatted with one ``%`` (the laid-out
    small files, ``add_lines``) writes the lines ``add_parts`` writes one by one, whatever
    ``%`` or quotes the names and owners hold; ``template_parts`` gives the parts back."""
    stat = SimpleNamespace(st_mode=0o100644, st_ino=7, st_dev=5, st_nlink=1, st_uid=1, st_gid=2,
                           st_ctime_ns=345)  # fmt: skip
    parts = [plain_line_parts(p, 10, 99, "ab" * 16, stat, o.encode(), b"g%") for p, o in files]
    templates = [line_template(pair) for pair in parts]
    assert [template_parts(t) for t in templates] == parts
    positions = [(volume, record + i, 512 * i) for i in range(len(files))]
    one_by_one = IndexBuilder({"level": "full"})
    for (head, tail), (v, r, o) in zip(parts, positions, strict=True):
        one_by_one.add_parts(head, v, r, o, tail)
    at_once = IndexBuilder({"level": "full"})
    if files:
        flat = tuple(n for position in positions for n in position)
        at_once.add_lines("\n".join(templates) % flat, len(files))
    assert at_once.count == one_by_one.count == len(files)
    got = [b.finish()[0].read() for b in (at_once, one_by_one)]
    assert got[0] == got[1]
    assert [e.path for e in decode(got[0])[1]] == [p for p, _ in files]


@given(
    st.binary(min_size=1, max_size=40),
    st.text(max_size=6),
    st.text(max_size=6),
    st.integers(0, 2**40),
    st.integers(0, 2**32),
)
def test_the_workers_one_step_template_is_the_template_of_the_plain_line(
    path: bytes, uname: str, gname: str, size: int, uid: int
) -> None:
    """``plain_line_template`` (a read worker, per file of a plain run) gives the template
    ``line_template(plain_line_parts(...))`` gives, ``%`` and quotes included."""
    stat = SimpleNamespace(st_mode=0o100600, st_ino=9, st_dev=3, st_nlink=1, st_uid=uid,
                           st_gid=uid + 2, st_ctime_ns=123)  # fmt: skip
    owners = uname.encode("utf-8", "surrogateescape"), gname.encode("utf-8", "surrogateescape")
    parts = plain_line_parts(path, size, 77, "cd" * 16, stat, *owners)
    assert plain_line_template(path, size, 77, "cd" * 16, stat, *owners) == line_template(parts)


def test_a_full_runs_index_stays_version_1_and_refuses_deletion_lines() -> None:
    header, _ = decode(encode([IndexEntry(b"a", MemberKind.FILE, 0, 0, 0)], level="full"))
    assert header["format_version"] == PLAIN_VERSION == 1
    builder = IndexBuilder({"level": "full"})
    gone = IndexEntry(b"a", MemberKind.FILE, 0, -1, -1, deleted="file")
    with pytest.raises(ValueError, match="deletion"):
        builder.add(gone)


VERSION_1_LINES = [
    {"format": "tapir-index", "format_version": 1, "session": {"job": 3, "level": "full"}},
    {"p": "a.txt", "k": "f", "v": 0, "r": 0, "o": 1536, "s": 6, "m": 5, "x": "00" * 16},
    {"p": "d", "k": "d", "v": 0, "r": 0, "o": 512, "m": 7},
    {"p": "gone", "k": "f", "v": 0, "r": -1, "o": -1, "m": 0, "e": "skipped", "why": "denied"},
]
"""An index as tapir wrote it before the per-member metadata: the keys of that version only."""


def version_1_index() -> bytes:
    return gzip.compress(b"".join(json.dumps(d).encode() + b"\n" for d in VERSION_1_LINES))


def test_a_version_1_index_still_parses_with_the_metadata_unknown() -> None:
    header, back = decode(version_1_index())
    assert header["format_version"] == 1
    assert [e.path for e in back] == [b"a.txt", b"d", b"gone"]
    assert back[0].checksum == "00" * 16 and back[0].mode is None and back[0].inode is None
    assert back[2].exception == "skipped" and back[2].code is None and back[2].deleted is None


def test_a_newer_index_is_refused() -> None:
    data = gzip.compress(
        json.dumps({"format": "tapir-index", "format_version": INDEX_VERSION + 1}).encode() + b"\n"
    )
    with pytest.raises(IndexError_, match="upgrade tapir"):
        decode(data)
