"""The reader worker's per-file work (engine/backup/read_worker.py), run in this process on
real files and a real shared mapping: what it lays out and formats ahead must be what the
in-process small-files path writes (header bytes, index line, catalog row)."""

from __future__ import annotations

import json
import mmap
import os
import pickle
from pathlib import Path

import xxhash

from engine.backup.format_stage import worked_stat
from engine.backup.read_worker import HEADER_ROOM, _Reader
from engine.backup.rows import ROW_TAILS, plain_row_head, row_head
from engine.catalog.files_model import Change
from engine.catalog.row_staging import STAGED_FIELDS
from engine.format import codec
from engine.format.index import _PLAIN_FILE, _owner_text, plain_line_parts, template_parts
from engine.format.members import group_name, member_from_stat, user_name


def _spec(path: Path, at: int, change: Change | None = None) -> tuple:
    st = os.lstat(path)
    name = path.name.encode()
    return (str(path), name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
            at, change)  # fmt: skip


def test_member_laid_out_in_the_buffer_with_its_line_and_row(tmp_path: Path) -> None:
    path = tmp_path / "f.dat"
    data = os.urandom(1000)
    path.write_bytes(data)
    buffer = memoryview(mmap.mmap(-1, 1 << 16))
    buffer[:] = b"\xff" * len(buffer)  # stale bytes from an earlier batch
    at = 4096 + HEADER_ROOM
    result = _Reader(buffer, xattrs=True).read(_spec(path, at, Change.ADDED))
    assert result is not None
    placed, head, tail, row, atime = result
    st = os.stat(path)
    header = codec.encode_member(member_from_stat(b"f.dat", st))
    assert placed == len(header)
    end = at + len(data)
    assert bytes(buffer[at - placed : end + 24]) == header + data + bytes(24)
    digest = xxhash.xxh3_128_digest(data)
    uname, gname = user_name(st.st_uid), group_name(st.st_gid)
    joined = head + '0,"r":3,"o":512' + tail
    owner = _owner_text(st.st_uid, st.st_gid, uname, gname)
    whole = _PLAIN_FILE % (
        '"f.dat"', "f", 0, 3, 512, len(data), st.st_mtime_ns, digest.hex(), st.st_mode,
        owner, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_nlink, ',"ch":"added"',
    )  # fmt: skip
    assert joined == whole
    assert row == plain_row_head(os.fsencode(str(path)), st, uname, gname, digest)
    full = row + (1, 3, 512) + ROW_TAILS[Change.ADDED]
    assert full[15] == digest and full[16:19] == (1, 3, 512) and full[23] is Change.ADDED
    again = worked_stat(result)
    for field in ("st_mode", "st_ino", "st_dev", "st_nlink", "st_uid", "st_gid", "st_size"):
        assert getattr(again, field) == getattr(st, field), field
    assert (again.st_mtime_ns, again.st_ctime_ns, again.st_atime_ns) == (
        st.st_mtime_ns,
        st.st_ctime_ns,
        atime,
    )


def test_a_file_changed_since_the_scan_is_left_to_the_reader_thread(tmp_path: Path) -> None:
    path = tmp_path / "f.dat"
    path.write_bytes(b"x" * 100)
    spec = _spec(path, HEADER_ROOM)
    path.write_bytes(b"y" * 200)
    buffer = memoryview(mmap.mmap(-1, 1 << 16))
    assert _Reader(buffer, xattrs=False).read(spec) is None
    gone = _spec(path, HEADER_ROOM)
    path.unlink()
    assert _Reader(buffer, xattrs=False).read(gone) is None


def _xattr_supported(path: Path) -> bool:
    try:
        os.setxattr(path, "user.tapir", b"1")
    except OSError:
        return False
    return True


