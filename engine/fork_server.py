"""Helper processes forked from one started ahead, instead of each one started from scratch
(issue 4 "Speed"; engine/child_process.py's children).

Why: on the machines we measured, a Python process takes ~0.08 s of CPU to start and the
helpers' imports ~0.05 s more, and a backup starts three (two read workers and the catalog
staging child) while its first files are read: ~0.3 s of CPU at the moment all threads want
the two CPUs. One server process imports the helpers' modules once; each helper is then a
``fork`` of it (a few ms), already imported.

The server (``python -m engine.fork_server MODULE...``) imports the modules and waits on a
Unix socket (SOCK_SEQPACKET; its number in ``TAPIR_FORK_SERVER_FD``) for requests, each
answered in order:

- ``("spawn", module, args, cwd, targets)`` with descriptors attached (SCM_RIGHTS): forks a
  child that puts the descriptors at the numbers ``targets`` gives (its stdin, its stdout,
  then the numbers its ``args`` name), changes to ``cwd`` and runs ``module.main(args)``;
  the reply is the child's pid. The child is the server's, so its pid is not reused before
  the server is asked for its status;
- ``("status", pid)``: waits for that child (the caller asks once a pidfd said it ended);
  the reply is its return code, as ``subprocess`` gives it (negative: killed by a signal).

The server is single-threaded and forks nothing but its own children; the children are in
its process group, not the terminal's (a Ctrl-C reaches the backup only, which ends its
helpers by EOF as before). At EOF on the socket it waits for its children and exits, so that
their CPU time is counted to the backup process once it waits for the server
(``ForkServer.stop``).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
from typing import IO

MAX_FDS = 8
"""Descriptors one spawn request may carry."""
REPLY_S = 30.0
"""How long a request waits for the server's reply (its start included: ~0.1 s here)
before the server is given up and the helper started the usual way: a server that hangs
must not hang the backup."""
MESSAGE_BYTES = 1 << 16


def supported() -> bool:
    """pidfds (Linux 5.3) are how a helper that is not this process's child is waited for
    and killed without the risk of a reused pid."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return hasattr(signal, "pidfd_send_signal") and hasattr(socket, "send_fds")


class ForkServerError(OSError):
    """The server could not be started or stopped answering (the caller starts the helper
    the usual way instead)."""


class ForkedProcess:
    """A helper forked by the server, with the part of ``subprocess.Popen`` the helpers'
    owners use: ``pid``, ``stdin``, ``stdout``, ``returncode``, ``wait``, ``kill``."""

    def __init__(self, server: ForkServer, pid: int, stdin: IO[bytes], stdout: IO[bytes]):
        self.pid = pid
        self.stdin: IO[bytes] | None = stdin
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None
        self._server = server
        self._pidfd = os.pidfd_open(pid)
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        return self._wait(0.0)

    def wait(self, timeout: float | None = None) -> int:
        """The return code once the child ended; raises ``subprocess.TimeoutExpired``."""
        code = self._wait(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"helper {self.pid}", timeout or 0.0)
        return code

    def _wait(self, timeout: float | None) -> int | None:
        with self._lock:
            if self.returncode is not None:
                return self.returncode
            ready, _, _ = select.select([self._pidfd], [], [], timeout)
            if not ready:
                return None
            try:
                self.returncode = self._server.status(self.pid)
            except ForkServerError:
                self.returncode = -1  # the server is gone: its zombies went to init
            os.close(self._pidfd)
            self._pidfd = -1
            return self.returncode

    def kill(self) -> None:
        with self._lock:
            if self.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)


