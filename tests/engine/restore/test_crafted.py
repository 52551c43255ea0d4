"""Crafted media: a session on a simulated tape holding ``../x``, absolute names, and a symlink
followed by a member written through it. Restored without the catalog (its own index) and
through a catalog rebuilt from it: those members are refused and reported, the others
restored, and nothing is written outside the restore root."""

from __future__ import annotations

import os
from pathlib import Path

from devices.label import new_label
from engine.format.members import Member, MemberKind
from engine.format.writer import ArchiveWriter
from engine.jobs.states import CompletionStatus
from engine.restore.extract import Outcome
from engine.restore.from_media import MediaRestoreSpec, rebuild, restore_from_media
from engine.restore.job import RestoreSpec, run_restore
from tests.engine.backup.backup_util import RECORD, make_site

SOURCE = "/srv/crafted"
BARCODE = "TST002L8"
REFUSED = {
    f"{SOURCE}/../escaped",
    f"{SOURCE}/a/../../../escaped-too",
    f"{SOURCE}//tmp/absolute",
    f"{SOURCE}/link/planted",
}


def craft_tape(site, outside: Path) -> None:
    """Label + one session written by tapir's own writer, with hostile member names."""
    tape = site.library("lib1").mount(BARCODE)
    tape.set_block_size(0)
    tape.write_label(new_label(BARCODE, "default", "LTO-8", record_size=RECORD))
    tape.locate(2)  # after the label and its filemark
    meta = {"job": 1, "run": 1, "session": 1, "source": SOURCE, "volumes": [BARCODE]}
    writer = ArchiveWriter(tape.write_record, record_size=RECORD, session=meta)

    def file(name: bytes, data: bytes) -> None:
        writer.add_member(Member(name, MemberKind.FILE, size=len(data), mtime_ns=10**18), data)

    writer.add_member(Member(b".", MemberKind.DIRECTORY, mode=0o755))
    file(b"good", b"a good file")
    file(b"../escaped", b"escaped!")
    file(b"a/../../../escaped-too", b"escaped!")
    file(b"/tmp/absolute", b"absolute!")
    writer.add_member(Member(b"link", MemberKind.SYMLINK, linkname=os.fsencode(outside)))
    file(b"link/planted", b"planted!")
    file(b"later", b"a later good file")
    writer.close()
    tape.write_filemarks(1)
    site.library("lib1").unmount(tape.name)


def check(out, root: Path, outside: Path) -> None:
    failed = {r.path: r for r in out.results if r.outcome is Outcome.FAILED}
    assert set(failed) == REFUSED, out.to_dict()
    assert {r.code for r in failed.values()} == {"restore.unsafe_path"}
    assert out.status is CompletionStatus.COMPLETED_WITH_ERRORS and out.exit_code == 1
    here = root / SOURCE.lstrip("/")
    assert (here / "good").read_bytes() == b"a good file"
    assert (here / "later").read_bytes() == b"a later good file"
    assert os.readlink(here / "link") == str(outside)
    assert os.listdir(outside) == []
    written = {str(p.relative_to(root)) for p in root.rglob("*")}
    allowed = {"srv", "srv/crafted", *(f"srv/crafted/{n}" for n in ("good", "later", "link"))}
    assert written <= allowed
    assert not (root.parent / "escaped").exists() and not Path("/tmp/absolute").exists()


def test_crafted_members_are_refused_without_the_catalog(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "r1" / "root"
    with make_site(tmp_path) as site:
        craft_tape(site, outside)
        out = restore_from_media(MediaRestoreSpec(BARCODE, 1, (SOURCE,), str(root)), site)
    check(out, root, outside)


def test_crafted_members_are_refused_through_a_rebuilt_catalog(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "r2" / "root"
    with make_site(tmp_path) as site:
        craft_tape(site, outside)
        report = rebuild(site, [BARCODE], [], actor="t")
        assert report.problems == [] and len(report.catalogued) == 1
        out = run_restore(RestoreSpec((SOURCE,), root=str(root)), site)
    check(out, root, outside)
