"""The state directory of a simulated library: its lock and its atomically written record.

Layout (docs/hwsim-library.md)::

    STATE/lock             fcntl.flock'ed by the one process that has the library open
    STATE/library.json     config copy, element contents, door, drive power and state,
                           cartridges (MAM, switches), fault plan with its counters
    STATE/tapes/<barcode>/ each cartridge's recorded contents (hwsim.media)

``library.json`` is replaced atomically (write a temporary file, fsync, rename, fsync the
directory), so a crash leaves either the old or the new record, never a torn one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any

LOCK_FILE = "lock"
STATE_FILE = "library.json"
TAPES_DIR = "tapes"
STATE_FORMAT = 1


class StateError(Exception):
    """A state directory that cannot be used; the message names the directory or file."""


class StateLock:
    """An exclusive, non-blocking flock on STATE/lock, holding the owner's pid.

    The kernel drops the lock when the process dies, so a crashed simulator never leaves a
    library locked. Two opens in one process also conflict (each has its own descriptor).
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateError(f"cannot open lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise StateError(f"library in {self.path.parent} is in use by {who}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON: tmp + fsync + rename + directory fsync."""
    tmp = path.with_name(path.name + ".tmp")
    payload = json.dumps(data, indent=1, sort_keys=True).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_state(state_dir: Path) -> dict[str, Any]:
    """Load STATE/library.json; StateError naming the file when missing or unreadable."""
    path = state_dir / STATE_FILE
    if not state_dir.is_dir():
        raise StateError(f"{state_dir}: no such state directory")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateError(f"{state_dir}: holds no library ({STATE_FILE} is missing)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: cannot read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(
            f"{path}: corrupt ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise StateError(f"{path}: corrupt (not a JSON object)")
    if data.get("format") != STATE_FORMAT:
        raise StateError(
            f"{path}: unknown state format {data.get('format')!r} (this hwsim reads {STATE_FORMAT})"
        )
    return data


def holds_library(state_dir: Path) -> bool:
    return (state_dir / STATE_FILE).exists()
