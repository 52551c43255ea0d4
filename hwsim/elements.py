"""The changer's elements: what is where, by element address (SMC-3 4.2 element model).

A library has one medium transport element (the robot), storage elements (slots),
import/export elements (the mail slot the operator reaches) and data transfer elements (the
drives). Each has an address from the element address assignment (SMC-3 7.3.3, MODE SENSE
page 0x1D). ``ElementMap`` is the one record of which barcode sits in which element; the
drives hold the ``Cartridge`` objects themselves, the map only names them.

Operators count slots from 1 ("slot 3", "I/E 1"); SCSI speaks addresses. ``Element.index``
is the 1-based number within its type, ``Element.address`` the SCSI address.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_ELEMENT_ADDRESS = 0xFFFF


class ElementType(enum.IntEnum):
    """SMC-3 table 7 element type codes (READ ELEMENT STATUS, byte 1 bits 3..0)."""

    ALL = 0
    TRANSPORT = 1
    STORAGE = 2
    IMPORT_EXPORT = 3
    DATA_TRANSFER = 4


#: the short names operators, JSON rows and the console use for each element type
TYPE_NAMES: Mapping[ElementType, str] = {
    ElementType.TRANSPORT: "transport",
    ElementType.STORAGE: "slot",
    ElementType.IMPORT_EXPORT: "ie",
    ElementType.DATA_TRANSFER: "drive",
}


@dataclass(frozen=True, slots=True)
class ElementAddressing:
    """First element address of each type. The defaults follow the layout IBM-style
    libraries use (robot 0x0001, I/E from 0x0010, drives from 0x0100, slots from 0x1000),
    so a driver never gets away with assuming slot N is address N."""

    transport: int = 0x0001
    import_export: int = 0x0010
    data_transfer: int = 0x0100
    storage: int = 0x1000

    def base(self, kind: ElementType) -> int:
        return {
            ElementType.TRANSPORT: self.transport,
            ElementType.STORAGE: self.storage,
            ElementType.IMPORT_EXPORT: self.import_export,
            ElementType.DATA_TRANSFER: self.data_transfer,
        }[kind]

    def overlap(self, counts: Mapping[ElementType, int]) -> str | None:
        """Describe the first clash of address ranges (or a range past 0xFFFF), else None."""
        ranges = sorted(
            (self.base(kind), self.base(kind) + count - 1, TYPE_NAMES[kind])
            for kind, count in counts.items()
            if count
        )
        for low, high, name in ranges:
            if low < 0 or high > MAX_ELEMENT_ADDRESS:
                return f"{name} addresses {low}..{high} do not fit in 0..{MAX_ELEMENT_ADDRESS}"
        for (_, high_a, name_a), (low_b, high_b, name_b) in itertools.pairwise(ranges):
            if low_b <= high_a:
                return f"{name_a} addresses overlap {name_b} addresses {low_b}..{high_b}"
        return None


@dataclass(slots=True)
class Element:
    """One element and its contents.

    ``source``: the address the medium was last moved from (SMC-3 SVALID / SOURCE STORAGE
    ELEMENT ADDRESS), None when unknown (placed by configuration or the operator).
    ``imported``: for I/E elements, the operator put the medium there (IMPEXP bit).
    """

    type: ElementType
    address: int
    index: int
    barcode: str | None = None
    source: int | None = None
    imported: bool = False
    drive: str | None = None

    @property
    def full(self) -> bool:
        return self.barcode is not None

    @property
    def label(self) -> str:
        """How an operator names it: "slot 3", "ie 1", "drive drive0", "transport"."""
        if self.type == ElementType.DATA_TRANSFER:
            return f"drive {self.drive}"
        if self.type == ElementType.TRANSPORT:
            return "transport"
        return f"{TYPE_NAMES[self.type]} {self.index}"

    def empty(self) -> None:
        self.barcode = None
        self.source = None
        self.imported = False


class ElementMap:
    """All elements of one library, by address and by type. Not thread-safe: the changer
    and the library change it under their own locks."""

    def __init__(
        self,
        addressing: ElementAddressing,
        *,
        slots: int,
        ie_slots: int,
        drive_names: Sequence[str],
    ) -> None:
        self.addressing = addressing
        self._by_address: dict[int, Element] = {}
        self._by_type: dict[ElementType, list[Element]] = {kind: [] for kind in TYPE_NAMES}
        self._add(ElementType.TRANSPORT, 1)
        self._add(ElementType.STORAGE, slots)
        self._add(ElementType.IMPORT_EXPORT, ie_slots)
        self._add(ElementType.DATA_TRANSFER, len(drive_names))
        drive_elements = self._by_type[ElementType.DATA_TRANSFER]
        for element, name in zip(drive_elements, drive_names, strict=True):
            element.drive = name
        self._drives = {e.drive: e for e in self._by_type[ElementType.DATA_TRANSFER]}

    def _add(self, kind: ElementType, count: int) -> None:
        base = self.addressing.base(kind)
        for i in range(count):
            element = Element(kind, base + i, i + 1)
            self._by_address[element.address] = element
            self._by_type[kind].append(element)

    # --- lookup ---------------------------------------------------------------------------

    @property
    def transport(self) -> Element:
        return self._by_type[ElementType.TRANSPORT][0]

    def get(self, address: int) -> Element | None:
        return self._by_address.get(address)

    def of_type(self, kind: ElementType) -> list[Element]:
        """Elements of one type (ALL: every element), in ascending address order."""
        if kind == ElementType.ALL:
            return sorted(self._by_address.values(), key=lambda e: e.address)
        return list(self._by_type[kind])

    def __iter__(self) -> Iterator[Element]:
        return iter(self.of_type(ElementType.ALL))

    def count(self, kind: ElementType) -> int:
        return len(self._by_type[kind])

    def slot(self, index: int) -> Element:
        return self._indexed(ElementType.STORAGE, index)

    def ie(self, index: int) -> Element:
        return self._indexed(ElementType.IMPORT_EXPORT, index)

    def drive(self, name: str) -> Element:
        return self._drives[name]

    def _indexed(self, kind: ElementType, index: int) -> Element:
        elements = self._by_type[kind]
        if not 1 <= index <= len(elements):
            raise IndexError(f"{TYPE_NAMES[kind]} {index} is out of range 1..{len(elements)}")
        return elements[index - 1]

    def find(self, barcode: str) -> Element | None:
        """The element holding ``barcode``, or None when it is not in the library."""
        for element in self._by_address.values():
            if element.barcode == barcode:
                return element
        return None

    # --- persistence ------------------------------------------------------------------------

    def to_state(self) -> list[dict[str, Any]]:
        """The full elements only, as JSON-able rows keyed by address."""
        return [
            {
                "address": e.address,
                "barcode": e.barcode,
                "source": e.source,
                "imported": e.imported,
            }
            for e in self
            if e.full
        ]

    def restore_state(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Refill from ``to_state`` rows; raises ValueError naming a row that does not fit."""
        for element in self:
            element.empty()
        for row in rows:
            element = self.get(int(row["address"]))
            if element is None:
                raise ValueError(f"element address {row['address']} does not exist")
            if element.full:
                raise ValueError(f"element address {element.address} listed twice")
            element.barcode = str(row["barcode"])
            source = row.get("source")
            element.source = int(source) if source is not None else None
            element.imported = bool(row.get("imported", False))
