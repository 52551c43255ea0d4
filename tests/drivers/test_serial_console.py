"""SerialConsole against a real hwsim daemon's pty (tests/hwsim/daemon_util.py), and on a
bare pty pair for the timeout path (nobody answers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from drivers.errors import NotReady, UnitAttention
from drivers.serial_console import (
    ConsoleRefused,
    ConsoleTimeout,
    ConsoleUnavailable,
    SerialConsole,
)
from drivers.smc import SmcDriver
from tests.hwsim.daemon_util import Daemon
from tests.hwsim.smc_util import SMALL_LIBRARY


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    folder = tmp_path_factory.mktemp("serial")
    config = folder / "lib.toml"
    config.write_text(SMALL_LIBRARY)
    d = Daemon(folder / "state").start(config)
    try:
        yield d
    finally:
        d.kill()


@pytest.fixture
def console(daemon: Daemon) -> Iterator[SerialConsole]:
    with SerialConsole(str(daemon.state_dir / "console"), timeout_s=5.0) as c:
        yield c


def test_ping_status_devices_inventory(console: SerialConsole) -> None:
    assert console.ping()
    status = console.status()
    assert (status["name"], status["door"]) == ("small", "closed")
    assert console.devices() == ["changer", "drive0", "drive1"]
    inventory = console.inventory()
    assert inventory[0].startswith("TRANSPORT 1 @1 ")
    assert any(line.startswith("SLOT 1 @4096 FULL TST001L8") for line in inventory)
    assert len(inventory) == 11


def test_err_becomes_console_refused(console: SerialConsole) -> None:
    with pytest.raises(ConsoleRefused) as err:
        console.ask("FROB")
    assert err.value.sentence == "unknown command 'FROB'; type HELP for the list"
    assert err.value.command == "FROB"
    with pytest.raises(ConsoleRefused, match="no drive named 'drive9'"):
        console.drive_power("drive9", False)
    assert console.ping()  # the conversation goes on


def test_lines_that_cannot_be_sent(console: SerialConsole) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        console.ask("STATUS é")
    with pytest.raises(ValueError, match="line break"):
        console.ask("PING\nPING")


def test_door_from_the_console_seen_by_the_changer_driver(
    console: SerialConsole, daemon: Daemon
) -> None:
    smc = SmcDriver(daemon.transport("changer"))
    try:
        smc.drain_unit_attentions()
        console.door(True)
        assert console.status()["door"] == "open"
        with pytest.raises(NotReady) as err:
            smc.test_unit_ready()
        assert err.value.sense.code == "04/83"
        console.door(False)
        with pytest.raises(UnitAttention) as err:
            smc.test_unit_ready()
        assert err.value.sense.code == "28/00"
        smc.test_unit_ready()
    finally:
        smc.close()


def test_missing_port(tmp_path: Path) -> None:
    with pytest.raises(ConsoleUnavailable, match="cannot open"):
        SerialConsole(str(tmp_path / "no-such-tty"))


def test_timeout_then_late_answer_is_drained() -> None:
    master, slave = os.openpty()
    try:
        with SerialConsole(os.ttyname(slave), timeout_s=0.3) as c:
            with pytest.raises(ConsoleTimeout) as err:
                c.ask("STATUS")
            assert err.value.command == "STATUS"
            os.write(master, b"late=1\r\nOK\r\n")  # the answer to STATUS, too late
            assert os.read(master, 100) == b"STATUS\r\n"
            with ThreadPoolExecutor(1) as pool:
                reply = pool.submit(c.ask, "PING", timeout_s=5.0)
                assert os.read(master, 100) == b"PING\r\n"  # sent after the drain
                os.write(master, b"PONG\r\nOK\r\n")
                assert reply.result().lines == ("PONG",)
    finally:
        os.close(master)
        os.close(slave)
