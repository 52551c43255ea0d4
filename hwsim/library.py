"""A simulated library: changer + drives + cartridges + fault plan, living in a state dir.

``SimLibrary.create`` builds one from a ``LibraryConfig``; ``SimLibrary.open`` restores it
from its state directory (a restart of the simulator is a power cycle: every device
reports POWER ON RESET, drive buffers were flushed by ``close``). The library also plays
the operator: door, mail slot (I/E) and drive power switches.

Thread-safety: SCSI commands run on the devices' own locks. A changer command saves the
state with the changer lock held, so every path takes the changer lock, then the library
lock, then a drive lock, never in another order.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hwsim.cartridge import Cartridge, media_type_for_barcode
from hwsim.check import Condition
from hwsim.config import (
    CHANGER_NAME,
    DEFAULT_CONFIG_PATH,
    ConfigError,
    LibraryConfig,
    config_from_mapping,
    load_config,
)
from hwsim.device import Identity, SimDevice
from hwsim.elements import TYPE_NAMES, Element, ElementMap, ElementType
from hwsim.faults import FaultPlan
from hwsim.models import model_by_name
from hwsim.smc import SimChanger
from hwsim.ssc import SimTapeDrive
from hwsim.state import (
    STATE_FILE,
    STATE_FORMAT,
    TAPES_DIR,
    StateError,
    StateLock,
    holds_library,
    read_state,
    write_json_atomic,
)

__all__ = ["LibraryError", "SimLibrary", "StateError"]


class LibraryError(Exception):
    """An operator action the library refuses (I/E locked, slot empty, unknown barcode)."""


class SimLibrary:
    """One simulated library. Build it with ``create``, ``open`` or ``open_or_create``."""

    def __init__(self, config: LibraryConfig, state_dir: Path, lock: StateLock) -> None:
        self.config = config
        self.name = config.name
        self.state_dir = state_dir
        self.tapes_dir = state_dir / TAPES_DIR
        self._lock = threading.RLock()
        self._state_lock = lock
        self._closed = False
        self.faults = FaultPlan(seed=config.fault_seed)
        self.cartridges: dict[str, Cartridge] = {}
        self.drives: dict[str, SimTapeDrive] = {}
        for d in config.drives:
            model = model_by_name(d.model)
            identity = Identity(model.vendor, model.product, model.revision, d.serial)
            self.drives[d.name] = SimTapeDrive(d.name, identity, model, self.faults)
            self.drives[d.name].max_transfer = d.max_transfer
        self.elements = ElementMap(
            config.addressing,
            slots=config.slots,
            ie_slots=config.ie_slots,
            drive_names=[d.name for d in config.drives],
        )
        self.changer = SimChanger(
            CHANGER_NAME,
            Identity(config.vendor, config.product, config.revision, config.serial),
            self.faults,
            self.elements,
            self.drives,
            self.cartridges,
            on_change=self.save,
        )

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def create(cls, config: LibraryConfig, state_dir: Path) -> SimLibrary:
        """A new library in ``state_dir`` (created if needed); StateError if one is there."""
        state_dir = Path(state_dir)
        lock = _lock_dir(state_dir, create=True)
        try:
            if holds_library(state_dir):
                raise StateError(
                    f"{state_dir}: already holds a library ({STATE_FILE}); open it, or "
                    "choose an empty directory"
                )
            lib = cls(config, state_dir, lock)
            lib.tapes_dir.mkdir(exist_ok=True)
            lib._populate()
            lib.save()
        except BaseException:
            lock.release()
            raise
        return lib

    @classmethod
    def open(cls, state_dir: Path) -> SimLibrary:
        """Restore the library kept in ``state_dir``; StateError if missing or corrupt."""
        state_dir = Path(state_dir)
        read_state(state_dir)  # a clear error before touching the directory
        lock = _lock_dir(state_dir, create=False)
        try:
            raw = read_state(state_dir)
            source = str(state_dir / STATE_FILE)
            try:
                config = config_from_mapping(raw.get("config", {}), f"{source} (config copy)")
            except ConfigError as exc:
                raise StateError(str(exc)) from None
            lib = cls(config, state_dir, lock)
            try:
                lib._restore(raw)
            except (KeyError, TypeError, ValueError) as exc:
                detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                raise StateError(f"{source}: corrupt ({detail})") from None
        except BaseException:
            lock.release()
            raise
        return lib

    @classmethod
    def open_or_create(cls, state_dir: Path, config: LibraryConfig | None) -> SimLibrary:
        """Open the library in ``state_dir``, or create it from ``config`` (default: the
        embedded default library). An existing library wins over ``config``."""
        state_dir = Path(state_dir)
        if holds_library(state_dir):
            return cls.open(state_dir)
        return cls.create(config or load_config(DEFAULT_CONFIG_PATH), state_dir)

    def _populate(self) -> None:
        for c in self.config.cartridges:
            try:
                cart = Cartridge.create(
                    c.barcode,
                    self.tapes_dir,
                    capacity=c.capacity,
                    write_protected=c.write_protected,
                    cleaning_uses=c.cleaning_uses,
                    early_warning_bytes=c.early_warning,
                )
            except ValueError as exc:
                raise ConfigError(self.config.source, f"cartridge {c.barcode}", str(exc)) from None
            self.cartridges[c.barcode] = cart
            if c.slot is not None:
                self.elements.slot(c.slot).barcode = c.barcode
            elif c.ie_slot is not None:
                element = self.elements.ie(c.ie_slot)
                element.barcode, element.imported = c.barcode, True
            elif c.drive is not None:
                self.elements.drive(c.drive).barcode = c.barcode
                self.drives[c.drive].insert(cart)
        for rule in self.config.faults:
            self.faults.arm(rule)

    def _restore(self, raw: dict[str, Any]) -> None:
        plan = FaultPlan.from_dict(raw.get("faults", {}))
        self.faults.seed = plan.seed
        self.faults.faults = plan.faults
        self.faults._ids = plan._ids
        rng_state = raw.get("fault_rng")
        if rng_state is not None:
            version, internal, gauss = rng_state
            self.faults.rng.setstate((version, tuple(internal), gauss))
        else:
            self.faults.rng.seed(plan.seed)
        for barcode, state in raw.get("cartridges", {}).items():
            self.cartridges[barcode] = Cartridge.from_state(state, self.tapes_dir)
        self.elements.restore_state(raw.get("elements", []))
        for element in self.elements:
            if element.full and element.barcode not in self.cartridges:
                raise ValueError(f"{element.label} holds unknown cartridge {element.barcode}")
        drives = raw.get("drives", {})
        for name, drive in self.drives.items():
            saved = drives.get(name, {})
            if saved.get("state") is not None:
                drive.restore_state(saved["state"], self.cartridges)
            element = self.elements.drive(name)
            loaded = drive.cartridge.barcode if drive.cartridge is not None else None
            if loaded != element.barcode:
                raise ValueError(
                    f"drive {name} holds {loaded} but its element says {element.barcode}"
                )
            drive.powered = bool(saved.get("powered", True))
        self.changer.door_open = bool(raw.get("door_open", False))
        for device in (self.changer, *self.drives.values()):
            device.post_unit_attention(Condition.POWER_ON_RESET)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The lock order everywhere: changer, then library, then (inside) a drive."""
        with self.changer.lock, self._lock:
            yield

    # --- devices ----------------------------------------------------------------------------

    def device_names(self) -> list[str]:
        return [CHANGER_NAME, *self.drives]

    def device(self, name: str) -> SimDevice:
        """The changer or a drive by name; LookupError naming the known devices."""
        if name == CHANGER_NAME:
            return self.changer
        try:
            return self.drives[name]
        except KeyError:
            raise LookupError(
                f"no device {name!r} in library {self.name}; known: "
                + ", ".join(self.device_names())
            ) from None

    # --- what an operator sees and does -------------------------------------------------------

    def inventory(self) -> list[dict[str, Any]]:
        """Every element as a JSON-able row, in address order."""
        with self._locked():
            return [self._row(e) for e in self.elements]

    def _row(self, e: Element) -> dict[str, Any]:
        row: dict[str, Any] = {
            "type": TYPE_NAMES[e.type],
            "index": e.index,
            "address": e.address,
            "full": e.full,
            "barcode": e.barcode,
            "source": e.source,
        }
        if e.type == ElementType.IMPORT_EXPORT:
            row["imported"] = e.imported
        if e.drive is not None:
            drive = self.drives[e.drive]
            row["drive"] = e.drive
            row["serial"] = drive.identity.serial
        return row

    def open_door(self) -> None:
        """Open the main door: the changer answers NOT READY 04/83 until it is closed."""
        with self._locked():
            self.changer.door_open = True
            self.save()

    def close_door(self) -> None:
        """Close the door: the library re-inventories and reports UNIT ATTENTION 28/00."""
        with self._locked():
            if not self.changer.door_open:
                return
            self.changer.door_open = False
            self.changer.post_unit_attention(Condition.NOT_READY_TO_READY_MEDIUM_CHANGED)
            self.save()

    def power_off(self, name: str) -> None:
        """Switch a device off: it stops answering; a drive drops its buffered data."""
        device = self.device(name)
        with self._locked():
            device.power_off()
            self.save()

    def set_realtime(self, enabled: bool) -> None:
        """Throttle every drive to its native rate when its buffer is full (a run choice,
        not part of the library's description, so it is not saved)."""
        for drive in self.drives.values():
            drive.set_realtime(enabled)

    def power_on(self, name: str) -> None:
        device = self.device(name)
        with self._locked():
            device.power_on()
            self.save()

    def import_cartridge(
        self,
        barcode: str,
        *,
        ie_slot: int | None = None,
        capacity: int | None = None,
        write_protected: bool = False,
    ) -> int:
        """The operator puts a cartridge into an I/E slot (the first empty one by default);
        returns the slot. A barcode seen before keeps its recorded contents."""
        with self._locked():
            self._check_ie_unlocked()
            try:
                media_type_for_barcode(barcode)
            except ValueError as exc:
                raise LibraryError(str(exc)) from None
            where = self.elements.find(barcode)
            if where is not None:
                raise LibraryError(f"{barcode} is already in the library ({where.label})")
            element = self._ie_element(ie_slot, want_empty=True)
            cart = self.cartridges.get(barcode)
            if cart is None:
                try:
                    cart = Cartridge.create(
                        barcode, self.tapes_dir, capacity=capacity, write_protected=write_protected
                    )
                except ValueError as exc:
                    raise LibraryError(str(exc)) from None
                self.cartridges[barcode] = cart
            else:
                cart.write_protected = write_protected
            element.barcode, element.source, element.imported = barcode, None, True
            self.changer.post_unit_attention(Condition.IMPORT_EXPORT_ELEMENT_ACCESSED)
            self.save()
            return element.index

    def remove_from_ie(self, ie_slot: int) -> str:
        """The operator takes the cartridge out of an I/E slot; returns its barcode."""
        with self._locked():
            self._check_ie_unlocked()
            element = self._ie_element(ie_slot, want_empty=False)
            barcode = element.barcode
            assert barcode is not None
            element.empty()
            self.changer.post_unit_attention(Condition.IMPORT_EXPORT_ELEMENT_ACCESSED)
            self.save()
            return barcode

    def _check_ie_unlocked(self) -> None:
        if self.changer.prevent_removal:
            raise LibraryError(
                "the I/E station is locked: a host sent PREVENT MEDIUM REMOVAL to the changer "
                "(medium removal prevented, 53/02)"
            )

    def _ie_element(self, ie_slot: int | None, *, want_empty: bool) -> Element:
        count = self.elements.count(ElementType.IMPORT_EXPORT)
        if count == 0:
            raise LibraryError(f"library {self.name} has no I/E slots")
        if ie_slot is None:
            free = [e for e in self.elements.of_type(ElementType.IMPORT_EXPORT) if not e.full]
            if not free:
                raise LibraryError("every I/E slot is full")
            return free[0]
        if not 1 <= ie_slot <= count:
            raise LibraryError(f"I/E slot {ie_slot} is out of range 1..{count}")
        element = self.elements.ie(ie_slot)
        if want_empty and element.full:
            raise LibraryError(f"I/E slot {ie_slot} already holds {element.barcode}")
        if not want_empty and not element.full:
            raise LibraryError(f"I/E slot {ie_slot} is empty")
        return element

    def status(self) -> dict[str, Any]:
        """JSON-able summary for the console and the daemon."""
        with self._locked():
            counts = {
                TYPE_NAMES[kind]: {
                    "total": self.elements.count(kind),
                    "full": sum(1 for e in self.elements.of_type(kind) if e.full),
                }
                for kind in (
                    ElementType.STORAGE,
                    ElementType.IMPORT_EXPORT,
                    ElementType.DATA_TRANSFER,
                )
            }
            return {
                "name": self.name,
                "serial": self.config.serial,
                "state_dir": str(self.state_dir),
                "door": "open" if self.changer.door_open else "closed",
                "changer": {
                    "powered": self.changer.powered,
                    "prevent_removal": self.changer.prevent_removal,
                    "moves": self.changer.moves,
                },
                "elements": counts,
                "drives": {
                    name: {"powered": d.powered, **d.status()} for name, d in self.drives.items()
                },
                "faults": {**self.faults.to_dict(), "describe": self.faults.describe()},
            }

    # --- persistence --------------------------------------------------------------------------

    def save(self) -> None:
        """Write library.json atomically; called after every change of element contents."""
        with self._locked():
            if self._closed:
                return
            version, internal, gauss = self.faults.rng.getstate()
            data = {
                "format": STATE_FORMAT,
                "config": self.config.to_dict(),
                "door_open": self.changer.door_open,
                "elements": self.elements.to_state(),
                "cartridges": {b: c.to_state() for b, c in self.cartridges.items()},
                "drives": {
                    name: {"powered": d.powered, "state": d.to_state()}
                    for name, d in self.drives.items()
                },
                "faults": self.faults.to_dict(),
                "fault_rng": [version, list(internal), gauss],
            }
            write_json_atomic(self.state_dir / STATE_FILE, data)

    def close(self) -> None:
        """Flush what the drives buffered to tape, save, and release the state directory."""
        with self._locked():
            if self._closed:
                return
            try:
                for drive in self.drives.values():
                    if drive.powered:
                        with drive.lock:
                            drive.flush()
                for cart in self.cartridges.values():
                    cart.save_mam()
                self.save()
            finally:
                for cart in self.cartridges.values():
                    if cart.medium is not None:
                        with contextlib.suppress(OSError):
                            cart.medium.close()
                self._closed = True
                self._state_lock.release()

    def __enter__(self) -> SimLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock_dir(state_dir: Path, *, create: bool) -> StateLock:
    if create:
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"{state_dir}: cannot create state directory: {exc.strerror}"
            ) from None
    lock = StateLock(state_dir)
    lock.acquire()
    return lock
