"""Multi-volume sessions (GNU tar's pax conventions, checked against ``tar -M`` both ways) and
members whose data could not be read (padded, marked, still valid for GNU tar)."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from engine.format.index import INDEX_MEMBER, TRAILER_MEMBER, find_trailer
from engine.format.members import Member, MemberKind, member_from_stat
from engine.format.reader import ArchiveReader, FileSource, FormatError, read_index
from engine.format.writer import CORRUPTED, IN_USE, ArchiveWriter

RECORD = 20 * 512
VOLUME_RECORDS = 40
"""400 KiB volumes: a 1 MB file spans three of them."""


class PartSink:
    """Volume parts as files ``part1``, ``part2``, ...; early warning after N records."""

    def __init__(self, base: Path, capacity: int) -> None:
        self.base, self.capacity, self.count = base, capacity, 0
        self.paths = [base / "part1"]
        self.file = open(self.paths[0], "wb")  # noqa: SIM115

    def write_record(self, record: memoryview) -> bool:
        self.file.write(record)
        self.count += 1
        return self.count >= self.capacity

    def next_volume(self, volume_seq: int) -> None:
        self.file.close()
        self.paths.append(self.base / f"part{volume_seq + 1}")
        self.file = open(self.paths[-1], "wb")  # noqa: SIM115
        self.count = 0


@pytest.fixture
def spanned(tmp_path: Path) -> tuple[Path, list[Path], dict[str, bytes]]:
    src = tmp_path / "src"
    src.mkdir()
    files = {"a.txt": b"first\n", "big.bin": os.urandom(1_000_003), "z.txt": b"last\n" * 999}
    for name, data in files.items():
        (src / name).write_bytes(data)
    sink = PartSink(tmp_path, VOLUME_RECORDS)
    writer = ArchiveWriter(sink, record_size=RECORD)
    for name in files:
        writer.add_path(src / name, name)
    summary = writer.close()
    sink.file.close()
    assert summary.volumes == 3
    return src, sink.paths, files


def test_gnu_tar_reassembles_a_file_split_across_three_volumes(
    spanned: tuple[Path, list[Path], dict[str, bytes]], tmp_path: Path
) -> None:
    _src, parts, files = spanned
    out = tmp_path / "out"
    out.mkdir()
    args = [arg for part in parts for arg in ("-f", str(part))]
    result = subprocess.run(["tar", "-x", "-M", *args, "-C", str(out)], capture_output=True)
    assert result.returncode == 0, result.stderr
    for name, data in files.items():
        assert (out / name).read_bytes() == data


def test_our_reader_follows_the_volumes_and_the_index_lists_the_parts(
    spanned: tuple[Path, list[Path], dict[str, bytes]],
) -> None:
    _src, parts, files = spanned
    with FileSource([str(p) for p in parts], RECORD) as source:
        reader = ArchiveReader(source)
        got = {}
        for entry in reader:
            got[entry.member.name.decode()] = reader.read_data()
        assert {k: got[k] for k in files} == files
        trailer = find_trailer(parts[-1].read_bytes()[-2 * RECORD :])
        assert trailer.volume == trailer.index_volume == 2
        source.locate(trailer.index_record, volume=2)
        _head, *entries = read_index(
            ArchiveReader(
                source, record=trailer.index_record, offset=trailer.index_offset, volume=2
            )
        )
    big = next(e for e in entries if e.path == b"big.bin")
    assert [part[0] for part in big.parts] == [1, 2]
    assert big.volume == 0


def test_our_reader_reads_gnu_tar_multi_volume_archives(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    (tmp_path / "big").write_bytes(data)
    (tmp_path / "small").write_bytes(b"hi\n")
    parts = [str(tmp_path / f"p{i}") for i in range(1, 5)]
    args = [arg for part in parts for arg in ("-f", part)]
    subprocess.run(
        ["tar", "--format=pax", "-c", "-M", "-L", "100", *args, "small", "big"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    assert os.path.exists(parts[2])
    with FileSource(parts, RECORD) as source:
        reader = ArchiveReader(source)
        got = {entry.member.name: reader.read_data() for entry in reader}
    assert got == {b"small": b"hi\n", b"big": data}


def test_a_missing_volume_is_a_clear_error(
    spanned: tuple[Path, list[Path], dict[str, bytes]],
) -> None:
    _src, parts, _files = spanned
    with (
        FileSource([str(parts[0])], RECORD) as source,
        pytest.raises(FormatError, match="volume 2"),
    ):
        reader = ArchiveReader(source)
        for _entry in reader:
            reader.read_data()


class FailingFile:
    """``readinto`` that returns data up to ``fail_at``, then raises EIO (a bad sector)."""

    def __init__(self, data: bytes, fail_at: int) -> None:
        self.data, self.pos, self.fail_at = data, 0, fail_at

    def readinto(self, buffer: memoryview) -> int:
        if self.pos >= self.fail_at:
            raise OSError(errno.EIO, "Input/output error")
        take = min(len(buffer), self.fail_at - self.pos)
        buffer[:take] = self.data[self.pos : self.pos + take]
        self.pos += take
        return take


def test_a_read_error_pads_the_member_and_marks_it(tmp_path: Path) -> None:
    data = os.urandom(50_000)
    archive = tmp_path / "s.tar"
    with open(archive, "wb") as f:
        writer = ArchiveWriter(f.write, record_size=RECORD)
        bad = writer.add_member(
            Member(b"bad.bin", MemberKind.FILE, size=len(data), mtime_ns=10**18),
            FailingFile(data, 12_345),
        )
        short = writer.add_member(
            Member(b"short.bin", MemberKind.FILE, size=100, mtime_ns=10**18), b"x" * 60
        )
        writer.add_member(Member(b"after.txt", MemberKind.FILE, size=3, mtime_ns=10**18), b"ok\n")
        writer.close()
    assert (bad.exception, bad.error_offset) == (CORRUPTED, 12_345)
    assert (short.exception, short.error_offset) == (IN_USE, 60)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(["tar", "-xf", str(archive), "-C", str(out)], capture_output=True)
    assert result.returncode == 0, result.stderr
    assert (out / "bad.bin").read_bytes() == data[:12_345] + bytes(len(data) - 12_345)
    assert (out / "short.bin").read_bytes() == b"x" * 60 + bytes(40)
    assert (out / "after.txt").read_bytes() == b"ok\n"
    with FileSource([str(archive)], RECORD) as source:
        trailer = find_trailer(archive.read_bytes()[-2 * RECORD :])
        source.locate(trailer.index_record)
        _head, *entries = read_index(
            ArchiveReader(source, record=trailer.index_record, offset=trailer.index_offset)
        )
    marked = {e.path: (e.exception, e.error_offset) for e in entries}
    assert marked[b"bad.bin"] == (CORRUPTED, 12_345)
    assert marked[b"after.txt"] == (None, None)
    assert INDEX_MEMBER not in marked and TRAILER_MEMBER not in marked


def test_small_files_cross_records_then_split_only_through_add_prepared(tmp_path: Path) -> None:
    """``add_small`` may straddle a record before early warning, never after it (the switch
    goes through ``add_prepared``); ``tar -M`` and our reader get every file back."""
    src = tmp_path / "src"
    src.mkdir()
    files = {f"f{i:03d}": os.urandom(700 + 997 * (i % 9)) for i in range(150)}
    sink = PartSink(tmp_path, VOLUME_RECORDS)
    writer = ArchiveWriter(sink, record_size=RECORD)
    straddled = fallbacks = 0
    for name, data in files.items():
        path = src / name
        path.write_bytes(data)
        st = os.stat(path)
        member = member_from_stat(name.encode(), st)
        before, warned = writer.out.records, writer.out.early_warning
        at = writer.add_small(member, memoryview(data), st)
        if at is None:
            assert warned
            fallbacks += 1
            writer.add_prepared(member, st, memoryview(data))
        elif writer.out.records != before:
            assert not warned
            straddled += 1
    summary = writer.close()
    sink.file.close()
    assert summary.volumes >= 2 and straddled and fallbacks
    out = tmp_path / "out"
    out.mkdir()
    args = [arg for part in sink.paths for arg in ("-f", str(part))]
    result = subprocess.run(["tar", "-x", "-M", *args, "-C", str(out)], capture_output=True)
    assert result.returncode == 0, result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in files} == files
