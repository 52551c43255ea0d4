"""Scan stage on real trees: order, types, names, selection, mount points, problems."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from engine.backup.exceptions import Category, ItemErrors, ItemException, Reason
from engine.backup.scan import (
    FileEntry,
    Kind,
    PlainRun,
    Scanner,
    ScanOptions,
    entry_at,
    scan,
)
from tests.privileges import run_as_nobody


def rels(entries: list[FileEntry]) -> list[str]:
    return [e.relpath for e in entries]


def make_tree(root: Path) -> None:
    (root / "b").mkdir()
    (root / "b" / "z.txt").write_bytes(b"zz")
    (root / "b" / "a.o").write_bytes(b"o")
    (root / "a.txt").write_bytes(b"hello")
    (root / "c").mkdir()
    (root / "c" / "deep").mkdir()
    (root / "c" / "deep" / "x.c").write_bytes(b"int x;")
    (root / "link").symlink_to("b")


def test_order_is_sorted_preorder_and_metadata_is_lstat(tmp_path: Path) -> None:
    make_tree(tmp_path)
    errors = ItemErrors()
    scanner = Scanner(tmp_path, on_item_error=errors)
    entries = list(scanner)
    assert rels(entries) == [
        ".",
        "a.txt",
        "b",
        "b/a.o",
        "b/z.txt",
        "c",
        "c/deep",
        "c/deep/x.c",
        "link",
    ]
    by = {e.relpath: e for e in entries}
    a = by["a.txt"]
    st = os.lstat(tmp_path / "a.txt")
    assert (a.kind, a.size, a.mode, a.uid, a.gid) == (
        Kind.FILE,
        5,
        st.st_mode,
        st.st_uid,
        st.st_gid,
    )
    assert (a.mtime_ns, a.ctime_ns, a.ino, a.dev, a.nlink) == (
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
        st.st_dev,
        1,
    )
    assert a.path == str(tmp_path / "a.txt")
    link = by["link"]
    assert link.kind is Kind.SYMLINK and link.link_target == "b"
    assert by["."].kind is Kind.DIRECTORY
    assert errors.items == []
    stats = scanner.stats
    assert (stats.items, stats.files, stats.directories, stats.bytes) == (9, 4, 4, 5 + 2 + 1 + 6)
    assert stats.by_kind[Kind.SYMLINK] == 1


def test_two_runs_give_the_same_sequence(tmp_path: Path) -> None:
    make_tree(tmp_path)
    first = [(e.relpath, e.ino) for e in scan(tmp_path)]
    assert first == [(e.relpath, e.ino) for e in scan(tmp_path)]


def test_symlink_to_directory_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_bytes(b"1")
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    assert rels(list(scan(tmp_path))) == [".", "alias", "real", "real/f"]
    root_link = list(scan(tmp_path / "alias"))
    assert [(e.relpath, e.kind) for e in root_link] == [(".", Kind.SYMLINK)]


def test_non_utf8_names_survive(tmp_path: Path) -> None:
    raw = b"caf\xe9-\xff.bin"
    with open(os.path.join(os.fsencode(tmp_path), raw), "wb") as f:
        f.write(b"data")
    (entry,) = [e for e in scan(tmp_path) if e.kind is Kind.FILE]
    assert entry.relpath_bytes == raw
    assert entry.path_bytes == os.fsencode(tmp_path) + b"/" + raw
    assert os.lstat(entry.path).st_size == 4
    assert list(scan(os.fsencode(tmp_path)))[1].relpath_bytes == raw


def test_special_files_recorded_sockets_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    os.mknod(tmp_path / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        errors = ItemErrors()
        scanner = Scanner(tmp_path, on_item_error=errors)
        # A FIFO with no writer blocks any reader that opens it: the scan must not open it.
        entries = list(scanner)
    finally:
        sock.close()
    kinds = {e.relpath: e.kind for e in entries}
    assert kinds == {".": Kind.DIRECTORY, "fifo": Kind.FIFO, "null": Kind.CHAR_DEVICE}
    dev = next(e for e in entries if e.relpath == "null")
    assert (dev.rdev_major, dev.rdev_minor) == (1, 3)
    (exc,) = errors.items
    assert (exc.code, exc.category, exc.path) == (
        Reason.UNSUPPORTED_TYPE,
        Category.SKIPPED,
        str(tmp_path / "sock"),
    )
    assert "socket" in exc.sentence
    assert scanner.stats.reported == 1


def test_excludes_prune_and_are_counted_not_reported(tmp_path: Path) -> None:
    make_tree(tmp_path)
    errors = ItemErrors()
    scanner = Scanner(tmp_path, ScanOptions(excludes=("*.o", "/c", "link")), errors)
    assert rels(list(scanner)) == [".", "a.txt", "b", "b/z.txt"]
    assert scanner.stats.excluded == 3  # b/a.o, c (its subtree counts once), link
    assert errors.items == []


def test_includes_emit_only_the_parents_of_included_items(tmp_path: Path) -> None:
    make_tree(tmp_path)
    (tmp_path / "empty").mkdir()
    scanner = Scanner(tmp_path, ScanOptions(includes=("*.c", "/b/")))
    assert rels(list(scanner)) == [".", "b", "b/a.o", "b/z.txt", "c", "c/deep", "c/deep/x.c"]
    assert scanner.stats.excluded == 2  # a.txt, link (the empty directory is just not shown)


def test_exclude_wins_over_include(tmp_path: Path) -> None:
    make_tree(tmp_path)
    options = ScanOptions(includes=("b/",), excludes=("z.txt",))
    assert rels(list(scan(tmp_path, options))) == [".", "b", "b/a.o"]


def test_unsupported_type_outside_includes_is_only_counted(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        errors = ItemErrors()
        scanner = Scanner(tmp_path, ScanOptions(includes=("*.c",)), errors)
        assert rels(list(scanner)) == ["."]
    finally:
        sock.close()
    assert errors.items == []
    assert scanner.stats.excluded == 1


def test_file_vanishing_between_listing_and_lstat_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "inner").write_bytes(b"1")
    (tmp_path / "b").write_bytes(b"2")
    errors = ItemErrors()
    seen = []
    for entry in scan(tmp_path, on_item_error=errors):
        seen.append(entry.relpath)
        if entry.relpath == "a":  # the root was listed already, "b" not lstat-ed yet
            (tmp_path / "b").unlink()
    assert seen == [".", "a", "a/inner"]
    assert errors.codes() == [(str(tmp_path / "b"), Reason.VANISHED)]


def test_directory_vanishing_before_listing_is_reported(tmp_path: Path) -> None:
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "f").write_bytes(b"1")
    (tmp_path / "kept").write_bytes(b"2")
    errors = ItemErrors()
    seen = []
    for entry in scan(tmp_path, on_item_error=errors):
        seen.append(entry.relpath)
        if entry.relpath == "gone":  # produced before it is listed
            (tmp_path / "gone" / "f").unlink()
            (tmp_path / "gone").rmdir()
    assert seen == [".", "gone", "kept"]
    (exc,) = errors.items
    assert (exc.code, exc.path, exc.stored) == (Reason.VANISHED, str(tmp_path / "gone"), True)


def test_missing_source_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(scan(tmp_path / "missing"))


def test_unreadable_directory_as_nobody(shared_dir: Path) -> None:
    (shared_dir / "locked").mkdir()
    (shared_dir / "locked" / "secret").write_bytes(b"s")
    (shared_dir / "locked").chmod(0o700)
    (shared_dir / "open.txt").write_bytes(b"o")

    def walk() -> tuple[list[str], list[tuple[str, str, str, bool]]]:
        errors = ItemErrors()
        found = rels(list(scan(shared_dir, on_item_error=errors)))
        return found, [(e.path, e.code.value, e.category.value, e.stored) for e in errors.items]

    found, problems = run_as_nobody(walk)
    assert found == [".", "locked", "open.txt"]
    assert problems == [(str(shared_dir / "locked"), "directory_unreadable", "skipped", True)]


def test_one_file_system_stops_at_a_mount_point(tmp_path: Path) -> None:
    (tmp_path / "mnt").mkdir()
    (tmp_path / "z").write_bytes(b"z")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tapir-test", str(tmp_path / "mnt")],
        capture_output=True,
    )
    if mounted.returncode != 0:
        return _one_file_system_on_dev()
    try:
        (tmp_path / "mnt" / "inside").write_bytes(b"i")
        scanner = Scanner(tmp_path, ScanOptions(one_file_system=True))
        entries = list(scanner)
        assert rels(entries) == [".", "mnt", "z"]
        assert scanner.stats.other_fs == 1
        assert entries[1].dev != entries[0].dev
        assert rels(list(scan(tmp_path))) == [".", "mnt", "mnt/inside", "z"]
    finally:
        subprocess.run(["umount", str(tmp_path / "mnt")], check=True)


def _one_file_system_on_dev() -> None:
    """Without mount privilege: /dev/shm is a separate tmpfs below /dev."""
    if os.lstat("/dev").st_dev == os.lstat("/dev/shm").st_dev:
        pytest.skip("no mount privilege and /dev/shm is not a separate file system")
    scanner = Scanner("/dev", ScanOptions(one_file_system=True))
    entries = list(scanner)
    root_dev = entries[0].dev
    assert "shm" in rels(entries)
    assert scanner.stats.other_fs >= 1
    assert all(e.dev == root_dev for e in entries if "/" in e.relpath)


def _flat(items: list[object]) -> list[str]:
    """Relative paths in walk order, a plain run's names expanded (marked ``+``)."""
    out: list[str] = []
    for item in items:
        if isinstance(item, PlainRun):
            out += [f"+{item.prefix}{name}" for name in item.names]
        else:
            out.append(item.relpath)  # type: ignore[attr-defined]
    return out


