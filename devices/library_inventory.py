"""The inventory of a tape library as the engine and the CLI see it (``tapir library inventory``).

Built from the changer's READ ELEMENT STATUS (drivers/smc.py ``Inventory``) plus the library's
drive-element -> TapeDrive mapping, so a drive element carries the drive's name. Slots and
I/E slots are numbered from 1 and drives from 0, as ``mtx status`` prints them. Values are
immutable snapshots: the library builds a new one on every refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from drivers.smc import Inventory
from drivers.smc_data import Element, ElementType, MediumType

CLEANING_PREFIX = "CLN"
"""LTO barcode labels of cleaning cartridges start with CLN (LTO label specification)."""


class ElementKind(StrEnum):
    SLOT = "slot"
    IMPORT_EXPORT = "ie"
    DRIVE = "drive"


_KIND_OF = {
    ElementType.STORAGE: ElementKind.SLOT,
    ElementType.IMPORT_EXPORT: ElementKind.IMPORT_EXPORT,
    ElementType.DATA_TRANSFER: ElementKind.DRIVE,
}
_FIRST_NUMBER = {ElementKind.SLOT: 1, ElementKind.IMPORT_EXPORT: 1, ElementKind.DRIVE: 0}


@dataclass(frozen=True)
class LibraryElement:
    """One slot, I/E slot or drive. ``source``: the element address the cartridge came from;
    ``imported``: an operator placed it in the I/E slot (SMC-3 IMPEXP); ``exception``: the
    element's ASC/ASCQ name when the changer flags it (a drive offline, ...)."""

    kind: ElementKind
    number: int
    address: int
    full: bool
    barcode: str | None = None
    source: int | None = None
    cleaning: bool = False
    worm: bool = False
    access: bool = True
    imported: bool = False
    exception: str | None = None
    drive: str | None = None
    identifier: str | None = None

    @property
    def usable(self) -> bool:
        """The robot may reach the element (a drive: powered and online)."""
        return self.access and self.exception is None


@dataclass(frozen=True)
class LibraryInventory:
    library: str
    slots: tuple[LibraryElement, ...]
    import_export: tuple[LibraryElement, ...]
    drives: tuple[LibraryElement, ...]

    @property
    def elements(self) -> tuple[LibraryElement, ...]:
        return self.slots + self.import_export + self.drives

    def find(self, barcode: str) -> LibraryElement | None:
        """The element holding ``barcode``, or None."""
        return next((e for e in self.elements if e.full and e.barcode == barcode), None)

    def at(self, address: int) -> LibraryElement:
        """The element at ``address``; KeyError when there is none."""
        for e in self.elements:
            if e.address == address:
                return e
        raise KeyError(f"no element at address {address}")

    def drive(self, name: str) -> LibraryElement | None:
        """The drive element mapped to the TapeDrive called ``name``."""
        return next((e for e in self.drives if e.drive == name), None)

    def barcodes(self) -> list[str]:
        return sorted(e.barcode for e in self.elements if e.full and e.barcode)

    def free_slots(self) -> list[LibraryElement]:
        return [e for e in self.slots if not e.full]

    def free_import_export(self) -> list[LibraryElement]:
        return [e for e in self.import_export if not e.full]

    def cleaning_cartridges(self) -> list[LibraryElement]:
        """Cleaning cartridges in slots, then in I/E slots (not those in drives)."""
        return [e for e in self.slots + self.import_export if e.full and e.cleaning]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for ``--json``."""
        return {
            "library": self.library,
            "slots": [asdict(e) for e in self.slots],
            "import_export": [asdict(e) for e in self.import_export],
            "drives": [asdict(e) for e in self.drives],
        }


def identifier_text(raw: bytes | None) -> str | None:
    if not raw:
        return None
    return raw.decode("ascii", "replace").strip(" \x00") or None


def serial_matches(identifier: bytes | None, serial: str) -> bool:
    """Does a drive element's device identifier (DVCID) name the drive with ``serial``?

    Libraries report either the serial alone or a T10 vendor ID designator (vendor 8,
    product 16, then serial, SPC-4 7.8.6.4), so the serial is matched at the end.
    """
    text = identifier_text(identifier)
    serial = serial.strip()
    return bool(text and serial) and (text == serial or text.endswith(serial))


def _element(e: Element, kind: ElementKind, number: int, drive: str | None) -> LibraryElement:
    barcode = e.barcode if e.full else None
    cleaning = e.medium_type == MediumType.CLEANING or bool(
        barcode and barcode.upper().startswith(CLEANING_PREFIX)
    )
    return LibraryElement(
        kind=kind,
        number=number,
        address=e.address,
        full=e.full,
        barcode=barcode,
        source=e.source,
        cleaning=cleaning,
        worm=e.medium_type == MediumType.WORM,
        access=e.access,
        imported=e.imported,
        exception=e.exception_name,
        drive=drive,
        identifier=identifier_text(e.identifier),
    )


def build_inventory(
    library: str, raw: Inventory, drive_names: Mapping[int, str]
) -> LibraryInventory:
    """``raw`` with drive elements named by ``drive_names`` (element address -> drive name)."""
    groups: dict[ElementKind, list[LibraryElement]] = {k: [] for k in ElementKind}
    for e in raw.elements:
        kind = _KIND_OF.get(e.type)
        if kind is None:
            continue
        number = _FIRST_NUMBER[kind] + len(groups[kind])
        groups[kind].append(_element(e, kind, number, drive_names.get(e.address)))
    return LibraryInventory(
        library,
        tuple(groups[ElementKind.SLOT]),
        tuple(groups[ElementKind.IMPORT_EXPORT]),
        tuple(groups[ElementKind.DRIVE]),
    )
