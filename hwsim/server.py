"""The hwsim daemon: one library served on a UNIX socket (docs/hwsim-daemon.md).

One thread accepts connections and one thread serves each client. A client sends a request
frame (``wire``) and reads one reply: EXECUTE runs a CDB on a device through
``SimDevice.execute``, whose per-device lock serialises the commands of all clients to that
device while different devices run in parallel (as LUNs behind one target do); CONTROL runs a
console-protocol line through the shared ``control.Interpreter``; HELLO says who is serving.

``run_daemon`` is the whole process life: bind, serve the socket and the serial console,
write the pid file, wait for SIGTERM/SIGINT, then stop accepting, close client connections,
save the library and remove the socket, pid and console files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hwsim import wire
from hwsim.control import Interpreter
from hwsim.device import NoResponse

log = logging.getLogger("hwsim.server")

SOCKET_NAME = "hwsim.sock"
PID_NAME = "hwsim.pid"
MAX_SOCKET_PATH = 107  # sun_path is 108 bytes on Linux, NUL included (unix(7))
LISTEN_BACKLOG = 16
_PEERCRED = struct.Struct("3i")  # pid, uid, gid (socket(7) SO_PEERCRED)


class DaemonError(Exception):
    """The daemon cannot start; the message names the path and the problem."""


def socket_path_for(state_dir: Path) -> Path:
    return Path(state_dir) / SOCKET_NAME


def pid_path_for(state_dir: Path) -> Path:
    return Path(state_dir) / PID_NAME


def daemon_answers(path: Path, timeout_s: float = 2.0) -> bool:
    """Does something accept connections on ``path``? (A leftover socket file does not.)"""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout_s)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _peer_pid(conn: socket.socket) -> int | None:
    try:
        raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    except OSError:
        return None
    return _PEERCRED.unpack(raw)[0]


class HwsimServer:
    """Serves ``library`` on a UNIX socket at ``socket_path``.

    ``start`` binds and returns; requests are served on background threads until ``stop``.
    ``info`` is added to HELLO replies (console path, state dir).
    """

    def __init__(
        self,
        library: Any,
        socket_path: Path,
        interpreter: Interpreter,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.library = library
        self.socket_path = Path(socket_path)
        self.interpreter = interpreter
        self.info = dict(info or {})
        self._listener: socket.socket | None = None
        self._clients: dict[int, socket.socket] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._next_id = 0

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Bind and listen; raises ``DaemonError`` if the path is taken or unusable."""
        path = str(self.socket_path)
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            raise DaemonError(
                f"{path}: socket path is longer than {MAX_SOCKET_PATH} bytes; "
                "use a shorter state directory"
            )
        if self.socket_path.exists() or self.socket_path.is_symlink():
            if daemon_answers(self.socket_path):
                raise DaemonError(f"{path}: another hwsim daemon is already serving this socket")
            self.socket_path.unlink()  # left behind by a daemon that was killed
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            listener.listen(LISTEN_BACKLOG)
        except OSError as exc:
            listener.close()
            raise DaemonError(f"{path}: cannot listen: {exc.strerror or exc}") from None
        self._listener = listener
        thread = threading.Thread(target=self._accept_loop, name="hwsim-accept", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop accepting, disconnect every client, wait for their threads; idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            clients = list(self._clients.values())
        for conn in clients:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout=5.0)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    # --- threads ------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                log.exception("accept failed")
                continue
            with self._lock:
                self._next_id += 1
                client_id = self._next_id
                self._clients[client_id] = conn
                thread = threading.Thread(
                    target=self._serve_client,
                    args=(client_id, conn),
                    name=f"hwsim-client-{client_id}",
                    daemon=True,
                )
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _serve_client(self, client_id: int, conn: socket.socket) -> None:
        pid = _peer_pid(conn)
        log.info("client %d connected (pid %s)", client_id, pid if pid is not None else "?")
        requests = 0
        try:
            while not self._stopping.is_set():
                try:
                    request = wire.read_message(conn)
                except wire.PeerClosed:
                    break
                except wire.WireError as exc:
                    log.warning("client %d: protocol error: %s", client_id, exc)
                    with contextlib.suppress(OSError, wire.WireError):
                        wire.write_message(conn, wire.ErrorReply(wire.ErrorCode.PROTOCOL, str(exc)))
                    break
                requests += 1
                wire.write_message(conn, self.handle(request))
        except OSError as exc:
            if not self._stopping.is_set():
                log.info("client %d: connection error: %s", client_id, exc)
        finally:
            with self._lock:
                self._clients.pop(client_id, None)
            conn.close()
            log.info("client %d disconnected after %d request(s)", client_id, requests)

    # --- requests -----------------------------------------------------------------------

    def handle(self, request: wire.Message) -> wire.Message:
        """The reply to one request; never raises (failures become ERROR replies)."""
        handler = self._handlers.get(type(request))
        if handler is None:
            return wire.ErrorReply(
                wire.ErrorCode.PROTOCOL, f"{type(request).__name__} is a reply, not a request"
            )
        if self._stopping.is_set():
            return wire.ErrorReply(wire.ErrorCode.SHUTTING_DOWN, "the hwsim daemon is stopping")
        try:
            return handler(self, request)
        except Exception as exc:
            log.exception("request %r failed", type(request).__name__)
            return wire.ErrorReply(wire.ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}")

    def _execute(self, request: wire.Execute) -> wire.Message:
        try:
            device = self.library.device(request.device)
        except LookupError:
            names = ", ".join(self.library.device_names())
            return wire.ErrorReply(
                wire.ErrorCode.NO_SUCH_DEVICE,
                f"library {self.library.name!r} has no device {request.device!r}; devices: {names}",
            )
        try:
            response = device.execute(request.cdb, request.data_out, request.data_in_len)
        except NoResponse as exc:
            return wire.NoResponseReply(exc.reason)
        return wire.Result(response.status, bytes(response.sense), response.data)

    def _control(self, request: wire.Control) -> wire.Message:
        return wire.ControlReply(self.interpreter.run(request.line).to_dict())

    def _hello(self, request: wire.Hello) -> wire.Message:
        return wire.HelloReply(
            {
                "protocol": wire.VERSION,
                "pid": os.getpid(),
                "library": self.library.name,
                "devices": list(self.library.device_names()),
                "socket": str(self.socket_path),
                **self.info,
            }
        )

    _handlers: dict[type, Callable[[HwsimServer, Any], wire.Message]] = {
        wire.Execute: _execute,
        wire.Control: _control,
        wire.Hello: _hello,
    }


