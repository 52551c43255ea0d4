"""Helpers of the restore tests: a backed-up tree on the small simulated library."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.backup.job import BackupSpec, RunOutcome, run_backup
from engine.site import Site
from tests.engine.backup.backup_util import RECORD


def edge_tree(root: Path) -> Path:
    """Directories (one read-only), files, an empty file, a symlink, hard links, odd modes."""
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "empty-dir").mkdir()
    (root / "a.txt").write_text("alpha\n" * 50)
    (root / "empty").write_bytes(b"")
    (root / "docs" / "b.bin").write_bytes(os.urandom(300_000))
    (root / "docs" / "deep" / "c.txt").write_text("gamma")
    (root / "docs" / "link").symlink_to("b.bin")
    os.link(root / "a.txt", root / "docs" / "a-again.txt")
    (root / "a.txt").chmod(0o640)
    (root / "docs" / "deep").chmod(0o555)
    os.utime(root / "docs" / "deep" / "c.txt", ns=(1_000_000_001, 1_500_000_123))
    return root


def backup(site: Site, src: Path, **kw: object) -> RunOutcome:
    out = run_backup(BackupSpec(str(src), "lib1", record_size=RECORD, **kw), site, actor="t")  # type: ignore[arg-type]
    assert out.exit_code == 0, out.error
    return out


def restored_at(root: Path, src: Path) -> Path:
    """Where a restore to ``root`` puts the backed-up path ``src``."""
    return root / str(src).lstrip("/")


def evolve(src: Path, step: int) -> None:
    """The source tree of backup ``step`` (0..4) of a chain: adds, edits, deletes, renames."""
    if step == 0:
        (src / "dir1").mkdir(parents=True)
        (src / "keep").mkdir()
        (src / "empty").mkdir()
        (src / "a.txt").write_text("a version 1\n")
        (src / "b.txt").write_text("b version 1\n")
        (src / "dir1" / "c.txt").write_text("c version 1\n")
        (src / "dir1" / "d.txt").write_text("d version 1\n")
        (src / "keep" / "k.bin").write_bytes(os.urandom(200_000))
        (src / "link").symlink_to("a.txt")
        (src / "hard.txt").write_text("linked\n")
        os.link(src / "hard.txt", src / "hard2.txt")
    elif step == 1:
        (src / "a.txt").write_text("a version 2, longer\n")
        (src / "new.txt").write_text("new\n")
        (src / "b.txt").unlink()
        (src / "keep" / "k.bin").chmod(0o600)
    elif step == 2:
        (src / "dir1").rename(src / "dir2")
        (src / "keep" / "k.bin").rename(src / "keep" / "k2.bin")
        (src / "dir2" / "c.txt").write_text("c version 2\n")
    elif step == 3:
        shutil.rmtree(src / "dir2")
        (src / "dir3").mkdir()
        (src / "dir3" / "e.txt").write_text("e\n")
        (src / "link").unlink()
        (src / "link").symlink_to("new.txt")
        os.setxattr(src / "new.txt", "user.note", b"added in run 4")
        (src / "hard2.txt").unlink()
    elif step == 4:
        (src / "b.txt").write_text("b version 2: back again\n")
        (src / "new.txt").write_bytes(b"")
        (src / "dir3" / "sub").mkdir()
        (src / "dir3" / "sub" / "f.txt").write_text("f\n")
        (src / "a.txt").rename(src / "z.txt")
