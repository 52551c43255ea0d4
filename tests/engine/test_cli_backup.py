"""``tapir backup`` as a user runs it: real subprocesses on the default simulated library, read
back with ``tapir sim tape-file | tar``, checked with ``tapir jobs show``; one-line refusals."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devices.disk import DiskMountPath
from engine.catalog.db import open_catalog
from engine.catalog.media_store import CatalogMediaStore
from tests.engine.cli_util import Tapir, one_error_line
from tests.engine.format.treecmp import Options, compare_trees
from tests.hwsim.daemon_util import REPO, cli_env

TAPIR_MEMBERS = frozenset({b"TAPIR-INDEX.jsonl.gz", b"TAPIR-TRAILER.json"})
"""The session's own members (index, trailer): on tape, not in the source."""


@pytest.fixture
def tapir(tmp_path: Path) -> Tapir:
    return Tapir(tmp_path)


def small_tree(root: Path) -> Path:
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a.txt").write_text("alpha\n" * 50)
    (root / "docs" / "b.bin").write_bytes(os.urandom(300_000))
    (root / "docs" / "deep" / "c.txt").write_text("gamma")
    (root / "docs" / "link").symlink_to("b.bin")
    os.link(root / "a.txt", root / "docs" / "a-again.txt")
    (root / "a.txt").chmod(0o640)
    return root


def tape_file_into_tar(tapir: Tapir, barcode: str, number: int, tar_args: list[str]) -> bytes:
    """``tapir sim tape-file BARCODE N | tar ARGS``; both must succeed."""
    env = cli_env(tapir.home)
    env["XDG_CONFIG_HOME"] = str(tapir.root / "xdg-config")
    env.pop("TAPIR_CONFIG", None)
    command = [sys.executable, "-m", "engine.cli.main", "sim", "tape-file", barcode, str(number)]
    writer = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE)
    assert writer.stdout is not None
    read = subprocess.run(["tar", *tar_args], stdin=writer.stdout, capture_output=True, timeout=60)
    writer.stdout.close()
    assert writer.wait(60) == 0
    assert read.returncode == 0, read.stderr
    return read.stdout


def test_backup_to_the_default_library_restores_with_tar(tapir: Tapir, tmp_path: Path) -> None:
    source = small_tree(tmp_path / "src")
    out = tapir.ok("backup", str(source), "--to", "lib1")
    assert "job 1: COMPLETED\n" in out
    assert "4 files, 4 directories, 1 other," in out
    barcode = out.split("volumes: ")[1].split()[0]

    shown = tapir.json("jobs", "show", "1")
    assert (shown["state"], shown["status"]) == ("ENDED", "COMPLETED")
    assert [run["status"] for run in shown["runs"]] == ["COMPLETED"]

    restored = tmp_path / "restored"
    restored.mkdir()
    tape_file_into_tar(tapir, barcode, 1, ["-xpf", "-", "-C", str(restored)])
    assert compare_trees(source, restored, Options(ignore=TAPIR_MEMBERS)) == []

    listing = tape_file_into_tar(tapir, barcode, 0, ["-tf", "-"]).decode()
    assert listing.splitlines() == ["TAPIR-LABEL.json"]
    # the tape the job labelled and wrote is in the catalog's media records
    medium = tapir.json("media", "show", barcode)["medium"]
    assert medium is not None and medium["state"] == "appendable", medium


def test_a_file_open_for_writing_is_an_exception(tapir: Tapir, tmp_path: Path) -> None:
    source = small_tree(tmp_path / "src")
    busy = source / "docs" / "busy.log"
    with open(busy, "a") as writer:  # this test process is "another process" to tapir
        writer.write("still writing\n")
        writer.flush()
        result = tapir("backup", str(source), "--to", "lib1", "--json")
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "COMPLETED_WITH_EXCEPTIONS" and outcome["exit_code"] == 1
    assert outcome["files_with_exceptions"] == 1 and outcome["counters"]["in_use"] == 1
    assert [e["path"] for e in outcome["exceptions"]] == [str(busy)]
    assert outcome["exceptions"][0]["code"] == "open_for_writing"

    shown = tapir.json("jobs", "show", str(outcome["job"]), "--exceptions")
    assert shown["status"] == "COMPLETED_WITH_EXCEPTIONS"
    [listed] = shown["exceptions"]
    assert (listed["path"], listed["category"], listed["code"]) == (
        str(busy),
        "in_use",
        "open_for_writing",
    )
    assert f"pid {os.getpid()} (" in listed["reason"]

    with open(busy, "a"):
        skipped = tapir("backup", str(source), "--to", "lib1", "--in-use", "skip")
    assert skipped.returncode == 1, skipped.stderr
    assert "job 2: COMPLETED_WITH_EXCEPTIONS\n" in skipped.stdout
    assert f"    in_use (not stored): {busy}: open for writing by pid" in skipped.stdout
    assert "(all: tapir jobs show 2 --exceptions)" in skipped.stdout


