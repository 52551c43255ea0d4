"""TapeLibrary: a changer and its drives, as the engine uses them (shared/DESIGN.md "Devices").

- Drive mapping: each given drive's VPD 0x80 serial is matched against the drive elements'
  device identifiers (READ ELEMENT STATUS with DVCID); a drive matching none is a
  configuration error (``LibraryConfigError``), an unreachable one is left unmapped.
- Inventory is cached and re-read after a move, after any UNIT ATTENTION from the changer
  (28/00 door closed, 28/01 I/E accessed, 29/00 reset) and on request; a cached read first
  sends TEST UNIT READY so an attention is never missed.
- Robot: changer commands go through devices/robot.py (attentions, door, robot retries).
- mount: a free drive that is up, cleaned first when it asks for cleaning (a CLN cartridge
  from the slots), then the cartridge moved in, waited for, and TapeAlert read.

Threads: one TapeLibrary per changer, used by one thread at a time (the media server's
device thread); it blocks on robot moves and ``sleep``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping

from devices import errors as err
from devices import events as ev
from devices.drive_media import retire_cleaning_cartridge
from devices.library_inventory import (
    ElementKind,
    LibraryElement,
    LibraryInventory,
    build_inventory,
    identifier_text,
    serial_matches,
)
from devices.media import MediaStore
from devices.media_rules import drive_is_up
from devices.robot import Robot
from devices.tape_drive import ACTOR, TapeDrive
from devices.tapealert_actions import AlertAction
from drivers.errors import HardwareError, NotReady, ScsiError
from drivers.smc import Inventory, SmcDriver
from drivers.spc import DEFAULT_TIMEOUT_S
from drivers.transport.contract import Transport, TransportError

CLEANING_POLLS = 60  # x retry_delay_s: LTO cleaning takes one to two minutes
LOAD_EJECT_FAILED = (0x53, 0x00)


class TapeLibrary:
    """``changer``: the changer's transport; ``drives``: drive name -> transport."""

    def __init__(
        self,
        name: str,
        changer: Transport,
        drives: Mapping[str, Transport],
        *,
        store: MediaStore | None = None,
        events: ev.EventSink | None = None,
        robot_retries: int = 3,
        retry_delay_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        cleaning_polls: int = CLEANING_POLLS,
    ) -> None:
        self.name = name
        self.changer = SmcDriver(changer, timeout_s=timeout_s)
        self.store = store
        self.retry_delay_s = retry_delay_s
        self.sleep = sleep
        self.cleaning_polls = cleaning_polls
        self._emit = events or ev.ignore
        self.robot = Robot(
            name, self._emit, retries=robot_retries, delay_s=retry_delay_s, sleep=sleep
        )
        self.drives: dict[str, TapeDrive] = {
            n: TapeDrive(n, t, events=self._emit, store=store, sleep=sleep, timeout_s=timeout_s)
            for n, t in drives.items()
        }
        self._names: dict[int, str] = {}  # drive element address -> drive name
        self.unreachable: dict[str, str] = {}  # drive name -> why it could not be mapped
        self._inventory: LibraryInventory | None = None
        self._expired: set[str] = set()

    # --- inventory and drive mapping ----------------------------------------------------------

    def inventory(self, refresh: bool = False) -> LibraryInventory:
        """Slots, I/E slots and drives with barcodes; re-read when asked, after a move or a
        changer unit attention (a cached answer is checked with TEST UNIT READY first)."""
        if not refresh and self._inventory is not None and not self.robot.stale:
            self.robot.run("checking the library", self.changer.test_unit_ready)
        if refresh or self.robot.stale or self._inventory is None:
            reason = "requested" if refresh else "changed" if self._inventory else "first read"
            raw = self.robot.run("reading the inventory", self.changer.inventory)
            assert raw is not None
            self._map_drives(raw)
            self._inventory = build_inventory(self.name, raw, self._names)
            self.robot.stale = False
            self._emit(ev.InventoryRefreshed(self.name, reason=reason))
        return self._inventory

    def _map_drives(self, raw: Inventory) -> None:
        """Map every not yet mapped drive to its element by serial (VPD 0x80 vs DVCID)."""
        for name, drive in self.drives.items():
            if name in self._names.values():
                continue
            try:
                serial = drive.serial
            except (TransportError, ScsiError, err.DeviceError) as exc:
                self.unreachable[name] = err.describe(exc)
                continue
            element = next((e for e in raw.drives if serial_matches(e.identifier, serial)), None)
            if element is None:
                known = ", ".join(repr(identifier_text(e.identifier)) for e in raw.drives)
                raise err.LibraryConfigError(
                    name,
                    f"{self.name}: drive {name} (serial {serial}) matches none of the library's "
                    f"drive elements ({known or 'no identifiers reported'}); check which "
                    "devices are configured for this library.",
                )
            self._names[element.address] = name
            self.unreachable.pop(name, None)

    def _tape(self, name: str) -> TapeDrive:
        try:
            return self.drives[name]
        except KeyError:
            raise err.UnknownDrive(
                name, f"{self.name}: no drive {name!r}; known: {', '.join(self.drives)}."
            ) from None

    def _element_of(self, name: str, inv: LibraryInventory) -> LibraryElement:
        self._tape(name)
        element = inv.drive(name)
        if element is None:
            why = self.unreachable.get(name, "it is not mapped to a drive element")
            raise err.UnknownDrive(name, f"{self.name}: drive {name} cannot be used: {why}")
        return element

    # --- moves --------------------------------------------------------------------------------

    def move(self, source: int, destination: int) -> None:
        """SMC-3 MOVE MEDIUM between element addresses, with the robot retries."""
        inv = self.inventory()
        barcode = next((e.barcode for e in inv.elements if e.address == source), None)
        self._move(source, destination, barcode)

    def _move(self, source: int, destination: int, barcode: str | None, drive: str = "") -> None:
        def done() -> bool:
            inv = self.inventory(refresh=True)
            return not inv.at(source).full and inv.at(destination).barcode == barcode

        try:
            self.robot.run(
                f"moving {barcode or 'a cartridge'} from {source} to {destination}",
                self.changer.move_medium,
                source,
                destination,
                done=done if barcode else None,
            )
        except HardwareError as exc:
            if drive and (exc.sense.asc, exc.sense.ascq) == LOAD_EJECT_FAILED:
                raise self._stuck(drive, barcode, exc.sense.describe()) from exc
            raise
        finally:
            self.robot.stale = True
        self._emit(ev.Moved(self.name, barcode=barcode, source=source, destination=destination))

    def _stuck(self, drive: str, barcode: str | None, detail: str) -> err.CartridgeStuck:
        return err.CartridgeStuck(
            drive,
            f"{self.name}: cartridge {barcode or '?'} is stuck in drive {drive} ({detail}); "
            "free it by hand, then refresh the inventory.",
        )

    def _unload(self, tape: TapeDrive, barcode: str | None) -> None:
        """Unload for the robot; a cleaning cartridge or an unloaded one needs nothing."""
        try:
            tape.unload()
        except NotReady:
            tape.mounted(None)  # cleaning cartridge (30/03), already unloaded, or gone
        except HardwareError as exc:
            if (exc.sense.asc, exc.sense.ascq) == LOAD_EJECT_FAILED:
                raise self._stuck(tape.name, barcode, exc.sense.describe()) from exc
            raise

    def _home(self, element: LibraryElement, inv: LibraryInventory) -> LibraryElement:
        """Where a cartridge leaving ``element`` goes: its source slot if free, else a free slot."""
        free = inv.free_slots()
        back = next((e for e in free if e.address == element.source), None)
        if back is not None:
            return back
        if not free:
            raise err.NoFreeSlot(
                self.name,
                f"{self.name}: no free slot for {element.barcode}; export a cartridge first.",
            )
        return free[0]

    # --- mount and unmount --------------------------------------------------------------------

    def mount(
        self, barcode: str, drive: str | None = None, *, avoid: Collection[str] = ()
    ) -> TapeDrive:
        """Load ``barcode`` into ``drive`` (a free, up drive when None, not one of ``avoid``:
        drives that just failed the caller) and wait until ready. A drive asking for cleaning
        is cleaned first. Returns the ready TapeDrive."""
        inv = self.inventory()
        where = inv.find(barcode) or self.inventory(refresh=True).find(barcode)
        if where is None:
            raise err.MediumNotInLibrary(
                self.name, f"{self.name}: no cartridge {barcode} in the library; import it first."
            )
        if where.cleaning:
            raise err.MediumInUse(
                self.name, f"{self.name}: {barcode} is a cleaning cartridge; use clean instead."
            )
        if where.kind is ElementKind.DRIVE:
            holder = where.drive or "?"
            if drive not in (None, holder):
                raise err.MediumInUse(
                    self.name, f"{self.name}: {barcode} is in drive {holder}; unmount it first."
                )
            tape = self._tape(holder)
            tape.loaded_barcode = barcode
            tape.wait_ready()
            return tape
        tape = self._choose_drive(barcode, drive, inv, avoid)
        return self._load(tape, barcode, cleaned=False)

    def _choose_drive(
        self, barcode: str, name: str | None, inv: LibraryInventory, avoid: Collection[str] = ()
    ) -> TapeDrive:
        if name is not None:
            element = self._element_of(name, inv)
            self._check_up(name)
            if element.full:
                raise err.DriveOccupied(
                    name, f"{self.name}: drive {name} holds {element.barcode}; unmount it first."
                )
            return self._tape(name)
        for element in inv.drives:
            up = self.store is None or drive_is_up(self.store, element.drive or "")
            free = element.drive and not element.full and element.drive not in avoid
            if free and element.usable and up:
                return self._tape(element.drive)
        raise err.NoFreeDrive(
            self.name,
            f"{self.name}: no free drive for {barcode} (all are loaded, down or offline"
            f"{', or failed the job: ' + ', '.join(sorted(avoid)) if avoid else ''}); "
            "unmount a cartridge or bring a drive up.",
        )

    def _check_up(self, name: str) -> None:
        status = self.store.get_drive(name) if self.store is not None else None
        if status is not None and not status.up:
            raise err.DriveDown(
                name,
                f"{self.name}: drive {name} is marked down ({status.reason}); service it "
                "and mark it up before using it.",
            )

    def _load(self, tape: TapeDrive, barcode: str, *, cleaned: bool) -> TapeDrive:
        if not cleaned and self._wants_cleaning(tape):
            self._clean(tape)
            cleaned = True
        inv = self.inventory()
        where, element = inv.find(barcode), self._element_of(tape.name, inv)
        if where is None:
            raise err.MediumNotInLibrary(self.name, f"{self.name}: {barcode} disappeared; refresh.")
        self._move(where.address, element.address, barcode)
        tape.mounted(barcode)
        tape.wait_ready()
        actions = {a.action for a in tape.check_tapealerts()}
        if not cleaned and actions & {AlertAction.CLEAN_NOW, AlertAction.CLEAN_PERIODIC}:
            self.unmount(tape.name)
            return self._load(tape, barcode, cleaned=False)
        self._emit(ev.Mounted(self.name, barcode=barcode, drive=tape.name))
        return tape

    def _wants_cleaning(self, tape: TapeDrive) -> bool:
        if not tape.cleaning_needed:
            tape.check_tapealerts()
        return tape.cleaning_needed

    def unmount(self, drive: str) -> None:
        """Unload ``drive`` and put its cartridge back in its source slot (or a free slot)."""
        tape = self._tape(drive)
        inv = self.inventory()
        element = self._element_of(drive, inv)
        if not element.full:
            raise err.DriveEmpty(drive, f"{self.name}: drive {drive} is empty; nothing to unmount.")
        self._unload(tape, element.barcode)
        home = self._home(element, inv)
        self._move(element.address, home.address, element.barcode, drive=drive)
        tape.mounted(None)
        barcode = element.barcode or ""
        self._emit(ev.Unmounted(self.name, barcode=barcode, drive=drive, slot=home.address))

    # --- import / export ----------------------------------------------------------------------

    def import_media(self, ie_address: int | None = None) -> list[str]:
        """Move cartridges an operator put in the I/E slots (or the one at ``ie_address``)
        into free slots; returns their barcodes in the order moved."""
        inv = self.inventory(refresh=True)
        waiting = [
            e
            for e in inv.import_export
            if e.full and (e.address == ie_address if ie_address is not None else e.imported)
        ]
        moved: list[str] = []
        free = inv.free_slots()
        for element in waiting:
            if not free:
                raise err.NoFreeSlot(
                    self.name,
                    f"{self.name}: no free slot for {element.barcode} (imported so far: "
                    f"{', '.join(moved) or 'none'}); export cartridges first.",
                )
            self._move(element.address, free.pop(0).address, element.barcode)
            moved.append(element.barcode or "")
        return moved

    def export_media(self, barcode: str) -> int:
        """Move ``barcode`` (unloading it from a drive if needed) to a free I/E slot."""
        inv = self.inventory()
        where = inv.find(barcode)
        if where is None:
            raise err.MediumNotInLibrary(self.name, f"{self.name}: no cartridge {barcode} here.")
        if where.kind is ElementKind.IMPORT_EXPORT:
            return where.address
        free = inv.free_import_export()
        if not free:
            raise err.NoFreeSlot(
                self.name, f"{self.name}: every I/E slot is full; empty the mail slot and retry."
            )
        if where.kind is ElementKind.DRIVE and where.drive:
            self._unload(self._tape(where.drive), barcode)
        self._move(where.address, free[0].address, barcode, drive=where.drive or "")
        if where.drive:
            self._tape(where.drive).mounted(None)
        return free[0].address

    # --- cleaning -----------------------------------------------------------------------------

    def clean(self, drive: str) -> None:
        """Clean ``drive`` with a cleaning cartridge from the library, then put it back."""
        tape = self._tape(drive)
        element = self._element_of(drive, self.inventory())
        if element.full:
            raise err.DriveOccupied(
                drive, f"{self.name}: drive {drive} holds {element.barcode}; unmount it first."
            )
        self._clean(tape)

    def _clean(self, tape: TapeDrive) -> None:
        inv = self.inventory()
        element = self._element_of(tape.name, inv)
        carts = inv.cleaning_cartridges()
        for cart in [c for c in carts if c.barcode not in self._expired]:
            barcode = cart.barcode or ""
            self._move(cart.address, element.address, barcode)
            tape.mounted(barcode)
            try:
                good = self._await_cleaning(tape, barcode)
            finally:
                self._unload(tape, barcode)
                self._move(element.address, cart.address, barcode, drive=tape.name)
                tape.mounted(None)
            if good:
                tape.cleaned()
                self._emit(ev.Cleaned(self.name, drive=tape.name, barcode=barcode))
                return
            self._reject_cleaning_cartridge(tape, barcode)
        if carts:
            names = ", ".join(c.barcode or "?" for c in carts)
            raise err.CleaningMediaExpired(
                self.name,
                f"{self.name}: cannot clean drive {tape.name}: every cleaning cartridge is "
                f"expired ({names}); replace them.",
            )
        raise err.NoCleaningCartridge(
            self.name,
            f"{self.name}: drive {tape.name} needs cleaning but the library holds no cleaning "
            "cartridge; import one (barcode CLNxxx).",
        )

    def _await_cleaning(self, tape: TapeDrive, barcode: str) -> bool:
        """Poll TapeAlert until the clean flag is gone (True) or the cartridge is refused."""
        for _ in range(self.cleaning_polls):
            actions = {a.action for a in tape.check_tapealerts()}
            if AlertAction.REPLACE_CLEANING_MEDIA in actions:
                return False
            if AlertAction.CLEAN_NOW not in actions:
                return True
            self.sleep(self.retry_delay_s)
        raise err.CleaningFailed(
            tape.name,
            f"{self.name}: drive {tape.name} did not finish cleaning with {barcode}; "
            "check the drive.",
        )

    def _reject_cleaning_cartridge(self, tape: TapeDrive, barcode: str) -> None:
        self._expired.add(barcode)
        self._emit(ev.CleaningMediaRejected(self.name, drive=tape.name, barcode=barcode))
        if self.store is not None:
            retire_cleaning_cartridge(self.store, barcode, drive=tape.name, actor=ACTOR)
