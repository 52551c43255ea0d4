"""Metadata round trips through the simulated library: every edge case of the backup issue
(non-UTF-8 and long names, sparse files with their holes, hard links, xattrs and ACLs, FIFO,
device nodes, ns times, big owner ids, empty files and directories) restored exactly; owners
by name; and what a restore that is not root does with what only root can make."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path

from engine.format.members import Member, MemberKind
from engine.jobs.states import CompletionStatus
from engine.restore.extract import Extractor, Outcome, Overwrite
from engine.restore.job import RestoreSpec, run_restore
from tests.engine.backup.backup_util import extract, make_site, write_tape_file
from tests.engine.format.treecmp import compare_trees
from tests.engine.format.trees import SPARSE_SIZE, build_edge_tree, try_acls
from tests.engine.restore.restore_util import backup, restored_at
from tests.privileges import nobody_can_enter, run_as_nobody


def holes(path: Path) -> list[tuple[int, int]]:
    """The data extents of ``path`` (SEEK_DATA / SEEK_HOLE)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        extents, pos, size = [], 0, os.fstat(fd).st_size
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            extents.append((start, end))
            pos = end
        return extents
    finally:
        os.close(fd)


def test_edge_tree_round_trip_is_exact(tmp_path: Path) -> None:
    src = build_edge_tree(tmp_path / "src", acls=try_acls(tmp_path) is None)
    dst = tmp_path / "dst"
    with make_site(tmp_path) as site:
        backup(site, src)
        out = run_restore(RestoreSpec((str(src),), root=str(dst)), site)
        # the second name of a hard link alone: its data comes from the group's first member
        spec = RestoreSpec((str(src / "plain.txt"),), root=str(tmp_path / "one"))
        alone = run_restore(spec, site)
    assert out.status is CompletionStatus.COMPLETED, out.to_dict()
    assert alone.status is CompletionStatus.COMPLETED, alone.to_dict()
    one = restored_at(tmp_path / "one", src)
    assert os.listdir(one) == ["plain.txt"]
    a, b = os.stat(src / "plain.txt"), os.stat(one / "plain.txt")
    assert (one / "plain.txt").read_bytes() == (src / "plain.txt").read_bytes()
    assert (a.st_mode, a.st_mtime_ns, a.st_uid) == (b.st_mode, b.st_mtime_ns, b.st_uid)
    assert os.getxattr(one / "plain.txt", "user.comment") == b"binary \x00\xff value"
    got = restored_at(dst, src)
    assert compare_trees(src, got) == []
    sparse = got / "sparse.img"
    st = sparse.stat()
    assert st.st_size == SPARSE_SIZE and st.st_blocks * 512 < 1 << 20, "holes kept"
    extents = holes(sparse)
    assert len(extents) == 3 and extents[0][0] == 0 and extents[-1][1] >= SPARSE_SIZE - 4096
    assert all(end - start < 1 << 20 for start, end in extents)
    assert stat.S_ISFIFO(os.lstat(got / "fifo").st_mode)
    assert os.lstat(got / "blockdev").st_rdev == os.makedev(7, 200)
    assert os.stat(got / "plain.txt").st_ino == os.stat(got / "hardlink.txt").st_ino
    assert os.path.exists(os.path.join(os.fsencode(got), b"latin1-\xe9t\xe9\xff"))
    assert os.getxattr(got / "plain.txt", "user.comment") == b"binary \x00\xff value"


def test_gnu_tar_agrees_with_the_restore(tmp_path: Path) -> None:
    """The restored tree equals what GNU tar extracts from the same session (a second
    opinion on the format, beside the source tree)."""
    src = build_edge_tree(tmp_path / "src", acls=False, sparse=False)
    dst = tmp_path / "dst"
    with make_site(tmp_path) as site:
        out = backup(site, src)
        run_restore(RestoreSpec((str(src),), root=str(dst)), site)
    archive = write_tape_file(tmp_path / "state", out.volumes[0], 1, tmp_path / "s.tar")
    extract("gnutar", [archive], tmp_path / "tar")
    assert compare_trees(tmp_path / "tar", restored_at(dst, src)) == []


def test_owner_by_name_when_the_name_exists_else_by_id(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    ex = Extractor(os.fsencode(tmp_path / "root"), Overwrite.NEVER)
    try:
        for name, member in {
            b"by-name": Member(b"by-name", MemberKind.FILE, uid=4242, gid=4242, uname=b"nobody"),
            b"by-id": Member(b"by-id", MemberKind.FILE, uid=4243, gid=4244, uname=b"no-such-x"),
        }.items():
            assert ex.write(name, member, iter(()), checksum=None, session=1) is Outcome.RESTORED
    finally:
        ex.close()
    assert os.stat(tmp_path / "root" / "by-name").st_uid == nobody.pw_uid
    by_id = os.stat(tmp_path / "root" / "by-id")
    assert (by_id.st_uid, by_id.st_gid) == (4243, 4244)


def test_a_restore_as_non_root_says_why_device_nodes_are_missing() -> None:
    with nobody_can_enter() as shared:
        src = shared / "src"
        src.mkdir()
        (src / "file.txt").write_text("anyone may restore this\n")
        os.mkfifo(src / "fifo")
        os.mknod(src / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        with make_site(shared) as site:
            backup(site, src)
        subprocess.run(["chmod", "-R", "a+rwX", str(shared)], check=True)
        dst = shared / "dst"

        def restore() -> tuple[str, list[tuple[str, str, str, str]]]:
            with make_site(shared) as site:
                out = run_restore(RestoreSpec((str(src),), root=str(dst)), site)
            return out.status.value, [
                (os.path.basename(r.path), r.outcome.value, r.code, r.message)
                for r in out.results
                if r.outcome is not Outcome.RESTORED
            ]

        status, problems = run_as_nobody(restore)
        got = restored_at(dst, src)
        assert status == "COMPLETED_WITH_ERRORS"
        ((name, outcome, code, message),) = problems
        assert (name, outcome, code) == ("null", "failed", "restore.needs_root")
        assert "character device node (1, 3) can only be made by root" in message
        assert (got / "file.txt").read_text() == "anyone may restore this\n"
        assert stat.S_ISFIFO(os.lstat(got / "fifo").st_mode)
        assert not (got / "null").exists()
        assert (got / "file.txt").stat().st_uid == pwd.getpwnam("nobody").pw_uid


def test_a_large_file_gets_its_blocks_before_its_data(tmp_path: Path) -> None:
    """``preallocate`` reserves a file's extents up front (what a restore of a large, not
    sparse, file does first)."""
    from engine.restore.extract import preallocate

    path = tmp_path / "big"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        preallocate(fd, 4 << 20)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    assert st.st_size == 4 << 20 and st.st_blocks * 512 >= 4 << 20
    assert path.read_bytes() == bytes(4 << 20)  # reserved blocks read as zeros
