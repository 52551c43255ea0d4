"""The simulated tape drive: an SSC-4 sequential-access device over ``hwsim.media``.

This module holds the drive's state and life cycle (insert, load, unload, power, cleaning)
and its opcode table; command handlers live in ``ssc_rw`` (READ/WRITE/WRITE FILEMARKS/
ERASE), ``ssc_position`` (REWIND, SPACE, LOCATE, READ POSITION, LOAD UNLOAD), ``ssc_mode``
(mode pages, READ BLOCK LIMITS, REPORT DENSITY SUPPORT), ``tape_logs`` (LOG SENSE pages,
TapeAlert) and ``mam`` (READ/WRITE ATTRIBUTE).

Life cycle of a cartridge in the drive (``LoadState``): a robot or a hand ``insert``s it,
the drive threads it (NOT READY 04/01 while ``load_delay_s`` runs on the drive's clock),
then reports UNIT ATTENTION 28/00 and is ready. LOAD UNLOAD(load=0) rewinds, flushes and
presents it for removal (NOT READY 04/02 until loaded again or ``take``n). A cleaning
cartridge cleans the drive and sits in it reporting NOT READY 30/03; a cartridge of a
generation the drive cannot read is refused (MEDIUM ERROR 30/00, TapeAlert 0x0C).
"""

from __future__ import annotations

import datetime
import enum
import time
from collections.abc import Callable, Mapping
from typing import Any

from hwsim import mam, ssc_mode, ssc_position, ssc_rw, tape_logs
from hwsim.cartridge import Cartridge
from hwsim.check import CheckCondition, Condition
from hwsim.device import Command, CommandSpec, Identity
from hwsim.faults import FaultPlan
from hwsim.models import DriveModel
from hwsim.opcodes import PeripheralType, SpcOpcode, SscOpcode
from hwsim.spc import SPC_COMMANDS, ModePage, SpcDevice
from hwsim.speed import SpeedModel
from hwsim.tape_logs import TapeAlert


class DriveNotUnloaded(Exception):
    """The cartridge is still loaded (threaded): it must be unloaded before removal."""


class CartridgeStuck(Exception):
    """The cartridge cannot be pulled out of the drive (injected ``stuck_cartridge``)."""


class LoadState(enum.Enum):
    EMPTY = "empty"
    LOADING = "loading"
    LOADED = "loaded"
    UNLOADED = "unloaded"  # in the drive's throat, ready for removal or a LOAD
    CLEANING = "cleaning"  # a cleaning cartridge is in the drive
    REFUSED = "refused"  # incompatible generation, ejected at once


