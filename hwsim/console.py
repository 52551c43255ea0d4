"""The library's serial console (its RS-232 front panel) on a pseudo-terminal.

``SerialConsole.start`` opens a pty pair (``os.openpty``), puts the slave in raw mode
(termios: no echo, no line editing, no CR/LF translation) and publishes the slave's path as
``<state>/console.pty-path`` and the symlink ``<state>/console``. Clients open that path
like a serial port (pyserial, screen, minicom) and speak the line protocol of
docs/hwsim-console.md; each line goes to the shared ``control.Interpreter``.

Line discipline (done here, since the pty is raw): a line ends at LF or CR (CRLF counts once,
empty lines are ignored), BS/DEL erase the previous character, lines are bounded at
``MAX_LINE`` characters, and bytes outside printable ASCII get an ``ERR`` instead of being
passed on. Answers end every line with CRLF. ``ECHO ON`` echoes input for humans typing in a
terminal. The daemon keeps its own slave descriptor open so that a client closing the port
does not hang the master up (reads would fail with EIO).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import select
import termios
import threading
import tty
from pathlib import Path

from hwsim.control import Interpreter

log = logging.getLogger("hwsim.console")

PTY_PATH_NAME = "console.pty-path"
SYMLINK_NAME = "console"
MAX_LINE = 1024
POLL_S = 0.2
READ_CHUNK = 4096
CRLF = b"\r\n"
_BACKSPACE = frozenset({0x08, 0x7F})
_TERMINATORS = frozenset({0x0A, 0x0D})
_PRINTABLE = range(0x20, 0x7F)
ECHO_HELP = ["ECHO ON|OFF  -- console only: echo what you type (for terminals)"]


class LineAssembler:
    """Bytes in, complete command lines out; bounded, never raises.

    ``feed`` returns ``(line, problem)`` pairs: ``problem`` is an error sentence for a line
    that must not run (too long, non-ASCII or control bytes), else None.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._overflow = False
        self._bad: int | None = None

    def feed(self, data: bytes) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for byte in data:
            if byte in _TERMINATORS:
                out.extend(self._finish())
            elif byte in _BACKSPACE:
                if self._buf:
                    self._buf.pop()
            elif self._overflow:
                continue
            elif len(self._buf) >= self.max_line:
                self._overflow = True
            else:
                if byte not in _PRINTABLE and self._bad is None and byte != 0x09:
                    self._bad = byte
                self._buf.append(byte)
        return out

    def _finish(self) -> list[tuple[str, str | None]]:
        raw, overflow, bad = bytes(self._buf), self._overflow, self._bad
        self._buf.clear()
        self._overflow = False
        self._bad = None
        text = raw.decode("ascii", errors="replace")
        if overflow:
            return [(text[:40], f"line longer than {self.max_line} characters; ignored")]
        if bad is not None:
            kind = "non-ASCII" if bad >= 0x80 else "control"
            return [(text, f"line contains a {kind} byte 0x{bad:02X}; use plain ASCII")]
        if not text.strip():
            return []
        return [(text, None)]


def _echo_form(data: bytes) -> bytes:
    """What a terminal should show for typed bytes: any line end as CRLF, DEL as rub-out."""
    data = data.replace(b"\r\n", b"\r").replace(b"\n", b"\r").replace(b"\r", CRLF)
    return data.replace(b"\x7f", b"\b \b")


class SerialConsole:
    """The pty front panel of one library; ``start``/``stop`` from the daemon's main thread."""

    def __init__(self, interpreter: Interpreter, state_dir: Path) -> None:
        self.interpreter = interpreter
        self.state_dir = Path(state_dir)
        self.echo = False
        self.slave_path: str | None = None
        self._master = -1
        self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Open the pty, publish its path, start serving; returns the slave path."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave, termios.TCSANOW)
        flags = fcntl.fcntl(self._master, fcntl.F_GETFL)
        fcntl.fcntl(self._master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self.slave_path = os.ttyname(self._slave)
        (self.state_dir / PTY_PATH_NAME).write_text(self.slave_path + "\n")
        link = self.state_dir / SYMLINK_NAME
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(self.slave_path)
        self._thread = threading.Thread(target=self._loop, name="hwsim-console", daemon=True)
        self._thread.start()
        return self.slave_path

    def stop(self) -> None:
        """Stop serving, close the pty and remove the published path; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1
        for name in (PTY_PATH_NAME, SYMLINK_NAME):
            path = self.state_dir / name
            with contextlib.suppress(FileNotFoundError):
                if name == PTY_PATH_NAME or path.is_symlink():
                    path.unlink()

    # --- the console thread -------------------------------------------------------------

    def _loop(self) -> None:
        lines = LineAssembler()
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select([self._master], [], [], POLL_S)
                if not readable:
                    continue
                data = os.read(self._master, READ_CHUNK)
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno == errno.EIO:  # no slave open: cannot happen while we hold one
                    self._stop.wait(POLL_S)
                    continue
                log.error("console read failed: %s", exc)
                return
            if self.echo:
                self._write(_echo_form(data))
            for line, problem in lines.feed(data):
                self._answer(line, problem)

    def _answer(self, line: str, problem: str | None) -> None:
        if problem is not None:
            answer = [f"ERR {problem}"]
        else:
            answer = self._console_command(line) or self.interpreter.run(line).render()
        self._write(b"".join(text.encode("ascii", "replace") + CRLF for text in answer))

    def _console_command(self, line: str) -> list[str] | None:
        """Commands that concern this console only (ECHO); None for everything else."""
        words = line.split()
        if not words or words[0].upper() != "ECHO":
            return None
        if len(words) == 2 and words[1].upper() in ("ON", "OFF"):
            self.echo = words[1].upper() == "ON"
            return [f"echo {words[1].lower()}", "OK"]
        return ["ERR usage: ECHO ON|OFF"]

    def _write(self, data: bytes) -> None:
        """Write to the master; if nobody reads and the pty queue is full, drop stale input
        queued for the slave and retry once, so the console thread never blocks."""
        view = memoryview(data)
        retried = False
        while view:
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                if retried:
                    log.warning("console output dropped: nobody is reading the pty")
                    return
                with contextlib.suppress(termios.error):
                    termios.tcflush(self._slave, termios.TCIFLUSH)
                retried = True
                continue
            except OSError as exc:
                log.warning("console write failed: %s", exc)
                return
            view = view[written:]
