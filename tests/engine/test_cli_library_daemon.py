"""``tapir library import|export`` through the mail slot, and the same commands on a library
served by a daemon (``tapir sim start --detach``) giving the same results as in-process."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.engine.cli_util import Tapir, slot_of


@pytest.fixture
def tapir(tmp_path: Path) -> Tapir:
    return Tapir(tmp_path)


def test_export_then_import_through_the_mail_slot(tapir: Tapir) -> None:
    assert tapir.ok("library", "export", "TAP004L8").strip() == "TAP004L8 exported to I/E 1 of lib1"
    # placed by the robot, not by an operator: import leaves it unless asked for that slot
    assert "I/E 1 holds TAP004L8 (tapir library import --ie 1" in tapir.ok("library", "import")
    assert tapir.ok("library", "import", "--ie", "1").strip() == "TAP004L8 imported to Slot 4"

    # the operator takes an exported cartridge out and puts a new one in
    tapir.ok("library", "export", "TAP005L8")
    tapir.ok("sim", "console", "EXPORT", "1")
    tapir.ok("sim", "console", "IMPORT", "NEW001L8", "IE", "2")
    assert tapir.ok("library", "import").strip() == "NEW001L8 imported to Slot 5"
    inv = tapir.json("library", "inventory")
    assert slot_of(inv, "TAP005L8") is None
    assert slot_of(inv, "NEW001L8") == ("slot", 5)


@pytest.fixture
def daemon_state(tapir: Tapir, tmp_path: Path) -> Iterator[Path]:
    """The default library, served by ``tapir sim start --detach`` from its own state dir."""
    state = tmp_path / "served"
    tapir.ok("sim", "start", "--detach", "--no-console", "--state", str(state))
    pid = int((state / "hwsim.pid").read_text())
    try:
        yield state
    finally:
        if tapir("sim", "stop", "--state", str(state)).returncode != 0 and psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_daemon_served_library_gives_the_same_results(
    tapir: Tapir, tmp_path: Path, daemon_state: Path
) -> None:
    steps = [
        ("library", "load", "TAP002L8", "--drive", "drive1"),
        ("library", "move", "slot 7", "slot 21"),
        ("library", "export", "TAP009L8"),
    ]
    local = [tapir.ok(*step) for step in steps]
    local_inv = tapir.json("library", "inventory")

    site = tmp_path / "site.toml"
    site.write_text(
        f'[[libraries]]\nname = "lib1"\nhwsim = "{daemon_state}"\n\n'
        f'[[libraries]]\nname = "direct"\nchanger = "hwsim:{daemon_state}#changer"\n'
        f'drives = {{ drive0 = "hwsim:{daemon_state}#drive0", '
        f'drive1 = "hwsim:{daemon_state}#drive1" }}\n'
    )
    tapir.config = site
    served = [tapir.ok(*step) for step in steps]
    assert served == local
    assert tapir.json("library", "inventory") == local_inv
    direct = tapir.json("library", "inventory", "direct")
    assert {**direct, "library": "lib1"} == local_inv

    scan = tapir.json("devices", "scan", "--no-udev")["devices"]
    assert [(r["name"], r["access"], r["status"]) for r in scan] == [
        ("lib1:changer", "daemon", "ok"),
        ("lib1:drive0", "daemon", "ok"),
        ("lib1:drive1", "daemon", "ok"),
        ("direct:changer", "endpoint", "ok"),
        ("direct:drive0", "endpoint", "ok"),
        ("direct:drive1", "endpoint", "ok"),
    ]
    assert tapir.ok("library", "unload", "direct:drive1").strip() == (
        "TAP002L8 unloaded from direct:drive1 to Slot 2"
    )
