"""Fixtures for tape drive tests: a drive model with a small buffer, small cartridges, a
transport, and a ``Tape`` helper that sends raw CDBs and decodes fixed-format sense."""

from __future__ import annotations

import dataclasses
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from drivers.transport.contract import ScsiResult
from drivers.transport.hwsim_local import HwsimLocalTransport
from drivers.transport.hwsim_socket import HwsimSocketTransport
from hwsim.cartridge import Cartridge
from hwsim.control import Interpreter
from hwsim.device import Identity
from hwsim.faults import FaultPlan
from hwsim.library import SimLibrary
from hwsim.models import DriveModel, model_by_name
from hwsim.server import HwsimServer
from hwsim.ssc import SimTapeDrive
from tests.hwsim.smc_util import UNIT_ATTENTION, expect_check, make_library, run, tur

KIB = 1024
MIB = 1024 * 1024
TEST_CAPACITY = 4 * MIB
TEST_EARLY_WARNING = 256 * KIB
TEST_BUFFER = 64 * KIB
TIMEOUT = 10.0


class FakeClock:
    """A clock tests advance by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclasses.dataclass(frozen=True)
class Sense:
    key: int
    asc: int
    ascq: int
    filemark: bool
    eom: bool
    ili: bool
    information: int | None

    @property
    def triple(self) -> tuple[int, int, int]:
        return (self.key, self.asc, self.ascq)


def decode_fixed(sense: bytes) -> Sense:
    assert sense[0] & 0x7F in (0x70, 0x71), sense.hex()
    info = struct.unpack(">i", sense[3:7])[0] if sense[0] & 0x80 else None
    return Sense(
        sense[2] & 0x0F,
        sense[12],
        sense[13],
        bool(sense[2] & 0x80),
        bool(sense[2] & 0x40),
        bool(sense[2] & 0x20),
        info,
    )


class DriveRig:
    """What the hwsim daemon asks of a library, for a rig of one drive on a bench."""

    def __init__(self, drive: SimTapeDrive) -> None:
        self.name = "bench"
        self.drive = drive

    def device(self, name: str) -> SimTapeDrive:
        if name != self.drive.name:
            raise LookupError(name)
        return self.drive

    def device_names(self) -> list[str]:
        return [self.drive.name]


class DaemonLink:
    """A device served by the daemon's socket server; the test talks to it over the socket.

    ``library`` is a ``SimLibrary`` or anything the server can ask for devices by name.
    Links are closed by the ``via`` fixture's teardown.
    """

    open_links: ClassVar[list[DaemonLink]] = []

    def __init__(self, library: Any, device: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="hw", dir="/tmp"))  # short socket path
        self.server = HwsimServer(library, self.folder / "hwsim.sock", Interpreter(library))
        self.server.start()
        self.transport = HwsimSocketTransport(self.folder / "hwsim.sock", device)
        DaemonLink.open_links.append(self)

    def close(self) -> None:
        self.transport.close()
        self.server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class Tape:
    """Raw CDBs to one drive, through the in-process transport or through the daemon."""

    def __init__(
        self, drive: SimTapeDrive, tmp: Path | None, clock: FakeClock, via: str = "in-process"
    ) -> None:
        self.drive = drive
        self.tmp = tmp
        self.clock = clock
        self.transport: HwsimLocalTransport | HwsimSocketTransport
        if via == "daemon":
            self.transport = DaemonLink(DriveRig(drive), drive.name).transport
        else:
            self.transport = HwsimLocalTransport(drive)

    def run(self, cdb: bytes, data_out: bytes | None = None, data_in_len: int = 0) -> ScsiResult:
        return self.transport.execute(
            cdb, data_out=data_out, data_in_len=data_in_len, timeout_s=TIMEOUT
        )

    def ok(self, cdb: bytes, data_out: bytes | None = None, data_in_len: int = 0) -> bytes:
        result = self.run(cdb, data_out, data_in_len)
        assert result.status == 0, decode_fixed(result.sense)
        return bytes(result.data)

    def check(
        self, cdb: bytes, data_out: bytes | None = None, data_in_len: int = 0
    ) -> tuple[Sense, bytes]:
        result = self.run(cdb, data_out, data_in_len)
        assert result.status == 2, "expected CHECK CONDITION"
        return decode_fixed(result.sense), bytes(result.data)

    # --- CDB builders ---
    @staticmethod
    def write_cdb(length: int, fixed: bool = False) -> bytes:
        return bytes([0x0A, int(fixed)]) + length.to_bytes(3, "big") + b"\x00"

    @staticmethod
    def read_cdb(length: int, fixed: bool = False, sili: bool = False) -> bytes:
        return bytes([0x08, int(fixed) | (2 if sili else 0)]) + length.to_bytes(3, "big") + b"\0"

    @staticmethod
    def wfm_cdb(count: int) -> bytes:
        return bytes([0x10, 0]) + count.to_bytes(3, "big") + b"\x00"

    @staticmethod
    def space_cdb(code: int, count: int) -> bytes:
        return bytes([0x11, code]) + (count & 0xFFFFFF).to_bytes(3, "big") + b"\x00"

    @staticmethod
    def locate_cdb(block: int) -> bytes:
        return bytes([0x2B, 0, 0]) + block.to_bytes(4, "big") + bytes(3)

    REWIND = bytes([0x01, 0, 0, 0, 0, 0])
    TUR = bytes(6)

    # --- conveniences ---
    def write(self, data: bytes) -> None:
        self.ok(self.write_cdb(len(data)), data)

    def read(self, length: int) -> bytes:
        return self.ok(self.read_cdb(length), data_in_len=length)

    def wfm(self, count: int = 1) -> None:
        self.ok(self.wfm_cdb(count))

    def rewind(self) -> None:
        self.ok(self.REWIND)

    def position(self) -> int:
        data = self.ok(bytes([0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0]), data_in_len=20)
        return struct.unpack(">I", data[4:8])[0]

    def settle(self) -> None:
        """Consume pending unit attentions until TEST UNIT READY is GOOD."""
        for _ in range(4):
            if self.run(self.TUR).status == 0:
                return
        raise AssertionError("drive did not become ready")


@pytest.fixture(params=["in-process", "daemon"])
def via(request: pytest.FixtureRequest) -> Iterator[str]:
    """Device tests run twice: in-process, and through the daemon's socket server."""
    yield request.param
    while DaemonLink.open_links:
        DaemonLink.open_links.pop().close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def small_model() -> DriveModel:
    return dataclasses.replace(model_by_name("LTO-8"), buffer_bytes=TEST_BUFFER)


