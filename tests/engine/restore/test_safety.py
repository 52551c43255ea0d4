"""Nothing is written outside the restore root: crafted catalog rows and members with ``..``
or absolute paths, and symlinks planted earlier in the same restore, are refused."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from engine.catalog.files_store import FilesStore
from engine.format.members import Member, MemberKind
from engine.restore.extract import Extractor, Outcome, Overwrite
from engine.restore.job import RestoreSpec, run_restore
from engine.restore.safepath import UnsafePath, components
from tests.engine.backup.backup_util import make_site
from tests.engine.restore.restore_util import backup


@pytest.mark.parametrize("name", [b"../evil", b"a/../../evil", b"/etc/evil", b"", b"a/\0b"])
def test_unsafe_names_are_refused(name: bytes) -> None:
    with pytest.raises(UnsafePath):
        components(name)


def test_a_symlink_planted_earlier_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    ex = Extractor(os.fsencode(tmp_path / "root"), Overwrite.ALWAYS)
    try:
        link = Member(b"d", MemberKind.SYMLINK, linkname=os.fsencode(outside))
        assert ex.write(b"d", link, iter(()), checksum=None, session=1) is Outcome.RESTORED
        evil = Member(b"d/evil", MemberKind.FILE, size=4)
        with pytest.raises(UnsafePath, match="symlink"):
            ex.write(b"d/evil", evil, iter([(0, b"evil")]), checksum=None, session=1)
    finally:
        ex.close()
    assert os.listdir(outside) == []


def test_a_crafted_catalog_row_with_dotdot_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("data")
    dst = tmp_path / "a" / "dst"
    with make_site(tmp_path) as site:
        b = backup(site, src)
        files = FilesStore(site.catalog())
        row = files.lookup(str(src / "f"), b.run_id)
        assert row is not None
        evil = str(src) + "/../../evil"
        files.add_files(b.session_id, [dataclasses.replace(row, path=os.fsencode(evil))])
        out = run_restore(RestoreSpec((evil,), root=str(dst)), site)
    (result,) = out.results
    assert result.outcome is Outcome.FAILED and result.code == "restore.unsafe_path"
    assert not (tmp_path / "a" / "evil").exists() and not (dst / "evil").exists()
    assert out.exit_code == 1
