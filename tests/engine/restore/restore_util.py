"""Helpers of the restore tests: a backed-up tree on the small simulated library."""

from __future__ import annotations

import os
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
