"""A helper Python process spoken to with pickles over its stdin/stdout (issue 4 "Speed").

Why processes: the backup's per-file work is Python under one GIL; a stage that makes a
system call or a SQLite step per file waits for the GIL after each one while the other
stages hold it. Moved to a child, such a stage runs on its own GIL and costs this process
one pipe round trip per batch. Users: engine/backup/read_worker.py (small files read and
encoded) and engine/catalog/files_staging.py (catalog rows staged).

The child runs ``python -m MODULE ARGS...`` with this checkout first on ``PYTHONPATH`` (so a
worktree's code is the code that runs), its stderr discarded (a child failure is seen by the
parent as EOF and handled there), in its own process group (a terminal's Ctrl-C cancels the
backup, which then ends its children in order: the catalog child finishes its last publish),
and loops on ``serve``: one request in, one reply out. A parent that dies closes the pipe:
the child sees EOF and exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
STOP_S = 10.0
"""How long ``close`` waits for a child to finish its last request and exit before killing."""
ChildGone = (OSError, EOFError, pickle.UnpicklingError)
"""What ``call`` raises when the child died or broke the protocol."""


_REAPERS: list[threading.Thread] = []
_REAPERS_LOCK = threading.Lock()


def join_closed() -> None:
    """Wait until every child closed with ``wait=False`` has exited: at this process's exit
    (no child outlives it unwaited), and in benchmarks (the system reports the CPU time of
    waited-for children only)."""
    with _REAPERS_LOCK:
        reapers = list(_REAPERS)
    for reaper in reapers:
        reaper.join()


atexit.register(join_closed)


class PickleChild:
    """This process's end of one child (one caller thread at a time)."""

    def __init__(self, module: str, args: list[str], *, pass_fds: tuple[int, ...] = ()) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (PACKAGE_ROOT, env.get("PYTHONPATH"))))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            pass_fds=pass_fds,
            env=env,
            process_group=0,  # Ctrl-C reaches the parent only; it ends the child by EOF
        )

    def call(self, request: object) -> Any:
        """Send one request and wait (GIL released) for its reply; raises one of
        ``ChildGone`` if the child is gone."""
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        pickle.dump(request, stdin, pickle.HIGHEST_PROTOCOL)
        stdin.flush()
        return pickle.load(stdout)

    def close(self, wait: bool = True) -> None:
        """EOF on the child's input, then wait for it to exit (killed past ``STOP_S``);
        ``wait=False``: a thread waits, for a child whose last work after its last reply
        (the catalog's WAL checkpoint, an interpreter's teardown) need not hold the caller
        up. Idempotent."""
        proc = self.proc
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if not wait:
            reaper = threading.Thread(target=self._reap, name="tapir-child-reaper", daemon=True)
            with _REAPERS_LOCK:
                _REAPERS[:] = [r for r in _REAPERS if r.is_alive()]
                _REAPERS.append(reaper)
            reaper.start()
            return
        self._reap()

    def _reap(self) -> None:
        proc = self.proc
        try:
            proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def serve(
    handle: Callable[[Any], object],
    requests: IO[bytes],
    replies: IO[bytes],
    after_reply: Callable[[], None] | None = None,
) -> None:
    """The child's loop: ``handle`` each request, reply with its result, until EOF."""
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        pickle.dump(handle(request), replies, pickle.HIGHEST_PROTOCOL)
        replies.flush()
        if after_reply is not None:
            after_reply()


def serve_stdio(
    handle: Callable[[Any], object], after_reply: Callable[[], None] | None = None
) -> None:
    """``serve`` on this process's stdin/stdout; quiet on interrupt or a closed pipe."""
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        serve(handle, sys.stdin.buffer, sys.stdout.buffer, after_reply)
