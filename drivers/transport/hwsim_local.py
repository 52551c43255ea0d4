"""hwsim in-process: the simulated device is called directly, in this process.

Used by tests and by the engine's embedded default library. A device that does not answer
(powered off, offline fault) surfaces as ``DeviceUnreachable``, as a selection timeout would
on a real bus. ``timeout_s`` is accepted for the contract; an in-process call cannot hang.
"""

from __future__ import annotations

from drivers.transport.contract import DeviceUnreachable, ScsiResult, TransportError
from hwsim.device import NoResponse, SimDevice


class HwsimLocalTransport:
    """A transport to one ``SimDevice`` object in this process."""

    reads_into = True
    """``execute`` takes ``data_in``, a buffer the device reads into (drivers/spc ``send``)."""

    @property
    def max_transfer(self) -> int | None:
        """Bytes one command may move at most (the simulated host adapter's), None: any."""
        return self.device.max_transfer

    def __init__(self, device: SimDevice, name: str | None = None) -> None:
        self.device = device
        self.name = name or f"hwsim:{device.name}"

    def execute(
        self,
        cdb: bytes,
        *,
        data_out: bytes | memoryview | None = None,
        data_in_len: int = 0,
        timeout_s: float,
        data_in: memoryview | None = None,
    ) -> ScsiResult:
        limit = self.max_transfer
        size = max(len(data_out or b""), data_in_len)
        if limit is not None and size > limit:  # the kernel refuses it before the device
            raise TransportError(
                self.name,
                f"a transfer of {size} bytes is more than the host adapter takes at once "
                f"({limit} bytes)",
            )
        try:
            response = self.device.execute(cdb, data_out, data_in_len, data_in)
        except NoResponse as exc:
            raise DeviceUnreachable(self.name, exc.reason) from None
        residual = data_in_len - len(response.data) if data_in_len else 0
        return ScsiResult(response.status, response.sense, response.data, residual)

    def close(self) -> None:
        """Nothing to release: the device belongs to its library, not to the transport."""