def test_plain_runs_keep_walk_order_without_lstat_of_their_files(tmp_path: Path) -> None:
    make_tree(tmp_path)
    for name in ("b/m1", "b/m2", "b/m3"):
        (tmp_path / name).write_bytes(b"m")
    scanner = Scanner(tmp_path, ScanOptions(runs=2))
    items = list(scanner)
    assert _flat(items) == [".", "+a.txt", "b", "+b/a.o", "+b/m1", "+b/m2", "+b/m3", "+b/z.txt",
                            "c", "c/deep", "+c/deep/x.c", "link"]  # fmt: skip
    runs = [i for i in items if isinstance(i, PlainRun)]
    assert [len(r.names) for r in runs] == [1, 2, 2, 1, 1]  # at most 2 names, one directory each
    assert runs[1].directory == str(tmp_path / "b") + "/" and runs[1].prefix == "b/"
    assert runs[0].prefix == "" and runs[0].directory == str(tmp_path) + "/"
    stats = scanner.stats
    assert (stats.items, stats.files, stats.bytes) == (12, 7, 0)  # sizes unknown: no lstat
    plain = [(e.relpath, e.kind) for e in scan(tmp_path) if e.kind is Kind.FILE]
    assert [p.lstrip("+") for p in _flat(items) if p.startswith("+")] == [r for r, _ in plain]


