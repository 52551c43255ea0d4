"""A helper Python process spoken to with pickles over its stdin/stdout (issue 4 "Speed").

Why processes: the backup's per-file work is Python under one GIL; a stage that makes a
system call or a SQLite step per file waits for the GIL after each one while the other
stages hold it. Moved to a child, such a stage runs on its own GIL and costs this process
one pipe round trip per batch. Users: engine/backup/read_worker.py (small files read and
encoded) and engine/catalog/files_staging.py (catalog rows staged).

The child is ``MODULE.main(ARGS)`` forked from the helpers' fork server (engine/fork_server.py:
one interpreter start and one import of the helpers' modules per process, not per child), or,
where the server cannot run, ``python -m MODULE ARGS...``; either way with this checkout first
on ``PYTHONPATH`` (so a worktree's code is the code that runs), its stderr discarded (a
child failure is seen by the parent as EOF and handled there), outside the terminal's process
group (a Ctrl-C cancels the backup, which then ends its children in order: the catalog child
finishes its last publish),
and loops on ``serve``: one request in, one reply out. A parent that dies closes the pipe:
the child sees EOF and exits.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import pickle
import select
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.fork_server import ForkedProcess, ForkServer

PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
STOP_S = 10.0
"""How long ``close`` waits for a child to finish its last request and exit before killing."""
REPLY_PIPE_BYTES = 1 << 20
"""What the pipe of a child's replies is asked to hold (Linux's default most for a process
without CAP_SYS_RESOURCE, ``/proc/sys/fs/pipe-max-size``). Why: a child writing a reply larger
than its pipe (64 KiB by default) waits until the parent read it, and reads nothing meanwhile,
so the request a reader thread sent ahead (``send(ahead=True)``) waited too; a reader worker's
reply to a batch of 256 small files is ~90 KB (measured, engine/backup/read_worker.py). With
room for the whole reply the child goes on to the next request at once (measured: the
small-files bench ~4% faster)."""
ChildGone = (OSError, EOFError, pickle.UnpicklingError)
"""What ``call`` raises when the child died or broke the protocol."""


_REAPERS: list[threading.Thread] = []
_REAPERS_LOCK = threading.Lock()


HELPER_MODULES = ("engine.backup.read_worker", "engine.catalog.row_staging")
"""What the fork server imports before it forks the helpers (engine/fork_server.py)."""
_SERVER: ForkServer | None = None
_SERVER_LOCK = threading.Lock()
_SERVER_REFUSED = False
"""The fork server could not start here (or died): children start the usual way."""


def join_closed() -> None:
    """Wait until every child closed with ``wait=False`` has exited, then stop the fork
    server if no child of it is left: at this process's exit (no child outlives it
    unwaited), and in benchmarks (the system reports the CPU time of waited-for children
    only, and the helpers are the fork server's children)."""
    global _SERVER
    with _REAPERS_LOCK:
        reapers = list(_REAPERS)
    for reaper in reapers:
        reaper.join()
    with _SERVER_LOCK:
        server = _SERVER
        if server is None or server.live:
            return
        _SERVER = None
    server.stop(STOP_S)


def prestart() -> None:
    """Start the fork server now, ahead of the helpers: a backup calls it first thing, so
    that the server's own start (~0.1 s: an interpreter and the helpers' imports) overlaps
    the run's set-up and the mount, and the first helpers are forks."""
    _fork_server()


def _fork_server() -> ForkServer | None:
    global _SERVER, _SERVER_REFUSED
    with _SERVER_LOCK:
        if _SERVER is None and not _SERVER_REFUSED:
            from engine.fork_server import ForkServer, ForkServerError, supported

            try:
                if not supported():
                    raise ForkServerError("no pidfd here")
                _SERVER = ForkServer(list(HELPER_MODULES), _child_env())
            except ForkServerError:
                _SERVER_REFUSED = True
        return _SERVER


def _forget_server(server: ForkServer) -> None:
    """The server failed a request: the next children start the usual way."""
    global _SERVER, _SERVER_REFUSED
    with _SERVER_LOCK:
        if _SERVER is server:
            _SERVER, _SERVER_REFUSED = None, True


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (PACKAGE_ROOT, env.get("PYTHONPATH"))))
    return env


atexit.register(join_closed)


def _widen(pipe: IO[bytes] | None) -> None:
    """Ask for a reply pipe of ``REPLY_PIPE_BYTES``; where the system refuses (a lower
    ``pipe-max-size``, a pipe buffer quota) the pipe keeps its size: replies then wait for
    the parent as before, nothing else changes."""
    if pipe is None:
        return
    with contextlib.suppress(OSError, ValueError):
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, REPLY_PIPE_BYTES)


class PickleChild:
    """This process's end of one child (one caller thread at a time)."""

    def __init__(self, module: str, args: list[str], *, pass_fds: tuple[int, ...] = ()) -> None:
        """Forked from the fork server (engine/fork_server.py) when it runs, else started
        as ``python -m module args``. Raises ``OSError`` if neither worked."""
        self.proc: subprocess.Popen[bytes] | ForkedProcess = self._forked(
            module, args, pass_fds
        ) or subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            pass_fds=pass_fds,
            env=_child_env(),
            process_group=0,  # Ctrl-C reaches the parent only; it ends the child by EOF
        )
        self._pipe_room: int | None = None
        _widen(self.proc.stdout)

    @staticmethod
    def _forked(module: str, args: list[str], pass_fds: tuple[int, ...]) -> ForkedProcess | None:
        server = _fork_server()
        if server is None or module not in HELPER_MODULES:
            return None
        from engine.fork_server import ForkServerError

        try:
            return server.spawn(module, args, pass_fds)
        except ForkServerError:
            _forget_server(server)
            return None

    def call(self, request: object) -> Any:
        """Send one request and wait (GIL released) for its reply; raises one of
        ``ChildGone`` if the child is gone."""
        self.send(request)
        return self.receive()

    def send(self, request: object, *, ahead: bool = False) -> bool:
        """Send one request; its reply is the next ``receive`` not yet matched to an earlier
        request. ``ahead``: the reply to an earlier request is still unread; then a request
        is sent only if it fits in half the pipe (else False: receive first). Why: the child,
        writing a reply larger than its pipe holds, reads nothing until that reply is read,
        so a request it cannot take whole would block both ends. Raises one of
        ``ChildGone`` if the child is gone."""
        stdin = self.proc.stdin
        assert stdin is not None
        data = pickle.dumps(request, pickle.HIGHEST_PROTOCOL)
        if ahead and len(data) > self._room():
            return False
        stdin.write(data)
        stdin.flush()
        return True

    def receive(self) -> Any:
        """The reply to the oldest request not answered yet (waiting, GIL released)."""
        stdout = self.proc.stdout
        assert stdout is not None
        return pickle.load(stdout)

    def _room(self) -> int:
        """Half the capacity of the pipe to the child (one page, the least Linux gives a
        pipe, when it cannot be asked)."""
        if self._pipe_room is None:
            try:
                size = fcntl.fcntl(self.proc.stdin.fileno(), fcntl.F_GETPIPE_SZ)  # type: ignore[union-attr]
            except (OSError, AttributeError, ValueError):
                size = 2 * select.PIPE_BUF
            self._pipe_room = max(size // 2, select.PIPE_BUF)
        return self._pipe_room

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
