"""The serial console through the real pty with pyserial, and its effects seen by SCSI
initiators through the daemon socket; the line assembler on its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from drivers.transport.contract import DeviceUnreachable
from hwsim.console import LineAssembler
from tests.hwsim.daemon_util import Daemon, run
from tests.hwsim.smc_util import SMALL_LIBRARY, expect_check, expect_good, tur

READ_TIMEOUT_S = 5.0


class Console:
    """One pyserial port on the daemon's console; ``ask`` sends a line, returns the answer."""

    def __init__(self, path: Path) -> None:
        self.port = serial.Serial(str(path), baudrate=9600, timeout=READ_TIMEOUT_S)

    def send(self, raw: bytes) -> None:
        self.port.write(raw)
        self.port.flush()

    def answer(self) -> list[str]:
        """Lines up to and including the final OK / ERR line."""
        lines = []
        while True:
            raw = self.port.read_until(b"\r\n")
            assert raw.endswith(b"\r\n"), f"no complete line within timeout: {raw!r} {lines}"
            line = raw[:-2].decode("ascii")
            lines.append(line)
            if line == "OK" or line.startswith("ERR "):
                return lines

    def ask(self, line: str, end: bytes = b"\r\n") -> list[str]:
        self.send(line.encode("ascii") + end)
        return self.answer()

    def close(self) -> None:
        self.port.close()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    config = tmp_path / "lib.toml"
    config.write_text(SMALL_LIBRARY)
    d = Daemon(tmp_path / "state").start(config)
    try:
        yield d
    finally:
        d.kill()


@pytest.fixture
def console(daemon: Daemon) -> Iterator[Console]:
    c = Console(daemon.state_dir / "console")
    try:
        yield c
    finally:
        c.close()


def test_console_path_is_published(daemon: Daemon) -> None:
    pty = (daemon.state_dir / "console.pty-path").read_text().strip()
    assert pty.startswith("/dev/pts/")
    assert os.path.realpath(daemon.state_dir / "console") == pty
    assert daemon.info["console"] == pty


def test_status_inventory_help_and_line_endings(console: Console) -> None:
    status = console.ask("STATUS")
    assert status[-1] == "OK"
    assert "name=small" in status and "door=closed" in status
    assert "elements.slot.full=5" in status
    inventory = console.ask("inventory", end=b"\n")  # LF alone, keyword in lower case
    assert "SLOT 1 @4096 FULL TST001L8" in inventory
    assert "SLOT 5 @4100 EMPTY" in inventory
    assert "DRIVE 1 @256 EMPTY drive=drive0 serial=DRV0000001" in inventory
    assert inventory[-1] == "OK"
    assert console.ask("PING", end=b"\r") == ["PONG", "OK"]  # CR alone (terminal Enter)
    help_lines = console.ask("HELP")
    for usage in ("DOOR OPEN|CLOSE", "FAULT LIST", "IMPORT <barcode> [IE <n>]", "ECHO ON|OFF"):
        assert any(line.startswith(usage) or usage in line for line in help_lines), usage
    assert console.ask("DEVICES") == ["changer", "drive0", "drive1", "OK"]


def test_garbage_never_kills_the_console(console: Console) -> None:
    assert console.ask("FROBNICATE") == ["ERR unknown command 'FROBNICATE'; type HELP for the list"]
    console.send(b"STAT\xc3\xa9US\r\n")
    assert console.answer() == ["ERR line contains a non-ASCII byte 0xC3; use plain ASCII"]
    console.send(b"\x00\x01\x1b[A\n")
    assert console.answer() == ["ERR line contains a control byte 0x00; use plain ASCII"]
    console.send(b"X" * 5000 + b"\n")
    assert console.answer() == ["ERR line longer than 1024 characters; ignored"]
    assert console.ask('DOOR "unbalanced') == [
        "ERR cannot split the line into words: No closing quotation"
    ]
    assert console.ask("DOOR AJAR") == ["ERR DOOR takes OPEN or CLOSE, not 'AJAR'"]
    assert console.ask("DRIVE drive9 STATUS") == [
        "ERR no drive named 'drive9'; drives: drive0, drive1"
    ]
    assert console.ask("EXPORT one") == ["ERR the I/E slot must be a whole number, not 'one'"]
    console.send(b"\r\n\r\n")  # empty lines: no answer at all
    console.send(b"PINX\x7fG\r\n")  # DEL erases the X
    assert console.answer() == ["PONG", "OK"]


def test_door_open_and_close_seen_by_the_changer(daemon: Daemon, console: Console) -> None:
    changer = daemon.transport("changer")
    expect_check(run(changer, tur()), 0x6, 0x29, 0x00)
    expect_good(run(changer, tur()))
    assert console.ask("DOOR OPEN") == ["door open", "OK"]
    expect_check(run(changer, tur()), 0x2, 0x04, 0x83)
    assert "door=open" in console.ask("STATUS")
    assert console.ask("DOOR CLOSE") == ["door closed", "OK"]
    expect_check(run(changer, tur()), 0x6, 0x28, 0x00)
    expect_good(run(changer, tur()))


