"""Faults through the CLI as an administrator meets them (issue 7): power lost on the drive
mid-backup (``tapir sim fault arm``), the tape then shown by ``tapir media show``, the job run
again with ``--resume``; a disk mount path filling up mid-backup, and one gone (its simulated
disk pulled out, hwsim/disk.py) with and without another mount path to go to. Real
subprocesses."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from tests.engine.backup.backup_util import LIBRARY
from tests.engine.cli_util import Tapir, one_error_line
from tests.engine.format.treecmp import compare_trees
from tests.hwsim.daemon_util import REPO, cli_env

FILES = 30
SIZE = 100_000
ARGS = ("--record-size", "64K", "--checkpoint-bytes", "256K", "--drive-wait", "0.2")


def site(tmp: Path, *mounts: Path) -> Tapir:
    (tmp / "library.toml").write_text(LIBRARY)
    config = tmp / "tapir.toml"
    text = (
        f'catalog = "sqlite:///{tmp / "catalog.sqlite"}"\n'
        f'[[libraries]]\nname = "lib1"\nhwsim = "{tmp / "state"}"\n'
        f'hwsim_config = "{tmp / "library.toml"}"\n'
    )
    for m in mounts:
        m.mkdir()
        text += f'[[mount_paths]]\npath = "{m}"\nreserve = "0"\n'
    config.write_text(text)
    return Tapir(tmp, config=config)


def tree(root: Path) -> Path:
    root.mkdir()
    for i in range(FILES):
        (root / f"f{i:02d}").write_bytes(os.urandom(SIZE))
    return root


def test_power_loss_through_the_cli_suspect_tape_shown_and_the_job_resumed(
    tmp_path: Path,
) -> None:
    src = tree(tmp_path / "src")
    tapir = site(tmp_path)
    state = str(tmp_path / "state")
    tapir.ok("library", "inventory", "lib1")  # creates the simulated library from its config
    tapir.ok("sim", "fault", "arm", "power_loss", "drive0", "at_block=20", "--state", state)
    failed = tapir("backup", str(src), "--to", "lib1", *ARGS, "--json")
    assert failed.returncode == 2, failed.stderr
    out = json.loads(failed.stdout)
    tape = out["volumes"][0]
    assert out["status"] == "TIMED_OUT" and out["error_code"] == "backup.drive_lost"
    assert f"Drive drive0 stopped answering while writing {tape}" in out["error"]
    assert f"{tape} is now SUSPECT" in out["error"]

    shown = tapir.json("media", "show", tape)
    assert shown["medium"]["state"] == "suspect"
    assert "stopped answering while writing" in shown["medium"]["state_reason"]
    assert f"job {out['job']}, run 1" in shown["medium"]["state_reason"]
    assert "may still be restored from it" in shown["meaning"]
    assert "never appended to again" in shown["meaning"]
    text = tapir.ok("media", "show", tape)
    assert "suspect" in text and "meaning" in text

    resumed = tapir.json("backup", str(src), "--to", "lib1", *ARGS, "--resume", str(out["job"]))
    assert resumed["status"] == "COMPLETED", resumed
    assert resumed["resumed_from"] == 1 and tape not in resumed["volumes"]
    assert 0 < resumed["counters"]["files"] < FILES

    tapir.ok("sim", "console", "DRIVE", "drive0", "POWER", "ON", "--state", state)
    restored = tapir(
        "restore", str(src), "--to", str(tmp_path / "dst"), "--as-of", str(resumed["job"])
    )
    assert restored.returncode == 0, restored.stderr
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []
    assert tapir.json("media", "show", tape)["medium"]["state"] == "suspect"


def _file_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


FILE_LIMIT = 16_000_000
"""RLIMIT_FSIZE stands in for a full disk: every file the process writes is capped, so the
limit sits above the backup's own working files (the 11 MiB memfd of read buffers, the
catalog) and below the volume the source needs."""


def test_a_mount_path_filling_up_mid_backup_fails_with_the_reason(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(24):
        (src / f"f{i:02d}").write_bytes(os.urandom(1_000_000))
    disk = tmp_path / "disk1"
    tapir = site(tmp_path, disk)
    tapir.ok("jobs", "list")  # the catalog exists before the limit applies
    env = cli_env(tapir.home)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env["TAPIR_CONFIG"] = str(tapir.config)
    full = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "backup", str(src), "--to", str(disk), *ARGS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_file_limit(FILE_LIMIT),  # the volume file cannot grow past it
    )
    line = one_error_line(full, 2)
    assert f"on mount path {disk} failed: File too large" in line
    shown = tapir.json("jobs", "show", "1")
    run = shown["runs"][-1] if "runs" in shown else shown
    assert "FAILED" in json.dumps(run)
    (volume,) = disk.glob("*.vol")
    assert volume.stat().st_size % (64 * 1024) == 0  # cut back to whole flushed records


GONE_AT = 1_000_000
"""Bytes written to the first mount path's simulated disk before it is pulled out (mid-job:
the backup writes about 3 MB)."""


def gone_site(tmp: Path, spare: bool) -> Tapir:
    """Mount path disk1 on a simulated disk that goes at byte ``GONE_AT`` (hwsim/disk.py),
    and, with ``spare``, disk2 of the same pool."""
    tapir = site(tmp, *((tmp / "disk2",) if spare else ()))
    disk1 = tmp / "disk1"
    disk1.mkdir()
    assert tapir.config is not None
    tapir.config.write_text(
        tapir.config.read_text()
        + f'[[mount_paths]]\npath = "{disk1}"\nreserve = "0"\n'
        + f'hwsim = {{ faults = [{{ kind = "gone", at_byte = {GONE_AT} }}] }}\n'
    )
    return tapir


def remount(disk: Path) -> None:
    """The administrator mounts the disk again (where hwsim's unmount put its contents)."""
    away = disk.with_name(disk.name + ".hwsim-unmounted")
    for leftover in disk.iterdir():
        leftover.unlink()
    disk.rmdir()
    away.rename(disk)


def test_a_mount_path_gone_mid_backup_moves_the_job_to_the_other_one(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    tapir = gone_site(tmp_path, spare=True)
    disk1, disk2 = tmp_path / "disk1", tmp_path / "disk2"
    out = tapir.json("backup", str(src), "--to", str(disk1), *ARGS, "--restarts", "1")
    assert out["status"] == "COMPLETED", out
    runs = tapir.json("jobs", "show", str(out["job"]))["runs"]
    assert [r["status"] for r in runs] == ["RESUMED", "COMPLETED"]
    assert f"Mount path {disk1}" in runs[0]["error"] and "unmounted" in runs[0]["error"]
    assert list(disk2.glob("*.vol")) and not list(disk1.iterdir())  # the empty mount point

    remount(disk1)
    (cut,) = disk1.glob("*.vol")  # the first run's volume: its label and flushed records
    assert 0 < cut.stat().st_size < GONE_AT and cut.stat().st_size % (64 * 1024) == 0
    restored = tapir("restore", str(src), "--to", str(tmp_path / "dst"), "--as-of", str(out["job"]))
    assert restored.returncode == 0, restored.stderr
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []


def test_a_mount_path_gone_mid_backup_without_another_fails_with_the_reason(
    tmp_path: Path,
) -> None:
    src = tree(tmp_path / "src")
    tapir = gone_site(tmp_path, spare=False)
    disk1 = tmp_path / "disk1"
    failed = tapir("backup", str(src), "--to", str(disk1), *ARGS, "--restarts", "1")
    line = one_error_line(failed, 2)
    assert f"Mount path {disk1} holds no tapir marker (unmounted" in line, line
    runs = tapir.json("jobs", "show", "1")["runs"]
    assert [r["status"] for r in runs] == ["RESUMED", "FAILED"]