def test_plain_runs_follow_the_selection(tmp_path: Path) -> None:
    make_tree(tmp_path)
    options = ScanOptions(includes=("*.c", "/b/"), excludes=("z.txt",), runs=8)
    # x.c's directories are held back until it is reached: it comes as an entry, after them
    assert _flat(list(Scanner(tmp_path, options))) == [
        ".", "b", "+b/a.o", "c", "c/deep", "c/deep/x.c"]  # fmt: skip
    excluding = Scanner(tmp_path, ScanOptions(excludes=("*.o", "/c", "link"), runs=8))
    assert _flat(list(excluding)) == [".", "+a.txt", "b", "+b/z.txt"]
    assert excluding.stats.excluded == 3


def test_entry_at_is_what_the_walk_makes_of_a_name(tmp_path: Path) -> None:
    make_tree(tmp_path)
    entry = entry_at(str(tmp_path / "link"), "link")
    assert isinstance(entry, FileEntry) and entry.kind is Kind.SYMLINK
    assert entry.link_target == "b" and entry.relpath == "link"
    gone = entry_at(str(tmp_path / "gone"), "gone")
    assert isinstance(gone, ItemException) and gone.code is Reason.VANISHED
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        found = entry_at(str(tmp_path / "sock"), "sock")
    assert isinstance(found, ItemException) and found.code is Reason.UNSUPPORTED_TYPE
