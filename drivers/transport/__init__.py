"""The SCSI transport contract (shared/DESIGN.md "SCSI transport").

Every backend (SG_IO on /dev/sgN, hwsim in-process, hwsim over its socket) implements
``Transport.execute``. A transport moves bytes and reports what happened on the wire: SCSI
status, sense bytes, data and residual. It never interprets sense: a CHECK CONDITION is a
result, not an exception. Exceptions are reserved for the command not completing at all
(device gone, timed out, not permitted), which no sense can describe.
"""

from drivers.transport.contract import (
    CommandTimeout,
    DeviceNotFound,
    DeviceUnreachable,
    PermissionDenied,
    ScsiResult,
    ScsiStatus,
    Transport,
    TransportError,
)

__all__ = [
    "CommandTimeout",
    "DeviceNotFound",
    "DeviceUnreachable",
    "PermissionDenied",
    "ScsiResult",
    "ScsiStatus",
    "Transport",
    "TransportError",
]