class SimTapeDrive(SpcDevice):
    """One LTO drive. Handlers run under ``self.lock`` (see ``SimDevice.execute``)."""

    peripheral_type = PeripheralType.SEQUENTIAL_ACCESS
    command_sets = (SpcOpcode, SscOpcode)
    commands: Mapping[int, CommandSpec]

    def __init__(
        self,
        name: str,
        identity: Identity,
        model: DriveModel,
        faults: FaultPlan,
        *,
        clock: Callable[[], float] = time.monotonic,
        realtime: bool = False,
        load_delay_s: float | None = None,
    ) -> None:
        super().__init__(name, identity, faults)
        self.model = model
        self.clock = clock
        self.realtime = realtime
        self.load_delay_s = (
            (model.load_s if realtime else 0.0) if load_delay_s is None else (load_delay_s)
        )
        self.speed = SpeedModel(model, clock, realtime)
        self.cartridge: Cartridge | None = None
        self.state = LoadState.EMPTY
        self.ready_at = 0.0
        self.position = 0
        self.block_size = 0  # 0: variable-block mode (SSC-4 4.2.3)
        self.buffered_mode = 1
        self.compression = True
        self.tapealert = TapeAlert()
        self.cleaning_needed = False
        self.cleaning_notice = False
        self.bytes_since_clean = 0
        self.stats = tape_logs.SequentialCounters()
        self._mode_pages = ssc_mode.build_mode_pages(self)
        self.post_unit_attention(Condition.POWER_ON_RESET)

    # --- cartridge life cycle ------------------------------------------------------------

    def insert(self, cartridge: Cartridge) -> None:
        """A robot or a hand pushes ``cartridge`` in; the drive loads it by itself."""
        with self.lock:
            if self.cartridge is not None:
                raise ValueError(f"{self.name}: drive already holds {self.cartridge.barcode}")
            self.cartridge = cartridge
            self.position = 0
            if cartridge.cleaning:
                self._clean(cartridge)
                return
            if cartridge.media_type.code not in self.model.reads:
                self.state = LoadState.REFUSED
                self.tapealert.set(tape_logs.TA_UNSUPPORTED_FORMAT)
                return
            self.state = LoadState.LOADING
            self.ready_at = self.clock() + self.load_delay_s
            self._advance()

    def _clean(self, cartridge: Cartridge) -> None:
        self.state = LoadState.CLEANING
        self.tapealert.set(tape_logs.TA_CLEANING_MEDIA)
        if not cartridge.cleaning_uses_left:
            self.tapealert.set(tape_logs.TA_EXPIRED_CLEANING_MEDIA)
            return
        cartridge.cleaning_uses_left -= 1
        self.cleaning_needed = self.cleaning_notice = False
        self.bytes_since_clean = 0
        self.tapealert.clear(tape_logs.TA_CLEAN_NOW, tape_logs.TA_CLEAN_PERIODIC)

    def _advance(self) -> None:
        """Finish a load whose time has come (called before each command)."""
        if self.state is LoadState.LOADING and self.clock() >= self.ready_at:
            self._finish_load()
            self.post_unit_attention(Condition.NOT_READY_TO_READY_MEDIUM_CHANGED)

    def _finish_load(self) -> None:
        cart = self.cartridge
        assert cart is not None
        self.state = LoadState.LOADED
        self.position = 0
        cart.mam.load_count += 1
        cart.mam.bytes_written_last_load = cart.mam.bytes_read_last_load = 0
        cart.mam.last_drive = self.identity.vendor.ljust(8)[:8] + self.identity.serial
        cart.save_mam()
        self.speed.load()
        if cart.write_protected:
            self.tapealert.set(tape_logs.TA_WRITE_PROTECT)

    def load(self) -> None:
        """LOAD UNLOAD(load=1) of the cartridge sitting unloaded in the drive."""
        self._finish_load()

    def unload(self) -> None:
        """Flush, rewind and present the cartridge for removal (SSC-4 7.2 LOAD UNLOAD)."""
        self.flush()
        self.rewind()
        self.speed.unload()
        self.state = LoadState.UNLOADED
        if self.cartridge is not None:
            self.cartridge.save_mam()

    def eject_ready(self) -> bool:
        """May a robot or a hand take the cartridge out (or is the drive empty)?"""
        with self.lock:
            self._advance()
            return self.state in (
                LoadState.EMPTY,
                LoadState.UNLOADED,
                LoadState.CLEANING,
                LoadState.REFUSED,
            )

    def take(self) -> Cartridge:
        """Remove the cartridge. DriveNotUnloaded / CartridgeStuck / ValueError when empty."""
        with self.lock:
            if self.cartridge is None:
                raise ValueError(f"{self.name}: no cartridge in the drive")
            if not self.eject_ready():
                raise DriveNotUnloaded(f"{self.name}: {self.cartridge.barcode} is still loaded")
            if self.faults.stuck(self.name):
                raise CartridgeStuck(f"{self.name}: {self.cartridge.barcode} is stuck")
            cart, self.cartridge = self.cartridge, None
            if cart.medium is not None:
                cart.medium.close()
            cart.save_mam()
            self.state = LoadState.EMPTY
            self.position = 0
            self.prevent_removal = False
            self.tapealert.clear(tape_logs.TA_WRITE_PROTECT)
            return cart

    # --- medium helpers the handlers share ---------------------------------------------------

    def flush(self) -> None:
        """Write the buffer to tape (a flush point: WRITE FILEMARKS, repositioning, unload)."""
        cart = self.cartridge
        if cart is not None and cart.medium is not None and cart.medium.buffered_objects:
            cart.medium.flush()
            cart.mam.last_written = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M")
            cart.save_mam()
        self.speed.flush()

    def rewind(self) -> None:
        self.flush()
        medium = self.cartridge.medium if self.cartridge else None
        if medium is not None and self.position:
            self.speed.wind(medium.start(min(self.position, medium.count)), self.capacity)
        self.position = 0

    @property
    def capacity(self) -> int:
        return self.cartridge.capacity if self.cartridge else 0

    def request_cleaning(self) -> None:
        """The drive decides it needs cleaning (injected ``cleaning_required``)."""
        if not self.cleaning_needed:
            self.cleaning_needed = self.cleaning_notice = True
            self.tapealert.set(tape_logs.TA_CLEAN_NOW)

    # --- SimDevice hooks ----------------------------------------------------------------------

    def _dispatch(self, cmd: Command) -> bytes | memoryview | None:
        self._advance()
        data = super()._dispatch(cmd)
        spec = self.commands.get(cmd.opcode)
        if self.cleaning_notice and spec is not None and spec.needs_ready:
            # SSC-4 / LTO: "drive needs cleaning" rides on a completed command as NO SENSE 00/17
            self.cleaning_notice = False
            raise CheckCondition(Condition.CLEANING_REQUESTED, data=data or b"")
        return data

    def ready_check(self) -> None:
        state = self.state
        if state is LoadState.EMPTY:
            raise CheckCondition(Condition.MEDIUM_NOT_PRESENT)
        if state is LoadState.LOADING:
            raise CheckCondition(Condition.BECOMING_READY)
        if state is LoadState.UNLOADED:
            raise CheckCondition(Condition.NOT_READY_INIT_REQUIRED)
        if state is LoadState.CLEANING:
            raise CheckCondition(Condition.CLEANING_CARTRIDGE_INSTALLED)
        if state is LoadState.REFUSED:
            raise CheckCondition(Condition.CANNOT_READ_MEDIUM_INCOMPATIBLE)

    def pollable_sense(self) -> CheckCondition | None:
        if self.cleaning_needed:
            return CheckCondition(Condition.CLEANING_REQUESTED)
        return None

    def on_power_loss(self) -> None:
        cart = self.cartridge
        if cart is not None and cart.medium is not None and cart.medium.power_loss():
            self.tapealert.set(tape_logs.TA_DIRECTORY_INVALID_AT_UNLOAD)
        self.speed.flush()

    def on_power_on(self) -> None:
        self.position = 0
        self.block_size = 0
        self.buffered_mode = 1
        self.compression = True
        self.descriptor_sense = False
        self._mode_pages = ssc_mode.build_mode_pages(self)
        if self.state is LoadState.LOADING:
            self._finish_load()

    def mode_pages(self) -> Mapping[int, ModePage]:
        return self._mode_pages

    def medium_type(self) -> int:
        return ssc_mode.medium_type(self)

    def device_specific_parameter(self) -> int:
        return ssc_mode.device_specific_parameter(self)

    def block_descriptor(self) -> bytes | None:
        return ssc_mode.block_descriptor(self)

    def select_header(self, device_specific: int, params: bytes, offset: int) -> None:
        ssc_mode.select_header(self, device_specific, offset)

    def select_block_descriptor(self, descriptor: bytes, offset: int) -> None:
        ssc_mode.select_block_descriptor(self, descriptor, offset)

    def log_pages(self) -> Mapping[int, Callable[[], bytes]]:
        return tape_logs.log_pages(self)

    def reset_log_counters(self) -> None:
        self.stats = tape_logs.SequentialCounters()

    # --- observation and persistence ----------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """A JSON-able snapshot for the console, the daemon and tests."""
        with self.lock:
            self._advance()
            cart = self.cartridge
            medium = cart.medium if cart else None
            return {
                "name": self.name,
                "model": self.model.name,
                "serial": self.identity.serial,
                "powered": self.powered,
                "offline": self.offline,
                "state": self.state.value,
                "barcode": cart.barcode if cart else None,
                "position": self.position,
                "end_of_data": medium.count if medium else None,
                "eod_invalid": medium.eod_invalid if medium else False,
                "buffered_objects": medium.buffered_objects if medium else 0,
                "buffered_bytes": medium.buffered_bytes if medium else 0,
                "block_size": self.block_size,
                "prevent_removal": self.prevent_removal,
                "cleaning_needed": self.cleaning_needed,
                "bytes_since_clean": self.bytes_since_clean,
                "tapealert": self.tapealert.active(),
                "counters": self.stats.to_state(),
                "underruns": self.speed.underruns,
                "realtime": self.realtime,
                "speed": self.speed.status(),
                "simulated_time_s": round(self.speed.sim_time, 6),
            }

    def set_realtime(self, enabled: bool) -> None:
        """Run at the model's real pace: loads take ``load_s`` and a full buffer throttles
        the host to the native rate; off, both are instant (tests, CI)."""
        with self.lock:
            self.realtime = enabled
            self.speed.realtime = enabled
            self.load_delay_s = self.model.load_s if enabled else 0.0

    def to_state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "barcode": self.cartridge.barcode if self.cartridge else None,
                "state": self.state.value,
                "cleaning_needed": self.cleaning_needed,
                "bytes_since_clean": self.bytes_since_clean,
                "tapealert": self.tapealert.active(),
                "counters": self.stats.to_state(),
                "speed": self.speed.to_state(),
            }

    def restore_state(self, raw: dict[str, Any], cartridges: dict[str, Cartridge]) -> None:
        """Come back after a simulator restart: a power cycle with the cartridge inside.

        ValueError when the state names a cartridge that ``cartridges`` lacks.
        """
        with self.lock:
            barcode = raw.get("barcode")
            self.cartridge = None
            self.state = LoadState.EMPTY
            if barcode is not None:
                if barcode not in cartridges:
                    raise ValueError(f"{self.name}: state names unknown cartridge {barcode!r}")
                self.cartridge = cartridges[barcode]
                self.state = LoadState(raw.get("state", LoadState.LOADED.value))
                if self.state is LoadState.LOADING:
                    self.state = LoadState.LOADED
            self.cleaning_needed = bool(raw.get("cleaning_needed", False))
            self.bytes_since_clean = int(raw.get("bytes_since_clean", 0))
            self.tapealert = TapeAlert(set(raw.get("tapealert", [])))
            self.stats = tape_logs.SequentialCounters.from_state(raw.get("counters", {}))
            self.speed.restore_state(raw.get("speed", {}))
            self.position = 0
            self.post_unit_attention(Condition.POWER_ON_RESET)


