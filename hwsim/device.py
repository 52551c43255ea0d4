"""The base of every simulated logical unit: one dispatcher, shared by tape drive and changer.

``SimDevice.execute`` is the only entry point. It serialises commands per device, runs the
checks common to every command once (power, injected faults, pending unit attention, ready
state) and then looks the opcode up in the device type's table. Handlers return the data-in
bytes or raise ``CheckCondition``; the dispatcher turns that into sense with ``build_sense``.
"""

from __future__ import annotations

import enum
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hwsim.check import CheckCondition, Condition, FieldPointer
from hwsim.faults import FaultAction, FaultPlan
from hwsim.opcodes import PeripheralType, SpcOpcode
from hwsim.sense import build_sense

STATUS_GOOD = 0x00
STATUS_CHECK_CONDITION = 0x02
_OPCODE_NAMES: dict[tuple[type, int], str] = {}  # SimDevice.opcode_name by (class, opcode)


@dataclass(frozen=True, slots=True)
class SimResponse:
    """What the device returns for one command: SCSI status, sense (if any) and data-in."""

    status: int
    sense: bytes
    data: bytes | memoryview


class NoResponse(Exception):
    """The device does not answer at all (powered off, offline): a selection timeout."""

    def __init__(self, device: str, reason: str) -> None:
        super().__init__(f"{device}: {reason}")
        self.device = device
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Command:
    """One command as a handler sees it.

    ``alloc_len`` is what the initiator's buffer holds (``data_in_len``); handlers also honour
    the CDB's own allocation length through ``Command.fit``.
    """

    cdb: bytes
    data_out: memoryview
    alloc_len: int
    data_in: memoryview | None = None
    """The initiator's buffer, when it gave one: a READ may transfer straight into it."""

    @property
    def opcode(self) -> int:
        return self.cdb[0]

    def need_cdb_len(self, length: int) -> None:
        if len(self.cdb) < length:
            raise CheckCondition(Condition.INVALID_FIELD_IN_CDB, field=FieldPointer(len(self.cdb)))

    def u16(self, at: int) -> int:
        return int.from_bytes(self.cdb[at : at + 2], "big")

    def u24(self, at: int) -> int:
        return int.from_bytes(self.cdb[at : at + 3], "big")

    def u32(self, at: int) -> int:
        return int.from_bytes(self.cdb[at : at + 4], "big")

    def u64(self, at: int) -> int:
        return int.from_bytes(self.cdb[at : at + 8], "big")

    @staticmethod
    def fit(data: bytes, allocation_length: int) -> bytes:
        """Truncate a response to the CDB's allocation length (SPC-4 4.2.5.6)."""
        return data[:allocation_length]


