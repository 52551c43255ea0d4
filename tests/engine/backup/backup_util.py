"""Helpers of the backup pipeline tests: a site over a small simulated library, reading a
tape file back from a cartridge's recorded medium, extracting with GNU tar and bsdtar."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from engine.site import Site
from engine.site_config import LibrarySpec, MountPathSpec, SiteConfig
from hwsim.media import TapeMedium
from hwsim.state import TAPES_DIR
from tests.engine.format.treecmp import Options, compare_trees

KIB = 1024
MIB = 1024 * KIB
RECORD = 64 * KIB
"""Small records keep small tapes many records long."""
INDEX_FILES = frozenset({b"TAPIR-INDEX.jsonl.gz", b"TAPIR-TRAILER.json"})

LIBRARY = """
[library]
name = "small"
serial = "SMALL00001"
slots = 8
ie_slots = 2

[[drives]]
name = "drive0"
model = "LTO-8"
serial = "DRV0000001"

[[drives]]
name = "drive1"
model = "LTO-8"
serial = "DRV0000002"

[[cartridge_range]]
prefix = "TST"
first = 1
count = 3
suffix = "L8"
slot = 1
capacity = "64MiB"

[[cartridge_range]]
prefix = "SML"
first = 1
count = 4
suffix = "L8"
slot = 4
capacity = "8MiB"
early_warning = "1MiB"

[[cartridges]]
barcode = "CLN001CU"
slot = 8
cleaning_uses = 3
"""


def make_site(tmp: Path, library: str = LIBRARY, mounts: tuple[Path, ...] = ()) -> Site:
    config_file = tmp / "library.toml"
    config_file.write_text(library)
    lib = LibrarySpec("lib1", state_dir=tmp / "state", hwsim_config=config_file, create=True)
    config = SiteConfig(
        libraries=(lib,),
        mount_paths=tuple(MountPathSpec(m, reserve_bytes=0) for m in mounts),
        catalog=f"sqlite:///{tmp / 'catalog.sqlite'}",
    )
    return Site(config)


def tape_files(state: Path, barcode: str) -> list[list[bytes]]:
    """Every tape file of a cartridge as recorded (on tape, flushed), records in order."""
    medium = TapeMedium(state / TAPES_DIR / barcode)
    try:
        files: list[list[bytes]] = [[]]
        for n in range(medium.flushed):
            if medium.is_filemark(n):
                files.append([])
            else:
                files[-1].append(medium.read(n, medium.length(n)))
        return files
    finally:
        medium.close()


def write_tape_file(state: Path, barcode: str, number: int, out: Path) -> Path:
    """Tape file ``number`` as the byte stream ``dd`` would read from a drive."""
    with open(out, "wb") as f:
        for record in tape_files(state, barcode)[number]:
            f.write(record)
    return out


def extract(tool: str, archives: list[Path], dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    if tool == "gnutar":
        args = ["tar", "-x", "--xattrs", "--xattrs-include=*", "--acls", "-C", str(dst)]
        if len(archives) > 1:
            args.append("-M")
        for a in archives:
            args += ["-f", str(a)]
    else:
        assert len(archives) == 1
        args = ["bsdtar", "-x", "-p", "--xattrs", "--acls", "-C", str(dst), "-f", str(archives[0])]
    subprocess.run(args, check=True, capture_output=True)
    for name in INDEX_FILES:
        path = os.path.join(os.fsencode(dst), name)
        if os.path.exists(path):
            os.unlink(path)


def differences(src: Path, dst: Path, **options: object) -> list[str]:
    return compare_trees(src, dst, Options(**options))  # type: ignore[arg-type]
