"""Endpoint strings -> transports.

    hwsim:/path/to/state#drive0        the daemon serving that state directory
                                       (its socket <state>/hwsim.sock)
    hwsim:/path/to/hwsim.sock#changer  the daemon at that socket

The part after ``#`` names the device (a drive name or "changer"). Real devices (/dev/sgN,
iscsi://) join this table as their transports land.
"""

from __future__ import annotations

from pathlib import Path

from drivers.transport.contract import Transport
from drivers.transport.hwsim_socket import HwsimSocketTransport

HWSIM_SCHEME = "hwsim:"
HWSIM_SOCKET_NAME = "hwsim.sock"  # hwsim.server.SOCKET_NAME


def parse_hwsim(endpoint: str) -> tuple[Path, str]:
    """``hwsim:PATH#DEVICE`` -> (socket path, device). Raises ValueError on a malformed string."""
    if not endpoint.startswith(HWSIM_SCHEME):
        raise ValueError(f"endpoint {endpoint!r} does not start with {HWSIM_SCHEME!r}")
    path, sep, device = endpoint[len(HWSIM_SCHEME) :].partition("#")
    if not path or not sep or not device:
        raise ValueError(
            f"endpoint {endpoint!r} must look like hwsim:/path/to/state#drive0 "
            "(a state directory or socket, then # and a device name)"
        )
    socket_path = Path(path).expanduser()
    if socket_path.is_dir():
        socket_path = socket_path / HWSIM_SOCKET_NAME
    return socket_path, device


def open_endpoint(endpoint: str) -> Transport:
    """A transport for ``endpoint``; connects lazily (errors come from the first command).

    Raises ValueError for a string no scheme here understands.
    """
    if endpoint.startswith(HWSIM_SCHEME):
        socket_path, device = parse_hwsim(endpoint)
        return HwsimSocketTransport(socket_path, device, name=endpoint)
    raise ValueError(f"unknown endpoint scheme in {endpoint!r}; known: {HWSIM_SCHEME}")
