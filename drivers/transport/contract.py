"""Types of the transport contract: the result of one command and the transport errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class ScsiStatus(enum.IntEnum):
    """SAM-5 status codes a target returns for a command."""

    GOOD = 0x00
    CHECK_CONDITION = 0x02
    CONDITION_MET = 0x04
    BUSY = 0x08
    RESERVATION_CONFLICT = 0x18
    TASK_SET_FULL = 0x28
    ACA_ACTIVE = 0x30
    TASK_ABORTED = 0x40


@dataclass(frozen=True, slots=True)
class ScsiResult:
    """What one command returned.

    ``data`` holds only the bytes actually transferred in; ``residual`` is the requested
    ``data_in_len`` minus that count (for a write, the bytes not transferred out).
    ``sense`` is empty unless the status is CHECK CONDITION.
    """

    status: int
    sense: bytes
    data: bytes | memoryview
    residual: int

    @property
    def good(self) -> bool:
        return self.status == ScsiStatus.GOOD


class TransportError(Exception):
    """The command did not complete on the wire; no SCSI status is available.

    ``device`` names the path or endpoint so the message can say which device failed.
    """

    def __init__(self, device: str, message: str) -> None:
        super().__init__(f"{device}: {message}")
        self.device = device
        self.detail = message


class DeviceNotFound(TransportError):
    """The device node or endpoint does not exist (unplugged, wrong path, daemon not running)."""


class PermissionDenied(TransportError):
    """The device exists but this process may not open it (group ``tape``/``disk``, or root)."""


class DeviceUnreachable(TransportError):
    """The device stopped answering: selection timeout, link down, daemon connection lost."""


class CommandTimeout(TransportError):
    """The command ran past its ``timeout_s`` and was aborted by the transport."""


@runtime_checkable
class Transport(Protocol):
    """One SCSI target (a LUN) reachable through one backend.

    Callers may share a transport between threads; each backend serialises its own commands.
    """

    name: str
    max_transfer: int | None
    """Bytes one command may move at most (the host adapter's limit, which the kernel enforces
    for SG_IO: a larger command fails as a whole); None when no limit is known."""

    def execute(
        self,
        cdb: bytes,
        *,
        data_out: bytes | memoryview | None = None,
        data_in_len: int = 0,
        timeout_s: float,
    ) -> ScsiResult:
        """Send one CDB; raise ``TransportError`` only when no status came back."""
        ...

    def close(self) -> None:
        """Release the device handle or connection; idempotent."""
        ...