@pytest.fixture
def make_cartridge(tmp_path: Path) -> Callable[..., Cartridge]:
    def make(barcode: str = "000001L8", **kwargs: object) -> Cartridge:
        kwargs.setdefault("capacity", TEST_CAPACITY)
        if not barcode.upper().startswith("CLN"):
            kwargs.setdefault("early_warning_bytes", TEST_EARLY_WARNING)
        else:
            kwargs.pop("capacity")
        return Cartridge.create(barcode, tmp_path / "tapes", **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def make_drive(small_model: DriveModel, clock: FakeClock) -> Callable[..., SimTapeDrive]:
    def make(model: DriveModel | None = None, faults: FaultPlan | None = None, **kw: object):
        return SimTapeDrive(
            "drive0",
            Identity("HWSIM", "ULTRIUM-TD8", "L800", "SIMDRV0001"),
            model or small_model,
            faults or FaultPlan(seed=1),
            clock=clock,
            **kw,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan(seed=7)


@pytest.fixture
def tape(
    make_drive: Callable[..., SimTapeDrive],
    make_cartridge: Callable[..., Cartridge],
    faults: FaultPlan,
    tmp_path: Path,
    clock: FakeClock,
    via: str,
) -> Tape:
    """A ready LTO-8 drive (64 KiB buffer) holding a blank 4 MiB cartridge 000001L8."""
    drive = make_drive(faults=faults)
    drive.insert(make_cartridge())
    t = Tape(drive, tmp_path, clock, via)
    t.settle()
    return t


@pytest.fixture
def empty_tape(
    make_drive: Callable[..., SimTapeDrive],
    faults: FaultPlan,
    tmp_path: Path,
    clock: FakeClock,
    via: str,
) -> Tape:
    """An empty drive (no cartridge), power-on unit attention pending."""
    drive = make_drive(faults=faults)
    return Tape(drive, tmp_path, clock, via)


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[SimLibrary]:
    """The small library of ``smc_util.SMALL_LIBRARY`` in a fresh state directory."""
    library = make_library(tmp_path / "state")
    yield library
    library.close()


@pytest.fixture
def changer(lib: SimLibrary, via: str) -> HwsimLocalTransport | HwsimSocketTransport:
    """The library's changer, power-on unit attention consumed, in-process or via the daemon."""
    target: HwsimLocalTransport | HwsimSocketTransport
    if via == "daemon":
        target = DaemonLink(lib, lib.changer.name).transport
    else:
        target = HwsimLocalTransport(lib.changer)
    expect_check(run(target, tur()), UNIT_ATTENTION, 0x29, 0x00)  # power-on reset
    return target