def test_json_output_is_one_object(tapir: Tapir, tmp_path: Path) -> None:
    source = small_tree(tmp_path / "src")
    outcome = tapir.json(
        "backup", str(source), "--to", "lib1:drive1", "--record-size", "64K", "--name", "n"
    )
    assert outcome["status"] == "COMPLETED" and outcome["exit_code"] == 0
    assert (outcome["job"], outcome["run"]) == (1, 1)
    assert outcome["counters"]["files"] == 4 and outcome["counters"]["bytes"] > 300_000
    assert outcome["exceptions_count"] == 0 and outcome["exceptions"] == []
    assert len(outcome["volumes"]) == 1

    again = tapir.json(
        "backup", str(source), "--to", "lib1", "--level", "incremental", "--name", "n"
    )
    assert again["level"] == "incremental" and again["status"] == "COMPLETED"
    assert again["counters"]["files"] == 0 and again["counters"]["unchanged"] == 4


def test_bad_options_are_refused_before_anything_runs(tapir: Tapir, tmp_path: Path) -> None:
    source = small_tree(tmp_path / "src")
    cases = {
        ("--record-size", "100"): "--record-size 100: record size must be a multiple of 512",
        ("--record-size", "lots"): "--record-size 'lots': write a size such as 256K",
        ("--in-use", "maybe"): "--in-use 'maybe': write flag, skip, retry:N or retry:N:skip",
        ("--exclude", "!keep"): "--exclude '!keep': ",
    }
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:  # ~1 s of imports each
        results = pool.map(lambda args: tapir("backup", str(source), "--to", "lib1", *args), cases)
        for start, result in zip(cases.values(), results, strict=True):
            line = one_error_line(result, 2)
            assert line.startswith(start), line
    assert not (tapir.home / "catalog.sqlite").exists()  # nothing opened, nothing written


def test_bad_inputs_are_one_line_with_a_record(tapir: Tapir, tmp_path: Path) -> None:
    source = small_tree(tmp_path / "src")
    missing = one_error_line(tapir("backup", str(tmp_path / "nope"), "--to", "lib1"), 2)
    assert missing == (
        f"Source {tmp_path / 'nope'} does not exist; check the path (and that its disk is "
        "mounted). (job 1: FAILED_TO_START)"
    )
    unknown = one_error_line(tapir("backup", str(source), "--to", "lib9"), 2)
    assert unknown.startswith("No library, drive or mount path called 'lib9'"), unknown
    assert unknown.endswith("(job 2: FAILED_TO_START)")
    recorded = tapir.json("jobs", "show", "2")
    assert (recorded["state"], recorded["status"]) == ("ENDED", "FAILED_TO_START")

    tapir.config = tmp_path / "broken.toml"
    tapir.config.write_text("[[libraries]\n")
    broken = one_error_line(tapir("backup", str(source), "--to", "lib1"), 2)
    assert broken.startswith(str(tapir.config)), broken


EMPTY_LIBRARY = """
[library]
name = "empty"
slots = 4

[[drives]]
name = "drive0"
model = "LTO-8"

[[cartridges]]
barcode = "CLN001CU"
slot = 4
"""


def test_library_without_media_and_disabled_mount_path(tapir: Tapir, tmp_path: Path) -> None:
    source = small_tree(tmp_path / "src")
    (tmp_path / "empty.toml").write_text(EMPTY_LIBRARY)
    disk = tmp_path / "disk"
    disk.mkdir()
    catalog = f"sqlite:///{tmp_path / 'cat.sqlite'}"
    tapir.config = tmp_path / "tapir.toml"
    tapir.config.write_text(
        f'catalog = "{catalog}"\n'
        f'[[libraries]]\nname = "empty"\nhwsim = "{tmp_path / "empty-state"}"\n'
        'hwsim_config = "empty.toml"\n'
        f'[[mount_paths]]\npath = "{disk}"\nreserve = "1MiB"\n'
    )
    none_left = one_error_line(tapir("backup", str(source), "--to", "empty"), 2)
    assert none_left.startswith("Library empty holds no appendable or scratch medium of pool "), (
        none_left
    )
    assert "tapir media label BARCODE" in none_left

    with open_catalog(catalog) as cat:
        mount = DiskMountPath.register(disk, CatalogMediaStore(cat), actor="test")
        mount.set_enabled(False, actor="test", reason="Disk being replaced.")
    disabled = one_error_line(tapir("backup", str(source), "--to", str(disk)), 2)
    assert disabled.startswith(f"Mount path {disk} is disabled."), disabled
    assert not list(disk.glob("*.vol"))

    with open_catalog(catalog) as cat:
        DiskMountPath(disk, CatalogMediaStore(cat)).set_enabled(True, actor="test", reason="Ok.")
    outcome = tapir.json("backup", str(source), "--to", str(disk))
    assert outcome["status"] == "COMPLETED" and len(list(disk.glob("*.vol"))) == 1


def test_progress_bar_on_a_terminal(tapir: Tapir, tmp_path: Path) -> None:
    """On a TTY the rich bar runs (and the sizer thread with it) and clears itself."""
    source = small_tree(tmp_path / "src")
    env = cli_env(tapir.home)
    env["XDG_CONFIG_HOME"] = str(tapir.root / "xdg-config")
    env.pop("TAPIR_CONFIG", None)
    primary, secondary = pty.openpty()
    command = [sys.executable, "-m", "engine.cli.main", "backup", str(source), "--to", "lib1"]
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=secondary, stderr=secondary) as proc:
        os.close(secondary)
        output = b""
        with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
            while chunk := os.read(primary, 65536):
                output += chunk
        assert proc.wait(60) == 0, output
    os.close(primary)
    text = output.decode(errors="replace")
    assert "job 1: COMPLETED" in text and "volumes: TAP001L8" in text
    assert "\x1b[" in text  # the live display drew (and erased) itself