Handler = Callable[[Any, Command], "bytes | memoryview | None"]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One row of a device's opcode table.

    ``needs_ready``: the device's ``ready_check`` runs first (NOT READY when no medium etc.).
    ``reports_unit_attention``: False for INQUIRY, REPORT LUNS and REQUEST SENSE (SPC-4 5.14).
    """

    handler: Handler
    needs_ready: bool = False
    reports_unit_attention: bool = True


@dataclass(slots=True)
class Identity:
    """INQUIRY identity: T10 vendor (8), product (16), revision (4) and unit serial number."""

    vendor: str
    product: str
    revision: str
    serial: str

    def t10_vendor_id(self) -> bytes:
        """VPD 0x83 T10 vendor ID designator payload: vendor padded to 8, product, serial."""
        return (
            self.vendor.encode("ascii").ljust(8)[:8]
            + self.product.encode("ascii").ljust(16)[:16]
            + self.serial.encode("ascii")
        )


@dataclass
class DeviceCounters:
    """Operation counts the fault plan keys on and the console shows."""

    commands: int = 0
    by_opcode: dict[int, int] = field(default_factory=dict)


class SimDevice:
    """One simulated logical unit. Subclasses set ``commands`` and ``peripheral_type``.

    Thread-safety: ``execute`` may be called from any thread; commands to one device run one
    at a time under its lock, as on a real single-LUN target.
    """

    commands: ClassVar[Mapping[int, CommandSpec]]
    peripheral_type: ClassVar[PeripheralType]
    command_sets: ClassVar[tuple[type[enum.IntEnum], ...]] = (SpcOpcode,)

    def __init__(self, name: str, identity: Identity, faults: FaultPlan) -> None:
        self.name = name
        self.identity = identity
        self.faults = faults
        self.lock = threading.RLock()
        self.powered = True
        self.offline = False
        self.descriptor_sense = False
        self.prevent_removal = False
        self.counters = DeviceCounters()
        self.max_transfer: int | None = None
        """The limit of the host adapter in front of this device on one command's data (a
        real one's max_sectors_kb); in-process transports refuse more, as the kernel does."""
        self._unit_attentions: deque[Condition] = deque()

    # --- state changes other parts of the simulator make -------------------------------

    def post_unit_attention(self, condition: Condition) -> None:
        """Queue a unit attention for the next command; duplicates collapse (SPC-4 5.14)."""
        with self.lock:
            if condition not in self._unit_attentions:
                self._unit_attentions.append(condition)

    def pop_unit_attention(self) -> Condition | None:
        with self.lock:
            return self._unit_attentions.popleft() if self._unit_attentions else None

    def power_off(self) -> None:
        """Cut power: the device stops answering; subclasses drop volatile state."""
        with self.lock:
            if not self.powered:
                return
            self.powered = False
            self.on_power_loss()

    def power_on(self) -> None:
        """Restore power: the next command sees POWER ON RESET."""
        with self.lock:
            if self.powered:
                return
            self.powered = True
            self._unit_attentions.clear()
            self.prevent_removal = False
            self.on_power_on()
            self.post_unit_attention(Condition.POWER_ON_RESET)

    def on_power_loss(self) -> None:
        """Hook: drop whatever a real device keeps only in volatile memory."""

    def on_power_on(self) -> None:
        """Hook: reset to the power-on state."""

    def ready_check(self) -> None:
        """Hook: raise NOT READY when the device cannot do media access now."""

    def pollable_sense(self) -> CheckCondition | None:
        """Hook: the condition REQUEST SENSE reports when nothing else is pending."""
        return None

    # --- the dispatcher -----------------------------------------------------------------

    def execute(
        self,
        cdb: bytes,
        data_out: bytes | memoryview | None = None,
        data_in_len: int = 0,
        data_in: memoryview | None = None,
    ) -> SimResponse:
        """Run one command. Raises ``NoResponse`` only when the device would not answer.
        ``data_in``: a buffer of at least ``data_in_len`` bytes that READ may fill (the data
        returned is then a view of it), as a real HBA transfers into the caller's memory."""
        with self.lock:
            if not self.powered:
                raise NoResponse(self.name, "powered off")
            cmd = Command(bytes(cdb), memoryview(data_out or b""), data_in_len, data_in)
            try:
                data = self._dispatch(cmd)
            except CheckCondition as cc:
                sense = build_sense(cc, descriptor=self.descriptor_sense)
                return SimResponse(STATUS_CHECK_CONDITION, sense, cc.data[:data_in_len])
            if data is None:
                data = b""
            return SimResponse(STATUS_GOOD, b"", data[:data_in_len])

    def _dispatch(self, cmd: Command) -> bytes | memoryview | None:
        if not cmd.cdb:
            raise CheckCondition(Condition.INVALID_COMMAND_OPERATION_CODE, field=FieldPointer(0))
        opcode = cmd.cdb[0]
        self.counters.commands += 1
        self.counters.by_opcode[opcode] = self.counters.by_opcode.get(opcode, 0) + 1
        self._apply_command_faults(opcode)
        if self.offline:
            raise NoResponse(self.name, "offline")
        spec = self.commands.get(opcode)
        if spec is None:
            raise CheckCondition(Condition.INVALID_COMMAND_OPERATION_CODE, field=FieldPointer(0))
        if spec.reports_unit_attention:
            pending = self.pop_unit_attention()
            if pending is not None:
                raise CheckCondition(pending)
        if spec.needs_ready:
            self.ready_check()
        return spec.handler(self, cmd)

    def _apply_command_faults(self, opcode: int) -> None:
        for action in self.faults.on_command(self.name, self.opcode_name(opcode)):
            self.apply_fault(action)

    @classmethod
    def opcode_name(cls, opcode: int) -> str:
        """The command's name in this device type's command sets, or its hex code (cached:
        fault matching asks for every command, and enum lookups cost more than the READ)."""
        key = (cls, opcode)
        name = _OPCODE_NAMES.get(key)
        if name is None:
            name = _OPCODE_NAMES[key] = cls._lookup_opcode_name(opcode)
        return name

    @classmethod
    def _lookup_opcode_name(cls, opcode: int) -> str:
        for command_set in cls.command_sets:
            try:
                return command_set(opcode).name
            except ValueError:
                continue
        return f"0x{opcode:02X}"

    def apply_fault(self, action: FaultAction) -> None:
        """Carry out a fault aimed at this device. Subclasses extend for their own kinds."""
        if action.kind == "drive_offline":
            self.offline = True
            raise NoResponse(self.name, "offline (injected fault)")
        if action.kind == "not_ready":
            raise CheckCondition(Condition.NOT_READY_MANUAL_INTERVENTION)
        if action.kind == "hardware_error":
            raise CheckCondition(Condition.INTERNAL_TARGET_FAILURE)
        if action.kind == "power_loss":
            self.power_off()
            raise NoResponse(self.name, "power lost (injected fault)")