def test_drive_power_off_and_on(daemon: Daemon, console: Console) -> None:
    tape = daemon.transport("drive0")
    expect_check(run(tape, tur()), 0x6, 0x29, 0x00)
    expect_check(run(tape, tur()), 0x2, 0x3A, 0x00)
    assert console.ask("DRIVE drive0 POWER OFF") == ["drive0 power off", "OK"]
    with pytest.raises(DeviceUnreachable, match="powered off"):
        run(tape, tur())
    expect_good(run(daemon.transport("drive1"), bytes([0x12, 0, 0, 0, 96, 0]), 96))
    assert "powered=False" in console.ask("DRIVE drive0 STATUS")
    assert console.ask("drive drive0 power on") == ["drive0 power on", "OK"]
    expect_check(run(tape, tur()), 0x6, 0x29, 0x00)
    assert console.ask("DRIVE drive0 POWER SIDEWAYS")[-1].startswith("ERR usage: DRIVE <name>")


def test_faults_arm_list_clear(daemon: Daemon, console: Console) -> None:
    armed = console.ask("FAULT ARM hardware_error drive1 nth=2 opcode=test_unit_ready")
    assert armed == [
        "FAULT 1 hardware_error drive1 nth=2 opcode=TEST_UNIT_READY op=write times=1 fired=0 armed",
        "OK",
    ]
    tape = daemon.transport("drive1")
    expect_check(run(tape, tur()), 0x6, 0x29, 0x00)  # TUR #1
    expect_check(run(tape, tur()), 0x4, 0x44, 0x00)  # TUR #2: the injected failure
    assert console.ask("FAULT LIST")[1].endswith("fired=1 spent")
    assert console.ask("FAULT ARM medium_error TST002L8 at_block=3 op=read persistent=true")[
        0
    ].startswith("FAULT 2 medium_error TST002L8 at_block=3 op=read persistent")
    assert console.ask("FAULT ARM power_loss drive0")[-1] == (
        "ERR fault 'power_loss' on 'drive0' needs a trigger: one of nth, at_block, "
        "after_bytes, probability"
    )
    assert console.ask("FAULT ARM power_loss drive0 blok=3")[-1].startswith(
        "ERR unknown fault option 'blok'"
    )
    assert console.ask("FAULT ARM meteor drive0 nth=1")[-1].startswith(
        "ERR unknown fault kind 'meteor'"
    )
    assert console.ask("FAULT CLEAR 9") == ["ERR no fault with id 9; FAULT LIST shows the ids"]
    assert console.ask("FAULT CLEAR TST002L8") == ["cleared 1 fault(s)", "OK"]
    assert console.ask("FAULT CLEAR") == ["cleared 1 fault(s)", "OK"]
    assert console.ask("FAULT LIST") == ["seed=0", "OK"]


def test_import_and_export(console: Console) -> None:
    assert console.ask("IMPORT NEW001L8 IE 2") == ["imported NEW001L8 into I/E slot 2", "OK"]
    assert "IE 2 @17 FULL NEW001L8 imported" in console.ask("INVENTORY")
    assert console.ask("IMPORT NEW001L8") == ["ERR NEW001L8 is already in the library (ie 2)"]
    assert console.ask("IMPORT NEW002L8 IE 9") == ["ERR I/E slot 9 is out of range 1..2"]
    assert console.ask("EXPORT 1") == ["ERR I/E slot 1 is empty"]
    assert console.ask("EXPORT 2") == ["removed NEW001L8 from I/E slot 2", "OK"]
    assert "IE 2 @17 EMPTY" in console.ask("INVENTORY")


def test_echo_for_terminals(console: Console) -> None:
    assert console.ask("ECHO ON") == ["echo on", "OK"]
    console.send(b"PING\r")
    assert console.answer() == ["PING", "PONG", "OK"]
    assert console.ask("ECHO OFF") == ["ECHO OFF", "echo off", "OK"]
    assert console.ask("PING") == ["PONG", "OK"]


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"STATUS\r\n"], [("STATUS", None)]),
        ([b"ST", b"AT", b"US\n", b"PING\r"], [("STATUS", None), ("PING", None)]),
        ([b"\r\n\n\r"], []),
        ([b"AB\x08C\n"], [("AC", None)]),
        ([b"\xff\n"], [("\ufffd", "line contains a non-ASCII byte 0xFF; use plain ASCII")]),
        (
            [b"A" * 11 + b"\nOK\n"],
            [("A" * 10, "line longer than 10 characters; ignored"), ("OK", None)],
        ),
    ],
)
def test_line_assembler(chunks: list[bytes], expected: list[tuple[str, str | None]]) -> None:
    lines = LineAssembler(max_line=10)
    got = []
    for chunk in chunks:
        got += lines.feed(chunk)
    assert got == expected
