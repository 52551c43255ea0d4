"""``tapir devices scan``: real devices through udev (on a umockdev fake sysfs, the same
fixtures as tests/drivers/test_discovery.py) plus the configured and simulated ones."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.cli_util import Tapir
from tests.hwsim.daemon_util import REPO, cli_env

FIXTURES = REPO / "tests" / "drivers" / "fixtures"


def scan_under_umockdev(tapir: Tapir, fixture: str, *args: str) -> subprocess.CompletedProcess:
    env = cli_env(tapir.home)
    env["XDG_CONFIG_HOME"] = str(tapir.root / "xdg-config")
    return subprocess.run(
        ["umockdev-run", "-d", str(FIXTURES / fixture), "--",
         sys.executable, "-m", "engine.cli.main", "devices", "scan", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


@pytest.mark.skipif(not shutil.which("umockdev-run"), reason="Debian's umockdev is not installed")
def test_scan_lists_udev_devices_and_the_default_simulated_library(tmp_path: Path) -> None:
    tapir = Tapir(tmp_path)
    result = scan_under_umockdev(tapir, "library_two_drives.umockdev", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["devices"]
    assert [(r["source"], r["kind"], r["name"], r["endpoint"], r["serial"]) for r in rows] == [
        ("udev", "changer", "/dev/sch0", "/dev/sg0", "464970G+1333SY1401"),
        ("udev", "drive", "/dev/nst0", "/dev/sg1", "HU1234567B"),
        ("udev", "drive", "/dev/nst1", "/dev/sg2", "HU7654321C"),
        ("config", "changer", "lib1:changer", rows[3]["endpoint"], "HWSL000001"),
        ("config", "drive", "lib1:drive0", rows[4]["endpoint"], "HWSL000001D1"),
        ("config", "drive", "lib1:drive1", rows[5]["endpoint"], "HWSL000001D2"),
    ]
    assert rows[1]["nodes"] == {"nst": "/dev/nst0", "st": "/dev/st0", "sg": "/dev/sg1"}
    assert rows[1]["hctl"] == "2:0:1:0" and rows[1]["model"] == "Ultrium 6-SCSI"
    state = tapir.home / "hwsim" / "default"
    assert rows[4]["endpoint"] == f"hwsim:{state}#drive0"
    assert {r["access"] for r in rows[3:]} == {"in-process"}
    assert all(r["status"] == "ok" for r in rows)

    table = scan_under_umockdev(tapir, "drive_standalone.umockdev")
    assert table.returncode == 0, table.stderr
    line = next(row for row in table.stdout.splitlines() if "/dev/nst0" in row)
    assert all(word in line for word in ("udev", "drive", "/dev/sg1", "IBM", "1013000001"))


def test_configured_devices_that_do_not_answer_are_rows_not_failures(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        '[[libraries]]\nname = "far"\nchanger = "hwsim:/nonexistent/state#changer"\n'
        'drives = { d0 = "hwsim:/nonexistent/state#drive0" }\n\n'
        '[[drives]]\nname = "lto9"\nendpoint = "/dev/sg250"\n'
    )
    tapir = Tapir(tmp_path, config=site)
    rows = tapir.json("devices", "scan", "--no-udev")["devices"]
    assert [(r["name"], r["endpoint"]) for r in rows] == [
        ("far:changer", "hwsim:/nonexistent/state#changer"),
        ("far:d0", "hwsim:/nonexistent/state#drive0"),
        ("lto9", "/dev/sg250"),
    ]
    assert rows[0]["status"] == (
        "hwsim:/nonexistent/state#changer: no hwsim daemon at /nonexistent/state: "
        "start it with tapir sim start."
    )
    assert rows[2]["status"].startswith("/dev/sg250: no such device node; check the path")
    table = tapir.ok("devices", "scan", "--no-udev")
    assert "far:d0" in table and "no hwsim daemon" in table
