"""Archives of the edge-case tree read back by GNU tar, bsdtar and our reader, compared with
the source (issue 4 "Done when"; docs/tapir-format.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import xxhash

from engine.format.index import INDEX_MEMBER, TRAILER_MEMBER
from engine.format.members import MemberKind
from engine.format.reader import ArchiveReader, FileSource, read_index, trailer_of
from tests.engine.format.treecmp import Options, compare_trees
from tests.engine.format.trees import (
    ACL_TEXT,
    BIG_ID,
    SPARSE_SIZE,
    archive_tree,
    build_edge_tree,
    try_acls,
)

RECORD = 20 * 512
TAPIR_FILES = frozenset({INDEX_MEMBER, TRAILER_MEMBER})
GNU_TAR = ["tar", "--xattrs", "--xattrs-include=*", "--acls", "-xpf"]
BSDTAR = ["bsdtar", "--xattrs", "--acls", "-xpf"]


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("edge")
    acl_problem = try_acls(base)
    src = build_edge_tree(base / "src", acls=acl_problem is None)
    archive = base / "session.tar"
    archive_tree(src, archive, record_size=RECORD, session={"job": 7})
    return src, archive


def _extract(tool: list[str], archive: Path, dest: Path) -> subprocess.CompletedProcess[bytes]:
    if shutil.which(tool[0]) is None:
        pytest.skip(f"{tool[0]} is not installed")
    dest.mkdir()
    return subprocess.run([*tool, str(archive), "-C", str(dest)], capture_output=True, check=False)


@pytest.mark.parametrize("tool", [GNU_TAR, BSDTAR], ids=["gnu-tar", "bsdtar"])
def test_tar_tools_restore_the_tree_exactly(
    edge: tuple[Path, Path], tool: list[str], tmp_path: Path
) -> None:
    src, archive = edge
    result = _extract(tool, archive, tmp_path / "out")
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    problems = compare_trees(src, tmp_path / "out", Options(ignore=TAPIR_FILES))
    assert problems == []


def test_the_acl_is_stored_as_gnu_tar_writes_it(edge: tuple[Path, Path]) -> None:
    src, archive = edge
    if try_acls(src.parent) is not None:
        pytest.skip(try_acls(src.parent))
    listing = subprocess.run(
        ["tar", "--acls", "-tvvf", str(archive), "random.bin"], capture_output=True, check=True
    )
    assert b"random.bin" in listing.stdout
    with FileSource([str(archive)], RECORD) as source:
        members = {e.member.name: e.member for e in ArchiveReader(source)}
    assert members[b"random.bin"].acl_access == ACL_TEXT
    assert members[b"empty_dir"].acl_default is not None


def test_our_reader_returns_content_and_metadata(edge: tuple[Path, Path]) -> None:
    src, archive = edge
    raw = os.fsencode(src)
    with FileSource([str(archive)], RECORD) as source:
        reader = ArchiveReader(source)
        seen = {}
        for entry in reader:
            member = entry.member
            seen[member.name] = member
            if member.name in TAPIR_FILES:
                continue
            st = os.lstat(os.path.join(raw, member.name))
            assert member.mtime_ns == st.st_mtime_ns, member.name
            assert (member.uid, member.gid) == (st.st_uid, st.st_gid)
            if member.kind is MemberKind.FILE:
                hasher = xxhash.xxh3_128()
                with open(os.path.join(raw, member.name), "rb") as f:
                    for offset, chunk in reader.chunks():
                        f.seek(offset)
                        assert f.read(len(chunk)) == chunk
                        hasher.update(chunk)
    assert seen[b"sparse.img"].size == SPARSE_SIZE
    assert seen[b"sparse.img"].sparse is not None and len(seen[b"sparse.img"].sparse) == 3
    assert seen[b"big_ids"].uid == BIG_ID
    assert seen[b"ns_times"].mtime_ns == 1_700_000_000_987_654_321
    assert seen[b"ns_times"].atime_ns == 1_600_000_000_123_456_789
    first, later = seen[b"hardlink.txt"], seen[b"plain.txt"]  # tar order: sorted names
    assert first.kind is MemberKind.FILE and later.kind is MemberKind.HARDLINK
    assert later.linkname == b"hardlink.txt" and later.size == 0
    assert first.xattrs == {b"user.comment": b"binary \x00\xff value"}
    assert b"latin1-\xe9t\xe9\xff" in seen
    assert (seen[b"blockdev"].devmajor, seen[b"blockdev"].devminor) == (7, 200)


def test_the_index_locates_every_member(edge: tuple[Path, Path]) -> None:
    _src, archive = edge
    with FileSource([str(archive)], RECORD) as source:
        trailer = trailer_of(source)
        assert trailer.session == {"job": 7}
        assert trailer.records * RECORD == archive.stat().st_size
        source.locate(trailer.index_record)
        head, *entries = read_index(
            ArchiveReader(source, record=trailer.index_record, offset=trailer.index_offset)
        )
        assert head["session"] == {"job": 7}
        assert len(entries) == trailer.members
        by_path = {e.path: e for e in entries}
        for wanted in (b"random.bin", b"sparse.img", b"latin1-\xe9t\xe9\xff"):
            target = by_path[wanted]
            source.locate(target.record)
            reader = ArchiveReader(source, record=target.record, offset=target.offset)
            entry = reader.next()
            assert entry is not None and entry.member.name == wanted
            hasher = xxhash.xxh3_128()
            for _offset, chunk in reader.chunks():
                hasher.update(chunk)
            assert hasher.hexdigest() == target.checksum
    assert by_path[b"plain.txt"].link == b"hardlink.txt"
    assert by_path[b"hardlink.txt"].link_group == by_path[b"plain.txt"].link_group is not None
    assert by_path[b"symlink"].link == b"plain.txt"
    assert by_path[b"sparse.img"].size == SPARSE_SIZE
