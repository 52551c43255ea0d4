"""Source trees with every edge case of issue 4 and a helper that archives a tree with
``ArchiveWriter`` (reused by backup/restore tests)."""

from __future__ import annotations

import os
from pathlib import Path

from engine.format.acl import ACCESS_XATTR, DEFAULT_XATTR, text_to_xattr
from engine.format.writer import ArchiveWriter, SessionSummary

GIB = 1 << 30
SPARSE_SIZE = 9 * GIB
"""Over 8 GiB: the size needs a pax record (ustar's 11 octal digits end at 8 GiB)."""
BIG_ID = 3_000_000
"""Beyond ustar's 7 octal digits (2**21): uid/gid go to pax."""
ACL_TEXT = "user::rw-\nuser:4242:r--\ngroup::r--\nmask::r--\nother::r--\n"
DEFAULT_ACL_TEXT = "user::rwx\ngroup::r-x\ngroup:4243:r-x\nmask::r-x\nother::---\n"


def try_acls(path: Path) -> str | None:
    """Set an ACL on a probe file; None if it worked, else why not (for pytest.skip)."""
    probe = path / ".acl-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, ACCESS_XATTR, text_to_xattr(ACL_TEXT))
    except OSError as exc:
        return f"the filesystem at {path} refuses POSIX ACLs: {exc}"
    finally:
        probe.unlink()
    return None


def build_edge_tree(root: Path, *, acls: bool = True, sparse: bool = True) -> Path:
    """Every member kind and header edge case under ``root`` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    raw = os.fsencode(root)
    (root / "empty_dir").mkdir()
    (root / "empty_file").write_bytes(b"")
    (root / "plain.txt").write_bytes(b"hello tapir\n")
    (root / "random.bin").write_bytes(os.urandom(700_001))
    os.link(root / "plain.txt", root / "hardlink.txt")
    os.symlink("plain.txt", root / "symlink")
    os.symlink("/nonexistent/target" + "x" * 150, root / "long_symlink")
    os.mkfifo(root / "fifo")
    os.mknod(root / "chardev", 0o620 | 0o020000, os.makedev(1, 3))
    os.mknod(root / "blockdev", 0o660 | 0o060000, os.makedev(7, 200))
    with open(os.path.join(raw, b"latin1-\xe9t\xe9\xff"), "wb") as f:
        f.write(b"not utf-8 name\n")
    (root / "unicode-名前.txt").write_text("utf-8 name\n")
    deep = root.joinpath(*(["d" * 60] * 5))
    deep.mkdir(parents=True)
    (deep / ("f" * 120)).write_bytes(b"long path > 255 bytes\n")
    ids = root / "big_ids"
    ids.write_bytes(b"owner beyond ustar\n")
    os.chown(ids, BIG_ID, BIG_ID + 1)
    ns = root / "ns_times"
    ns.write_bytes(b"nanoseconds\n")
    os.utime(ns, ns=(1_600_000_000_123_456_789, 1_700_000_000_987_654_321))
    os.setxattr(root / "plain.txt", "user.comment", b"binary \x00\xff value")
    os.setxattr(root / "empty_dir", "user.dir", b"on a directory")
    if acls:
        os.setxattr(root / "random.bin", ACCESS_XATTR, text_to_xattr(ACL_TEXT))
        os.setxattr(root / "empty_dir", DEFAULT_XATTR, text_to_xattr(DEFAULT_ACL_TEXT))
    if sparse:
        with open(root / "sparse.img", "wb") as f:
            f.truncate(SPARSE_SIZE)
            for offset in (0, 5 * GIB + 4096, SPARSE_SIZE - 8192):
                f.seek(offset)
                f.write(os.urandom(4096) + b"extent end")
    for directory in sorted({deep, *deep.parents}, key=lambda p: -len(p.parts)):
        if directory == root or root not in directory.parents:
            continue
        os.utime(directory, ns=(1_500_000_000_000_000_001, 1_500_000_000_000_000_001))
    return root


def tree_order(root: bytes) -> list[bytes]:
    """Paths under ``root`` depth first, each directory followed by its contents, as GNU tar
    orders them (its extractor sets a directory's times once it leaves the directory)."""
    order: list[bytes] = []
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        order.append(entry.path)
        if entry.is_dir(follow_symlinks=False):
            order += tree_order(entry.path)
    return order


def archive_tree(
    src: Path, out: Path, *, record_size: int = 20 * 512, **options: object
) -> SessionSummary:
    """Archive everything under ``src`` (names relative to it) in tar's order."""
    raw = os.fsencode(src)
    with open(out, "wb") as f:
        writer = ArchiveWriter(f.write, record_size=record_size, **options)  # type: ignore[arg-type]
        for full in tree_order(raw):
            writer.add_path(full, os.path.relpath(full, raw))
        return writer.close()
