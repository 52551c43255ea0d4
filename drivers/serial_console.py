"""A library's serial (RS-232) console through pyserial: the ASCII line protocol of
docs/hwsim-console.md, which hwsim serves on a pty.

One command per line; the answer is zero or more lines, then exactly one final line,
``OK`` or ``ERR <sentence>``. ``SerialConsole.ask`` sends a line and returns a
``ConsoleReply`` (the lines before ``OK``), or raises:

  ConsoleUnavailable  the port cannot be opened (missing, no permission, busy)
  ConsoleRefused      the console answered ``ERR <sentence>`` (``sentence`` kept verbatim)
  ConsoleTimeout      no final line within the timeout; the port is drained before the
                      next command, so a late answer is never read as the next one's
  ValueError          the line cannot be sent (non-ASCII, a line break, too long)

Threads: one console, one conversation: ``ask`` holds a lock for the whole exchange.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import serial

OK = "OK"
ERR_PREFIX = "ERR "
MAX_LINE = 1024  # the console refuses longer lines
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_BAUDRATE = 9600  # hwsim ignores the speed; real consoles mostly run at 9600 8N1
READ_SLICE_S = 0.2
LINE_END = b"\r\n"


class ConsoleError(Exception):
    """Base of the console errors; ``port`` and ``command`` say where and what."""

    def __init__(self, port: str, command: str | None, message: str) -> None:
        self.port = port
        self.command = command
        self.detail = message
        where = f"{port}: {command}: " if command else f"{port}: "
        super().__init__(where + message)


class ConsoleUnavailable(ConsoleError):
    """The serial port could not be opened or was lost."""


class ConsoleRefused(ConsoleError):
    """The console answered ERR; ``sentence`` is its explanation."""

    def __init__(self, port: str, command: str, sentence: str, lines: list[str]) -> None:
        super().__init__(port, command, sentence)
        self.sentence = sentence
        self.lines = lines


class ConsoleTimeout(ConsoleError):
    """No OK / ERR line arrived in time; ``lines`` holds what did arrive."""

    def __init__(self, port: str, command: str, timeout_s: float, lines: list[str]) -> None:
        super().__init__(port, command, f"no answer within {timeout_s:g} s")
        self.lines = lines


@dataclass(frozen=True, slots=True)
class ConsoleReply:
    """The lines before ``OK`` (without line ends)."""

    command: str
    lines: tuple[str, ...]

    def pairs(self) -> dict[str, str]:
        """``key=value`` lines as a dict (STATUS, DRIVE x STATUS); other lines ignored."""
        out = {}
        for line in self.lines:
            key, sep, value = line.partition("=")
            if sep:
                out[key] = value
        return out

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _check_line(line: str) -> bytes:
    if "\r" in line or "\n" in line:
        raise ValueError("a console command is one line: it may not contain a line break")
    if len(line) > MAX_LINE:
        raise ValueError(f"console line longer than {MAX_LINE} characters")
    try:
        return line.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"console line {line!r} is not plain ASCII") from None


class SerialConsole:
    """One serial console. ``port`` is a device path (/dev/ttyS0, hwsim's pty) or any
    pyserial URL; opening happens here and raises ``ConsoleUnavailable``."""

    def __init__(
        self, port: str, *, baudrate: int = DEFAULT_BAUDRATE, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.port_name = str(port)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._stale = False
        try:
            self._port = serial.serial_for_url(
                self.port_name, baudrate=baudrate, timeout=READ_SLICE_S, write_timeout=timeout_s
            )
        except (serial.SerialException, OSError) as exc:
            raise ConsoleUnavailable(self.port_name, None, f"cannot open: {exc}") from None

    def __enter__(self) -> SerialConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._port.close()

    def ask(self, line: str, *, timeout_s: float | None = None) -> ConsoleReply:
        """Send ``line``; return the answer before OK or raise (see the module docstring)."""
        raw = _check_line(line)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            try:
                if self._stale:
                    self._drain()
                self._port.write(raw + LINE_END)
                self._port.flush()
                return self._answer(line, timeout)
            except serial.SerialException as exc:
                raise ConsoleUnavailable(self.port_name, line, f"port lost: {exc}") from None

    def _drain(self) -> None:
        """Read and drop what a timed-out command answered late."""
        while self._port.read(4096):
            pass
        self._stale = False

    def _answer(self, command: str, timeout_s: float) -> ConsoleReply:
        deadline = time.monotonic() + timeout_s
        lines: list[str] = []
        pending = b""
        while True:
            while LINE_END[-1:] in pending:
                raw, _, pending = pending.partition(LINE_END[-1:])
                text = raw.rstrip(b"\r").decode("ascii", "replace")
                if not text:
                    continue
                if text == OK:
                    return ConsoleReply(command, tuple(lines))
                if text.startswith(ERR_PREFIX) or text == ERR_PREFIX.strip():
                    sentence = text[len(ERR_PREFIX) :].strip()
                    raise ConsoleRefused(self.port_name, command, sentence, lines)
                lines.append(text)
            if time.monotonic() >= deadline:
                self._stale = True
                raise ConsoleTimeout(self.port_name, command, timeout_s, lines)
            pending += self._port.read(max(1, self._port.in_waiting))

    # --- conveniences for the documented commands -----------------------------------------

    def ping(self) -> bool:
        return self.ask("PING").lines == ("PONG",)

    def status(self) -> dict[str, str]:
        return self.ask("STATUS").pairs()

    def inventory(self) -> list[str]:
        return list(self.ask("INVENTORY").lines)

    def devices(self) -> list[str]:
        return list(self.ask("DEVICES").lines)

    def door(self, open_: bool) -> None:
        self.ask("DOOR OPEN" if open_ else "DOOR CLOSE")

    def drive_power(self, drive: str, on: bool) -> None:
        self.ask(f"DRIVE {drive} POWER {'ON' if on else 'OFF'}")
