"""Nothing is written outside the restore root: crafted catalog rows and members with ``..``
or absolute paths, and symlinks planted earlier in the same restore, are refused."""

from __future__ import annotations

import dataclasses
import io
import os
import tarfile
from pathlib import Path

import pytest

from engine.catalog.files_store import FilesStore
from engine.format.members import Member, MemberKind
from engine.format.reader import ArchiveReader, FileSource
from engine.jobs.states import CompletionStatus
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


def test_a_symlink_restored_earlier_in_the_same_restore_is_not_followed(tmp_path: Path) -> None:
    """Two honest backups: /src with ``x`` a symlink to a directory outside, then (after
    ``x`` became a directory) the file /src/x/evil alone. Restoring both in one run writes the
    symlink first (its session is first on the tape); the file is refused, not written
    through it, and the refusal is reported."""
    outside = tmp_path / "outside"
    outside.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    (src / "x").symlink_to(outside)
    (src / "plain").write_text("plain\n")
    dst = tmp_path / "dst"
    with make_site(tmp_path) as site:
        backup(site, src)
        (src / "x").unlink()
        (src / "x").mkdir()
        (src / "x" / "evil").write_text("must not land outside\n")
        backup(site, src / "x" / "evil")
        spec = RestoreSpec((str(src / "x" / "evil"), str(src)), root=str(dst))
        out = run_restore(spec, site)
    got = dst / str(src).lstrip("/")
    assert os.readlink(got / "x") == str(outside)
    assert (got / "plain").read_text() == "plain\n"
    (failed,) = [r for r in out.results if r.outcome is Outcome.FAILED]
    assert failed.path == str(src / "x" / "evil") and failed.code == "restore.unsafe_path"
    assert "symlink" in failed.message
    assert os.listdir(outside) == []
    assert out.status is CompletionStatus.COMPLETED_WITH_ERRORS and out.exit_code == 1


@pytest.mark.parametrize("policy", [Overwrite.NEVER, Overwrite.ALWAYS])
def test_a_symlink_already_in_the_restore_root_is_not_followed(
    tmp_path: Path, policy: Overwrite
) -> None:
    """``dst/tmp`` (above every member) and ``dst/.../src`` (the member itself) planted as
    symlinks to a directory outside: nothing is written through either."""
    outside = tmp_path / "outside"
    outside.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("data\n")
    with make_site(tmp_path) as site:
        backup(site, src)
        above = tmp_path / "dst1"
        top = above / str(src).lstrip("/").split("/")[0]
        top.parent.mkdir()
        top.symlink_to(outside)
        out = run_restore(RestoreSpec((str(src),), root=str(above), overwrite=policy), site)
        assert {r.code for r in out.results} == {"restore.unsafe_path"}
        assert top.is_symlink() and out.status is CompletionStatus.COMPLETED_WITH_ERRORS

        at = tmp_path / "dst2"
        planted = at / str(src).lstrip("/")
        planted.parent.mkdir(parents=True)
        planted.symlink_to(outside)
        out = run_restore(RestoreSpec((str(src),), root=str(at), overwrite=policy), site)
    if policy is Overwrite.NEVER:  # the symlink is kept, the file behind it refused
        assert planted.is_symlink()
        assert [r.code for r in out.results if r.outcome is Outcome.FAILED] == [
            "restore.unsafe_path"
        ]
    else:  # the symlink is replaced by the directory, the file written inside the root
        assert not planted.is_symlink() and (planted / "f").read_text() == "data\n"
    assert os.listdir(outside) == []


def test_overwriting_a_symlink_replaces_the_link_not_its_target(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("untouched\n")
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("restored\n")
    dst = tmp_path / "dst"
    target = dst / str(src).lstrip("/") / "f"
    target.parent.mkdir(parents=True)
    target.symlink_to(secret)
    with make_site(tmp_path) as site:
        backup(site, src)
        spec = RestoreSpec((str(src / "f"),), root=str(dst), overwrite=Overwrite.ALWAYS)
        (result,) = run_restore(spec, site).results
    assert result.outcome is Outcome.RESTORED
    assert not target.is_symlink() and target.read_text() == "restored\n"
    assert secret.read_text() == "untouched\n"


def crafted_archive(path: Path, outside: Path) -> None:
    """A pax archive a hostile tool could have written: ``..``, an absolute name, a symlink
    to a directory outside and a file behind it, a hard link to a file outside."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:

        def add(info: tarfile.TarInfo, data: bytes = b"") -> None:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add(tarfile.TarInfo("ok.txt"), b"fine\n")
        add(tarfile.TarInfo("../dotdot.txt"), b"evil\n")
        add(tarfile.TarInfo("a/../../dotdot2.txt"), b"evil\n")
        add(tarfile.TarInfo(str(outside / "absolute.txt")), b"evil\n")
        link = tarfile.TarInfo("escape")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        add(link)
        add(tarfile.TarInfo("escape/through.txt"), b"evil\n")
        hard = tarfile.TarInfo("hard")
        hard.type, hard.linkname = tarfile.LNKTYPE, "../outside/secret"
        add(hard)


def test_a_crafted_archive_cannot_write_outside_the_root(tmp_path: Path) -> None:
    """Every member of a hostile archive, read with the format reader and handed to the
    extractor as a restore does: the escapes are refused one by one, the rest restored."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret\n")
    archive = tmp_path / "crafted.tar"
    crafted_archive(archive, outside)
    root = tmp_path / "root"
    ex = Extractor(os.fsencode(root), Overwrite.ALWAYS)
    outcomes: dict[str, str] = {}
    reader = ArchiveReader(FileSource([str(archive)], tarfile.RECORDSIZE))
    try:
        for entry in reader:
            name = entry.member.name
            try:
                ex.write(name, entry.member, reader.chunks(), checksum=None, session=1)
                outcomes[os.fsdecode(name)] = "restored"
            except (UnsafePath, OSError) as exc:
                outcomes[os.fsdecode(name)] = type(exc).__name__
    finally:
        ex.close()
    assert outcomes == {
        "ok.txt": "restored",
        "../dotdot.txt": "UnsafePath",
        "a/../../dotdot2.txt": "UnsafePath",
        str(outside / "absolute.txt"): "UnsafePath",
        "escape": "restored",
        "escape/through.txt": "UnsafePath",
        "hard": "FileNotFoundError",
    }
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (outside / "secret").read_text() == "secret\n"
    assert sorted(os.listdir(root)) == ["escape", "ok.txt"]
    assert not (tmp_path / "dotdot.txt").exists() and not (tmp_path / "dotdot2.txt").exists()