class ForkServer:
    """This process's end of the server (thread-safe: one request at a time)."""

    def __init__(
        self, modules: list[str], env: dict[str, str], *, reply_s: float = REPLY_S
    ) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.settimeout(reply_s)  # a timeout is an OSError: ForkServerError below
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", __name__, *modules],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env={**env, "TAPIR_FORK_SERVER_FD": str(theirs.fileno())},
                process_group=0,
            )
        except OSError as exc:
            ours.close()
            raise ForkServerError(f"the helper fork server did not start: {exc}") from exc
        finally:
            theirs.close()
        self._sock = ours
        self._lock = threading.Lock()
        self.live = 0
        """Children spawned whose status was not taken yet."""

    def _ask(self, request: object, fds: list[int] | None = None) -> object:
        data = pickle.dumps(request, pickle.HIGHEST_PROTOCOL)
        with self._lock:
            try:
                if fds:
                    socket.send_fds(self._sock, [data], list(fds))
                else:
                    self._sock.send(data)
                reply = self._sock.recv(MESSAGE_BYTES)
            except OSError as exc:
                raise ForkServerError(f"the helper fork server stopped answering: {exc}") from exc
        if not reply:
            raise ForkServerError("the helper fork server ended")
        answer = pickle.loads(reply)
        if isinstance(answer, str):
            raise ForkServerError(answer)
        return answer

    def spawn(self, module: str, args: list[str], pass_fds: tuple[int, ...]) -> ForkedProcess:
        """``python -m module args`` with pipes on its stdin and stdout and ``pass_fds`` at
        the same numbers, forked from the server. Raises ``ForkServerError``."""
        child_in, stdin = os.pipe()
        stdout, child_out = os.pipe()
        try:
            request = ("spawn", module, args, _cwd(), [0, 1, *pass_fds])
            pid = self._ask(request, [child_in, child_out, *pass_fds])
        except BaseException:
            for fd in (stdin, stdout):
                os.close(fd)
            raise
        finally:
            os.close(child_in)
            os.close(child_out)
        assert isinstance(pid, int)
        with self._lock:
            self.live += 1
        try:
            return ForkedProcess(self, pid, open(stdin, "wb"), open(stdout, "rb"))
        except OSError as exc:
            raise ForkServerError(f"helper {pid}: {exc}") from exc

    def status(self, pid: int) -> int:
        code = self._ask(("status", pid))
        assert isinstance(code, int)
        with self._lock:
            self.live -= 1
        return code

    def stop(self, timeout: float) -> None:
        """EOF to the server; it waits for its children and exits, and is waited for here."""
        self._sock.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the server -------------------------------------------------------------------------------


def _serve(sock: socket.socket) -> None:
    children: set[int] = set()
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, MESSAGE_BYTES, MAX_FDS)
        except OSError:
            break
        if not data:
            for fd in fds:
                os.close(fd)
            break
        try:
            request = pickle.loads(data)
            if request[0] == "spawn":
                _, module, args, cwd, targets = request
                pid = os.fork()
                if pid == 0:
                    _child(sock, module, args, cwd, fds, targets)  # never returns
                children.add(pid)
                reply: object = pid
            elif request[0] == "status":
                pid = request[1]
                if pid not in children:
                    raise ValueError(f"{pid} is not a helper of this server")
                children.discard(pid)
                reply = _code(os.waitpid(pid, 0)[1])
            else:
                raise ValueError(f"unknown request {request[0]!r}")
        except Exception as exc:  # told to the caller, which starts its helper itself
            reply = f"{type(exc).__name__}: {exc}"
        finally:
            for fd in fds:
                os.close(fd)
        sock.send(pickle.dumps(reply, pickle.HIGHEST_PROTOCOL))
    for pid in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _cwd() -> str | None:
    """This process's directory, or None when it was removed (the helper keeps the
    server's; the helpers are given absolute paths)."""
    try:
        return os.getcwd()
    except OSError:
        return None


def _code(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _child(
    sock: socket.socket,
    module: str,
    args: list[str],
    cwd: str | None,
    fds: list[int],
    targets: list[int],
) -> None:
    code = 1
    try:
        sock.close()
        above = max(targets) + 1  # moved above every target first: no collisions
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, above) for fd in fds]
        for fd in fds:
            os.close(fd)
        fds.clear()  # the server's loop must not close them again (it does not run here)
        for fd, target in zip(high, targets, strict=True):
            os.dup2(fd, target)  # inheritable, as Popen's pass_fds leaves them
            os.close(fd)
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = [module, *args]
        importlib.import_module(module).main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(code)


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(os.environ.pop("TAPIR_FORK_SERVER_FD")))
    for module in argv:
        importlib.import_module(module)
    _serve(sock)


if __name__ == "__main__":
    main(sys.argv[1:])
