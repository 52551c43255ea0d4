"""Shared helpers for the backup front-end tests: real processes, real files, real users."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.privileges import nobody_can_enter

WRITER_SCRIPT = r"""
import sys
path, hold = sys.argv[1], sys.argv[2] == "hold"
f = open(path, "ab") if hold else None
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "append":
        if f is None:
            with open(path, "ab") as g:
                g.write(b"appended by the writer\n")
        else:
            f.write(b"appended by the writer\n")
            f.flush()
    elif cmd == "close" and f is not None:
        f.close()
        f = None
    print("ok", flush=True)
"""


class Writer:
    """A real subprocess that appends to a file on command, holding it open or not."""

    def __init__(self, path: Path, *, hold: bool) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER_SCRIPT, str(path), "hold" if hold else "open-each-time"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def command(self, cmd: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def writer_factory() -> Iterator[Callable[..., Writer]]:
    writers: list[Writer] = []

    def make(path: Path, *, hold: bool) -> Writer:
        w = Writer(path, hold=hold)
        writers.append(w)
        return w

    yield make
    for w in writers:
        w.stop()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A temporary directory user nobody can enter (pytest's tmp_path is root-only)."""
    with nobody_can_enter() as path:
        yield path