def run_daemon(
    library: Any,
    state_dir: Path,
    *,
    console: bool = True,
    ready: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Serve ``library`` until SIGTERM or SIGINT, then save it. Call from the main thread.

    ``ready`` is called once the socket accepts connections, with the socket and console
    paths (the CLI prints them). Raises ``DaemonError`` when the socket cannot be bound.
    The library is saved but not closed: the caller opened it and closes it.
    """
    from hwsim.console import ECHO_HELP, SerialConsole

    state_dir = Path(state_dir)
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda signum, frame: stop.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    interpreter = Interpreter(library, extra_help=ECHO_HELP if console else ())
    serial_console = SerialConsole(interpreter, state_dir) if console else None
    info: dict[str, Any] = {"state_dir": str(state_dir)}
    server = None
    pid_path = pid_path_for(state_dir)
    try:
        if serial_console is not None:
            info["console"] = serial_console.start()
        # before the socket answers, so whoever sees it answer also finds the pid file; the
        # caller holds the state directory's lock, so no other daemon owns this file
        pid_path.write_text(f"{os.getpid()}\n")
        server = HwsimServer(library, socket_path_for(state_dir), interpreter, info)
        server.start()
        log.info(
            "serving library %r on %s (console %s)",
            library.name,
            server.socket_path,
            info.get("console", "off"),
        )
        if ready is not None:
            ready({"socket": str(server.socket_path), **info})
        while not stop.wait(0.5):
            pass
        log.info("stopping: saving library state to %s", state_dir)
    finally:
        if server is not None:
            server.stop()
        if serial_console is not None:
            serial_console.stop()
        try:
            library.save()
        finally:
            if pid_path.exists() and pid_path.read_text().strip() == str(os.getpid()):
                pid_path.unlink()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
