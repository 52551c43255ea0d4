"""hwsim over its daemon's UNIX socket (``tapir sim start``): one LUN of a simulated library.

The connection is opened lazily on the first command and reopened after it drops, so a
transport can be created before the daemon starts. One request is in flight per connection:
``execute`` holds a lock from sending the CDB to reading its reply, which makes the transport
safe to share between threads (the device serialises its commands anyway).

Errors (drivers/transport/contract.py):
  DeviceNotFound     no socket at the path: the daemon is not running
  PermissionDenied   the socket exists but this user may not connect to it
  DeviceUnreachable  the daemon dropped the connection, or the device did not answer
                     (powered off, offline fault), or the daemon refused the request
  CommandTimeout     no reply within ``timeout_s``; the connection is discarded, since the
                     late reply would otherwise be read as the answer to the next command
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
from pathlib import Path
from typing import Any

from drivers.transport.contract import (
    CommandTimeout,
    DeviceNotFound,
    DeviceUnreachable,
    PermissionDenied,
    ScsiResult,
)
from hwsim import wire

CONNECT_TIMEOUT_S = 5.0


class HwsimConnection:
    """One client connection to the daemon; connects lazily, thread-safe, reconnects on loss.

    ``name`` is what errors report (the endpoint). Shared by ``HwsimSocketTransport`` and the
    CLI's control client.
    """

    def __init__(self, socket_path: str | Path, name: str | None = None) -> None:
        self.socket_path = str(socket_path)
        self.name = name or f"hwsim:{self.socket_path}"
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(self.socket_path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            why = "stale socket, daemon gone" if isinstance(exc, ConnectionRefusedError) else ""
            raise DeviceNotFound(
                self.name,
                f"no hwsim daemon at {self.socket_path}"
                + (f" ({why})" if why else "")
                + ": start it with tapir sim start",
            ) from None
        except PermissionError:
            sock.close()
            raise PermissionDenied(self.name, f"may not connect to {self.socket_path}") from None
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.ENOTSOCK, errno.ENOTDIR):
                raise DeviceNotFound(self.name, f"{self.socket_path} is not a socket") from None
            raise DeviceUnreachable(self.name, f"cannot connect: {exc.strerror}") from None
        return sock

    def request(self, message: wire.Message, timeout_s: float | None) -> wire.Message:
        """Send one request and return the reply; raises the transport errors above."""
        with self._lock:
            if self._sock is None:
                self._sock = self._connect()
            sock = self._sock
            try:
                sock.settimeout(timeout_s)
                wire.write_message(sock, message)
                return wire.read_message(sock)
            except TimeoutError:
                self._drop()
                raise CommandTimeout(self.name, f"no reply within {timeout_s:g} s") from None
            except wire.PeerClosed:
                self._drop()
                raise DeviceUnreachable(
                    self.name, "the hwsim daemon closed the connection"
                ) from None
            except wire.WireError as exc:
                self._drop()
                raise DeviceUnreachable(
                    self.name, f"garbled reply from the daemon: {exc}"
                ) from None
            except OSError as exc:
                self._drop()
                raise DeviceUnreachable(
                    self.name, f"connection to the hwsim daemon lost: {exc.strerror or exc}"
                ) from None

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def hello(self, timeout_s: float = CONNECT_TIMEOUT_S) -> dict[str, Any]:
        """Who is serving (library name, devices, pid, state dir)."""
        reply = self.request(wire.Hello(), timeout_s)
        if not isinstance(reply, wire.HelloReply):
            raise DeviceUnreachable(self.name, f"unexpected reply {type(reply).__name__} to HELLO")
        return reply.info

    def control(self, line: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Run one console-protocol command; returns ``{"ok", "lines", "data", "error"}``."""
        reply = self.request(wire.Control(line), timeout_s)
        if isinstance(reply, wire.ErrorReply):
            raise DeviceUnreachable(self.name, reply.message)
        if not isinstance(reply, wire.ControlReply):
            raise DeviceUnreachable(self.name, f"unexpected reply {type(reply).__name__}")
        return reply.reply

    def close(self) -> None:
        with self._lock:
            self._drop()


class HwsimSocketTransport:
    """A ``Transport`` to device ``device`` (e.g. "drive0", "changer") of a running daemon."""

    max_transfer = None
    """A socket carries any size (wire.py bounds a message, not a command's transfer)."""

    def __init__(self, socket_path: str | Path, device: str, name: str | None = None) -> None:
        wire.check_device_name(device)
        self.device = device
        self.name = name or f"hwsim:{socket_path}#{device}"
        self._conn = HwsimConnection(socket_path, self.name)

    def execute(
        self,
        cdb: bytes,
        *,
        data_out: bytes | memoryview | None = None,
        data_in_len: int = 0,
        timeout_s: float,
    ) -> ScsiResult:
        try:
            request = wire.Execute(
                self.device, bytes(cdb), data_out or b"", data_in_len, int(timeout_s * 1000)
            )
            wire.encode(request)  # validate sizes before taking the connection
        except wire.WireError as exc:
            raise ValueError(f"{self.name}: {exc}") from None
        reply = self._conn.request(request, timeout_s)
        if isinstance(reply, wire.Result):
            residual = data_in_len - len(reply.data) if data_in_len else 0
            return ScsiResult(reply.status, reply.sense, reply.data, residual)
        if isinstance(reply, wire.NoResponseReply):
            raise DeviceUnreachable(self.name, reply.reason)
        if isinstance(reply, wire.ErrorReply) and reply.code is wire.ErrorCode.NO_SUCH_DEVICE:
            raise DeviceNotFound(self.name, reply.message)
        if isinstance(reply, wire.ErrorReply):
            raise DeviceUnreachable(self.name, reply.message)
        raise DeviceUnreachable(self.name, f"unexpected reply {type(reply).__name__}")

    def close(self) -> None:
        self._conn.close()
