"""Endpoint strings -> transports.

    /dev/sgN                           a Linux SCSI generic node (SG_IO; opened at once)
    hwsim:/path/to/state#drive0        the daemon serving that state directory
                                       (its socket <state>/hwsim.sock; connects lazily)
    hwsim:/path/to/hwsim.sock#changer  the daemon at that socket

The part after ``#`` names the device (a drive name or "changer"). Anything else is refused
with a ``ValueError`` that lists these forms (iscsi:// is not supported yet).
"""

from __future__ import annotations

import re
from pathlib import Path

from drivers.transport.contract import Transport
from drivers.transport.hwsim_socket import HwsimSocketTransport

HWSIM_SCHEME = "hwsim:"
HWSIM_SOCKET_NAME = "hwsim.sock"  # hwsim.server.SOCKET_NAME
SG_NODE = re.compile(r"^/dev/sg\d+$")
FORMS = (
    "/dev/sgN (a SCSI generic node), "
    "hwsim:/path/to/state#DEVICE or hwsim:/path/to/hwsim.sock#DEVICE (a simulated library)"
)


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
    """A transport for ``endpoint``.

    hwsim endpoints connect lazily (errors come from the first command); /dev/sgN is opened
    here and raises DeviceNotFound / PermissionDenied / TransportError (drivers/transport/
    sg_io.py). Raises ValueError for a string no form here matches.
    """
    if endpoint.startswith(HWSIM_SCHEME):
        socket_path, device = parse_hwsim(endpoint)
        return HwsimSocketTransport(socket_path, device, name=endpoint)
    if SG_NODE.match(endpoint):
        from drivers.transport.sg_io import SgIoTransport  # Linux only: imported on use

        return SgIoTransport(endpoint)
    raise ValueError(f"unknown endpoint {endpoint!r}; use one of: {FORMS}")