def test_a_plain_run_is_laid_out_back_to_back_and_the_rest_left_in_order(
    tmp_path: Path,
) -> None:
    src = tmp_path / "dir"
    src.mkdir()
    contents = {name: os.urandom(size) for name, size in
                (("a", 700), ("b", 0), ("c", 3000), ("e", 512), ("z", 100))}  # fmt: skip
    for name, data in contents.items():
        (src / name).write_bytes(data)
    (src / "big").write_bytes(os.urandom(5000))  # over ``largest``
    os.link(src / "c", src / "c-link")  # two links: c and c-link are the in-process path's
    with open(src / "sparse", "wb") as f:
        f.truncate(4000)
    (src / "x").write_bytes(b"attr")
    xattrs = _xattr_supported(src / "x")
    busy = os.stat(src / "e")
    names = ["a", "b", "big", "c", "c-link", "e", "gone", "sparse", "x", "z"]
    buffer = memoryview(mmap.mmap(-1, 1 << 16))
    buffer[:] = b"\xff" * len(buffer)
    request = ("run", f"{src}/", b"dir/", names, 1024, 8192, 4096,
               frozenset({(busy.st_dev, busy.st_ino)}))  # fmt: skip
    used, stretches = _Reader(buffer, xattrs=True).run(request)  # type: ignore[arg-type]
    laid = [names[first + i] for first, lengths, *_ in stretches for i in range(len(lengths))]
    assert laid == ["a", "b"] + ([] if xattrs else ["x"]) + ["z"]
    # a, b | (x,) z: two stretches, the names between them not taken
    assert [s[0] for s in stretches] == ([0, 9] if xattrs else [0, 8])
    assert [len(s[1]) for s in stretches] == ([2, 1] if xattrs else [2, 2])
    members = [
        (length, header, size, atime, line, row)
        for _, *per_member, lines, blob in stretches
        for length, header, size, atime, line, row in zip(
            *per_member, lines.split("\n"), pickle.loads(blob), strict=True
        )
    ]
    at = 1024
    for name, (length, header, size, atime, line, row) in zip(laid, members, strict=True):
        st = os.stat(src / name)  # before reading it here: the worker left atime alone
        data = (src / name).read_bytes()
        expected = codec.encode_member(member_from_stat(b"dir/" + name.encode(), st))
        assert header == len(expected) and length == header + len(data) + (-len(data) % 512)
        member = bytes(buffer[at : at + length])
        assert member == expected + data + bytes(-len(data) % 512)
        assert (row[0], row[1]) == (os.fsencode(str(src)), name.encode()) and row[4] == size
        digest = xxhash.xxh3_128_digest(data)
        uname, gname = user_name(st.st_uid), group_name(st.st_gid)
        path = os.fsencode(str(src / name))
        assert row_head(row) == plain_row_head(path, st, uname, gname, digest)
        assert [type(v) for v in row[:3]] == [bytearray] * 3  # bound without adapters
        assert len(row) == len(STAGED_FIELDS) and size == len(data)
        head, tail = plain_line_parts(b"dir/" + name.encode(), size, st.st_mtime_ns,
                                      digest.hex(), st, uname, gname)  # fmt: skip
        assert line % (2, 30, 40) == head + '2,"r":30,"o":40' + tail
        assert template_parts(line) == (head, tail) and atime == st.st_atime_ns
        at += length
    assert used == at - 1024
    assert bytes(buffer[1024 - 8 : 1024]) == b"\xff" * 8  # nothing before the offset


def test_a_line_template_keeps_a_percent_sign_in_a_name(tmp_path: Path) -> None:
    (tmp_path / "100%d done").write_bytes(b"x")
    buffer = memoryview(mmap.mmap(-1, 1 << 16))
    request = ("run", f"{tmp_path}/", b"p%/", ["100%d done"], 0, 1 << 15, 4096, frozenset())
    _, [(_, _, _, _, _, line, _)] = _Reader(buffer, xattrs=False).run(request)  # type: ignore[arg-type]
    text = line % (1, 2, 3)
    fields = json.loads(text)
    assert fields["p"] == "p%/100%d done" and (fields["v"], fields["r"], fields["o"]) == (1, 2, 3)
    head, tail = template_parts(line)
    assert head + '1,"r":2,"o":3' + tail == text


def test_a_plain_run_stops_laying_out_where_the_room_ends(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).write_bytes(os.urandom(1500))
    buffer = memoryview(mmap.mmap(-1, 1 << 16))
    member = len(codec.encode_member(member_from_stat(b"a", os.stat(tmp_path / "a")))) + 1536
    room = 2 * member + 100  # two members (header, 1500 bytes and padding), not three
    request = ("run", f"{tmp_path}/", b"", ["a", "b", "c"], 0, room, 4096, frozenset())
    used, stretches = _Reader(buffer, xattrs=False).run(request)  # type: ignore[arg-type]
    assert [(first, len(lengths)) for first, lengths, *_ in stretches] == [(0, 2)]
    assert len(pickle.loads(stretches[0][-1])) == 2
    assert used == 2 * member


def test_a_run_without_in_use_files_keeps_those_sent_before(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(b"data")
    busy = os.stat(tmp_path / "b")
    reader = _Reader(memoryview(mmap.mmap(-1, 1 << 16)), xattrs=False)

    def run(in_use: frozenset[tuple[int, int]] | None) -> list[bool]:
        request = ("run", f"{tmp_path}/", b"", ["a", "b"], 0, 1 << 15, 4096, in_use)
        _, stretches = reader.run(request)  # type: ignore[arg-type]
        laid = {first + i for first, lengths, *_ in stretches for i in range(len(lengths))}
        return [i in laid for i in range(2)]

    assert run(frozenset({(busy.st_dev, busy.st_ino)})) == [True, False]
    assert run(None) == [True, False]  # the same snapshot: not sent again
    assert run(frozenset()) == [True, True]  # a new snapshot without it
    assert run(None) == [True, True]