def _table() -> dict[int, CommandSpec]:
    ready = {"needs_ready": True}
    return {
        **SPC_COMMANDS,
        SscOpcode.READ_BLOCK_LIMITS: CommandSpec(ssc_mode.read_block_limits),
        SscOpcode.REPORT_DENSITY_SUPPORT: CommandSpec(ssc_mode.report_density_support),
        SscOpcode.READ_6: CommandSpec(ssc_rw.read_6, **ready),
        SscOpcode.WRITE_6: CommandSpec(ssc_rw.write_6, **ready),
        SscOpcode.WRITE_FILEMARKS_6: CommandSpec(ssc_rw.write_filemarks_6, **ready),
        SscOpcode.ERASE_6: CommandSpec(ssc_rw.erase_6, **ready),
        SscOpcode.REWIND: CommandSpec(ssc_position.rewind, **ready),
        SscOpcode.SPACE_6: CommandSpec(ssc_position.space_6, **ready),
        SscOpcode.SPACE_16: CommandSpec(ssc_position.space_16, **ready),
        SscOpcode.LOCATE_10: CommandSpec(ssc_position.locate_10, **ready),
        SscOpcode.LOCATE_16: CommandSpec(ssc_position.locate_16, **ready),
        SscOpcode.READ_POSITION: CommandSpec(ssc_position.read_position, **ready),
        SscOpcode.LOAD_UNLOAD: CommandSpec(ssc_position.load_unload),
        SpcOpcode.READ_ATTRIBUTE: CommandSpec(mam.read_attribute),
        SpcOpcode.WRITE_ATTRIBUTE: CommandSpec(mam.write_attribute),
    }


SimTapeDrive.commands = _table()
