"""drivers.errors: the one status + sense -> exception mapping.

Conditions come from a small hwsim SPC device through HwsimLocalTransport (raw CDBs, the
real dispatcher and sense builder); statuses hwsim never returns (BUSY, RESERVATION
CONFLICT, ...) are given as ScsiResult values, the contract type every transport returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pytest

from drivers.errors import (
    SENSE_KEY_ERRORS,
    AbortedCommand,
    AcaActive,
    BlankCheck,
    DataProtect,
    DeviceBusy,
    HardwareError,
    IllegalRequest,
    MediumError,
    NoSense,
    NotReady,
    OtherSenseKey,
    RecoveredError,
    ReservationConflict,
    ScsiError,
    SenseError,
    TaskAborted,
    TaskSetFull,
    UnexpectedStatus,
    UnitAttention,
    UnreadableSense,
    VolumeOverflow,
    error_for_result,
    raise_for_result,
)
from drivers.sense import SenseKey
from drivers.transport.contract import ScsiResult, ScsiStatus
from drivers.transport.hwsim_local import HwsimLocalTransport
from hwsim.check import CheckCondition, Condition
from hwsim.device import Command, CommandSpec, Identity
from hwsim.faults import FaultPlan
from hwsim.opcodes import PeripheralType, SpcOpcode
from hwsim.spc import SPC_COMMANDS, SpcDevice

RAISE_OPCODE = 0xC0  # vendor-specific opcode of the test device: "fail with the next condition"
TUR = bytes(6)
TIMEOUT = 5.0


def _raise_next(device: FailingDevice, cmd: Command) -> bytes:
    if device.next_condition is None:
        return b"ok"
    raise device.next_condition


class FailingDevice(SpcDevice):
    """An SPC device with one extra command that ends in whatever CheckCondition is set."""

    peripheral_type = PeripheralType.SEQUENTIAL_ACCESS
    commands: ClassVar[Mapping[int, CommandSpec]] = {
        **SPC_COMMANDS,
        RAISE_OPCODE: CommandSpec(_raise_next),
    }

    def __init__(self) -> None:
        super().__init__("dev0", Identity("TAPIR", "TESTDEV", "0001", "SN0001"), FaultPlan())
        self.next_condition: CheckCondition | None = None


@pytest.fixture
def device() -> FailingDevice:
    return FailingDevice()


@pytest.fixture
def transport(device: FailingDevice) -> HwsimLocalTransport:
    return HwsimLocalTransport(device)


def _fail_with(
    device: FailingDevice,
    transport: HwsimLocalTransport,
    cc: CheckCondition,
    *,
    descriptor: bool = False,
) -> ScsiError:
    device.next_condition = cc
    device.descriptor_sense = descriptor
    cdb = bytes([RAISE_OPCODE, 0, 0, 0, 0, 0])
    result = transport.execute(cdb, data_in_len=16, timeout_s=TIMEOUT)
    with pytest.raises(ScsiError) as info:
        raise_for_result(result, transport.name, cdb)
    return info.value


@pytest.mark.parametrize("descriptor", [False, True], ids=["fixed", "descriptor"])
@pytest.mark.parametrize("condition", list(Condition), ids=lambda c: c.name)
def test_every_condition_maps_to_its_sense_key_class(
    device: FailingDevice,
    transport: HwsimLocalTransport,
    condition: Condition,
    descriptor: bool,
) -> None:
    error = _fail_with(device, transport, CheckCondition(condition), descriptor=descriptor)
    assert type(error) is SENSE_KEY_ERRORS[SenseKey(condition.key)]
    assert isinstance(error, SenseError)
    assert error.sense is not None
    assert (error.sense.key, error.sense.asc, error.sense.ascq) == condition.value
    assert error.status == ScsiStatus.CHECK_CONDITION
    assert error.device == "hwsim:dev0"
    assert error.opcode == RAISE_OPCODE
    assert error.command == "opcode 0xC0"
    assert str(error).startswith("hwsim:dev0: opcode 0xC0 failed: ")
    assert error.sense.name in str(error)


@pytest.mark.parametrize(
    ("condition", "cls", "advice"),
    [
        (Condition.MEDIUM_NOT_PRESENT, NotReady, "Load a cartridge"),
        (Condition.BECOMING_READY, NotReady, "becoming ready"),
        (Condition.UNRECOVERED_READ_ERROR, MediumError, "mark it suspect"),
        (Condition.END_OF_DATA_NOT_FOUND, MediumError, "no valid end of data"),
        (Condition.INTERNAL_TARGET_FAILURE, HardwareError, "call for service"),
        (Condition.INVALID_FIELD_IN_CDB, IllegalRequest, "report this message"),
        (Condition.MEDIUM_SOURCE_ELEMENT_EMPTY, IllegalRequest, "refresh the inventory"),
        (Condition.SOURCE_DRIVE_NOT_UNLOADED, IllegalRequest, "unload the drive first"),
        (Condition.POWER_ON_RESET, UnitAttention, "reset or powered on"),
        (Condition.WRITE_PROTECTED, DataProtect, "write-protect tab"),
        (Condition.WORM_MEDIUM_OVERWRITE_ATTEMPTED, DataProtect, "WORM"),
        (Condition.END_OF_DATA_DETECTED, BlankCheck, "no data there"),
        (Condition.PHYSICAL_END_OF_MEDIUM, VolumeOverflow, "continue on another cartridge"),
        (Condition.FAILURE_PREDICTION_THRESHOLD_EXCEEDED, RecoveredError, "no action"),
        (Condition.CLEANING_REQUESTED, NoSense, "load a cleaning cartridge"),
    ],
    ids=lambda v: getattr(v, "name", None) or getattr(v, "__name__", str(v)),
)
def test_sentence_names_device_command_condition_and_action(
    device: FailingDevice,
    transport: HwsimLocalTransport,
    condition: Condition,
    cls: type[ScsiError],
    advice: str,
) -> None:
    error = _fail_with(device, transport, CheckCondition(condition))
    assert type(error) is cls
    assert advice in error.sentence
    assert error.sentence == str(error)
    assert error.sentence.count("\n") == 0


def test_unit_attention_from_the_dispatcher(
    device: FailingDevice, transport: HwsimLocalTransport
) -> None:
    device.post_unit_attention(Condition.NOT_READY_TO_READY_MEDIUM_CHANGED)
    result = transport.execute(TUR, timeout_s=TIMEOUT)
    with pytest.raises(UnitAttention) as info:
        raise_for_result(result, transport.name, TUR)
    assert info.value.transient
    assert info.value.command == "TEST UNIT READY"
    assert "medium may have changed" in str(info.value).lower()
    raise_for_result(transport.execute(TUR, timeout_s=TIMEOUT), transport.name, TUR)


def test_good_result_does_not_raise(device: FailingDevice, transport: HwsimLocalTransport) -> None:
    cdb = bytes([RAISE_OPCODE, 0, 0, 0, 0, 0])
    result = transport.execute(cdb, data_in_len=16, timeout_s=TIMEOUT)
    assert error_for_result(result, transport.name, cdb) is None
    raise_for_result(result, transport.name, cdb)
    condition_met = ScsiResult(ScsiStatus.CONDITION_MET, b"", b"", 0)
    assert error_for_result(condition_met, "d", cdb) is None


def test_filemark_error_keeps_the_data_and_information(
    device: FailingDevice, transport: HwsimLocalTransport
) -> None:
    cc = CheckCondition(Condition.FILEMARK_DETECTED, information=12, filemark=True, data=b"partial")
    error = _fail_with(device, transport, cc)
    assert isinstance(error, NoSense)
    assert error.sense.filemark and error.sense.information == 12
    assert error.result is not None and bytes(error.result.data) == b"partial"
    assert error.sentence.endswith("FILEMARK, information 12.")


def test_deferred_error_says_so(device: FailingDevice, transport: HwsimLocalTransport) -> None:
    error = _fail_with(device, transport, CheckCondition(Condition.WRITE_ERROR, deferred=True))
    assert isinstance(error, MediumError)
    assert "deferred error: MEDIUM ERROR: WRITE ERROR (0C/00)" in str(error)


def test_command_name_override_and_known_opcode() -> None:
    sense = bytes([0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x3A, 0, 0, 0, 0, 0])
    result = ScsiResult(ScsiStatus.CHECK_CONDITION, sense, b"", 0)
    error = error_for_result(result, "/dev/sg1", bytes([0x08, 0, 0, 0, 1, 0]))
    assert error is not None and error.command == "READ(6)"
    error = error_for_result(result, "/dev/sg1", bytes([0x2B] + [0] * 9))
    assert error is not None and error.command == "LOCATE(10) / POSITION TO ELEMENT"
    error = error_for_result(result, "/dev/sg1", bytes([0x2B] + [0] * 9), command="LOCATE(10)")
    assert error is not None
    assert str(error).startswith("/dev/sg1: LOCATE(10) failed: NOT READY: MEDIUM NOT PRESENT")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (ScsiStatus.BUSY, DeviceBusy),
        (ScsiStatus.RESERVATION_CONFLICT, ReservationConflict),
        (ScsiStatus.TASK_SET_FULL, TaskSetFull),
        (ScsiStatus.ACA_ACTIVE, AcaActive),
        (ScsiStatus.TASK_ABORTED, TaskAborted),
        (0x7E, UnexpectedStatus),
    ],
)
def test_statuses_without_sense(status: int, cls: type[ScsiError]) -> None:
    result = ScsiResult(status, b"", b"", 0)
    with pytest.raises(cls) as info:
        raise_for_result(result, "/dev/sg2", TUR)
    assert info.value.sense is None and info.value.status == status
    assert str(info.value).startswith("/dev/sg2: TEST UNIT READY failed: status ")


def test_transient_hints() -> None:
    assert DeviceBusy.transient and TaskSetFull.transient and AbortedCommand.transient
    assert not ReservationConflict.transient and not MediumError.transient


@pytest.mark.parametrize(
    "sense", [b"", bytes(18), b"\x7f\x00\x03"], ids=["empty", "zeros", "vendor"]
)
def test_check_condition_without_usable_sense_still_raises(sense: bytes) -> None:
    result = ScsiResult(ScsiStatus.CHECK_CONDITION, sense, b"", 0)
    with pytest.raises(UnreadableSense) as info:
        raise_for_result(result, "/dev/sg0", TUR)
    assert info.value.sense is None
    assert "without usable sense" in str(info.value)


def test_command_terminated_is_treated_like_check_condition() -> None:
    sense = bytes([0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0, 0, 0, 0, 0])
    with pytest.raises(MediumError):
        raise_for_result(ScsiResult(0x22, sense, b"", 0), "/dev/sg0", TUR)


def test_sense_keys_without_their_own_class() -> None:
    sense = bytes([0x72, 0x0F, 0x00, 0x00, 0, 0, 0, 0])
    error = error_for_result(ScsiResult(ScsiStatus.CHECK_CONDITION, sense, b"", 0), "d", TUR)
    assert type(error) is OtherSenseKey
    assert "COMPLETED" in str(error)


def test_every_sense_key_maps_somewhere() -> None:
    for key in SenseKey:
        sense = bytes([0x70, 0, int(key), 0, 0, 0, 0, 10] + [0] * 10)
        error = error_for_result(ScsiResult(ScsiStatus.CHECK_CONDITION, sense, b"", 0), "d", TUR)
        assert isinstance(error, SenseError)
        assert error.sense.key is key
        assert isinstance(error.code, str) and error.code.startswith("scsi.")


def test_codes_are_unique() -> None:
    classes = [
        *SENSE_KEY_ERRORS.values(),
        OtherSenseKey,
        UnreadableSense,
        DeviceBusy,
        ReservationConflict,
        TaskSetFull,
        AcaActive,
        TaskAborted,
        UnexpectedStatus,
    ]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))


def test_spc_opcode_names_are_readable() -> None:
    result = ScsiResult(ScsiStatus.BUSY, b"", b"", 0)
    error = error_for_result(result, "d", bytes([SpcOpcode.MODE_SENSE_6, 0, 0, 0, 0, 0]))
    assert error is not None and error.command == "MODE SENSE(6)"
