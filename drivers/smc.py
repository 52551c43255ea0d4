"""The SMC-3 media changer driver: inventory, moves, element addresses.

``SmcDriver(transport)`` builds its CDBs from PYSCSI's tables (drivers/pyscsi_cdb.py) and
decodes answers with drivers/smc_data.py. Errors are the one mapping's (drivers/errors.py):
door open -> NotReady (04/83 or 04/18), robot failure -> HardwareError (15/01), stuck
cartridge or dead drive -> HardwareError (53/00), source empty / destination full /
invalid element / drive not unloaded / removal prevented -> IllegalRequest (3B/0E, 3B/0D,
21/01, 3B/83, 53/02), unit attentions (28/00 door closed, 28/01 I/E accessed, 29/00) ->
UnitAttention. Nothing is retried here: the library layer decides.

Threads: a changer serialises its commands; share one driver per changer.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers import pyscsi_cdb as pc
from drivers.smc_data import (
    ELEMENT_ADDRESS_PAGE,
    STATUS_HEADER_LEN,
    Element,
    ElementAddresses,
    ElementStatusReport,
    ElementType,
    parse_element_address_page,
    parse_element_status,
)
from drivers.spc import DEFAULT_TIMEOUT_S, SpcDriver
from drivers.transport.contract import Transport

MOVE_TIMEOUT_S = 600.0  # a robot move, with the retries library firmware does itself
INVENTORY_TIMEOUT_S = 3600.0  # INITIALIZE ELEMENT STATUS scans every slot's barcode
DEFAULT_TRANSPORT = 0  # SMC-3 6.6: transport address 0 selects the library's default robot
MAX_ELEMENTS = 0xFFFF
MAX_ALLOCATION = 0xFF_FFFF  # READ ELEMENT STATUS allocation length is 24 bits


@dataclass(frozen=True, slots=True)
class Inventory:
    """Every element of the library, in the order the changer reported them."""

    elements: tuple[Element, ...]

    def of_type(self, kind: ElementType) -> list[Element]:
        return [e for e in self.elements if e.type == kind]

    @property
    def drives(self) -> list[Element]:
        return self.of_type(ElementType.DATA_TRANSFER)

    @property
    def slots(self) -> list[Element]:
        return self.of_type(ElementType.STORAGE)

    @property
    def import_export(self) -> list[Element]:
        return self.of_type(ElementType.IMPORT_EXPORT)

    @property
    def transports(self) -> list[Element]:
        return self.of_type(ElementType.TRANSPORT)

    def at(self, address: int) -> Element:
        """The element at ``address``; KeyError when there is none."""
        for e in self.elements:
            if e.address == address:
                return e
        raise KeyError(f"no element at address {address}")

    def find(self, barcode: str) -> Element | None:
        """The element holding ``barcode``, or None."""
        return next((e for e in self.elements if e.barcode == barcode), None)


class SmcDriver(SpcDriver):
    """A medium changer logical unit."""

    def __init__(self, transport: Transport, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(transport, timeout_s=timeout_s)

    def command_name(self, cdb: bytes) -> str:
        """POSITION TO ELEMENT for 2Bh (a tape drive's LOCATE(10) shares the opcode)."""
        for layout in pc.ALL_LAYOUTS:
            if cdb and cdb[0] == layout.opcode:
                return layout.name
        return super().command_name(cdb)

    def element_addresses(self) -> ElementAddresses:
        """SMC-3 7.3.3 MODE SENSE page 0x1D: where each element type starts, and how many."""
        params = self.mode_sense(ELEMENT_ADDRESS_PAGE, dbd=True)
        page = params.page(ELEMENT_ADDRESS_PAGE)
        if page is None:
            raise ValueError(f"{self.name}: MODE SENSE returned no element address page")
        return parse_element_address_page(page.body)

    def read_element_status(
        self,
        element_type: ElementType = ElementType.ALL,
        *,
        start: int = 0,
        count: int = MAX_ELEMENTS,
        voltag: bool = True,
        dvcid: bool = True,
    ) -> ElementStatusReport:
        """SMC-3 6.11 READ ELEMENT STATUS, sized exactly.

        First asks for the 8-byte header only: BYTE COUNT OF REPORT AVAILABLE gives the
        full report's size, which the second request allocates (SMC-3 6.11.2; some
        libraries refuse or truncate a report larger than the allocation).
        """

        def ask(alloc: int) -> bytes:
            cdb = pc.READ_ELEMENT_STATUS.encode(
                voltag=voltag,
                element_type=element_type,
                starting_element_address=start,
                num_elements=count,
                dvcid=dvcid,
                alloc_len=alloc,
            )
            return self.command(cdb, data_in_len=alloc, timeout_s=MOVE_TIMEOUT_S)

        header = ask(STATUS_HEADER_LEN)
        if len(header) < STATUS_HEADER_LEN:
            return parse_element_status(header)
        size = STATUS_HEADER_LEN + int.from_bytes(header[5:8], "big")
        return parse_element_status(ask(min(size, MAX_ALLOCATION)))

    def inventory(self, *, voltag: bool = True, dvcid: bool = True) -> Inventory:
        """Every element: one READ ELEMENT STATUS per type, in SMC order (robot, slots,
        I/E, drives), each sized exactly. Per type because a library need not report
        several types in one answer."""
        elements: list[Element] = []
        for kind in (
            ElementType.TRANSPORT,
            ElementType.STORAGE,
            ElementType.IMPORT_EXPORT,
            ElementType.DATA_TRANSFER,
        ):
            elements += self.read_element_status(kind, voltag=voltag, dvcid=dvcid).elements
        return Inventory(tuple(elements))

    def move_medium(
        self, source: int, destination: int, *, transport: int = DEFAULT_TRANSPORT
    ) -> None:
        """SMC-3 6.6 MOVE MEDIUM from element ``source`` to element ``destination``."""
        cdb = pc.MOVE_MEDIUM.encode(
            medium_transport_address=transport,
            source_address=source,
            destination_address=destination,
        )
        self.command(cdb, timeout_s=MOVE_TIMEOUT_S)

    def exchange_medium(
        self, source: int, first: int, second: int, *, transport: int = DEFAULT_TRANSPORT
    ) -> None:
        """SMC-3 6.3 EXCHANGE MEDIUM: source -> first; first's cartridge -> second."""
        cdb = pc.EXCHANGE_MEDIUM.encode(
            medium_transport_address=transport,
            source_address=source,
            first_destination_address=first,
            second_destination_address=second,
        )
        self.command(cdb, timeout_s=MOVE_TIMEOUT_S)

    def initialize_element_status(self) -> None:
        """SMC-3 6.4 INITIALIZE ELEMENT STATUS: re-scan every element (slow on real robots)."""
        self.command(pc.INITIALIZE_ELEMENT_STATUS.encode(), timeout_s=INVENTORY_TIMEOUT_S)

    def initialize_element_status_range(
        self, start: int, count: int, *, fast: bool = False
    ) -> None:
        """SMC-3 6.5 INITIALIZE ELEMENT STATUS WITH RANGE over ``count`` elements."""
        cdb = pc.INITIALIZE_ELEMENT_STATUS_WITH_RANGE.encode(
            range=1, fast=fast, starting_element_address=start, number_of_elements=count
        )
        self.command(cdb, timeout_s=INVENTORY_TIMEOUT_S)

    def position_to_element(self, destination: int, *, transport: int = DEFAULT_TRANSPORT) -> None:
        """SMC-3 6.7 POSITION TO ELEMENT: park the robot in front of ``destination``."""
        cdb = pc.POSITION_TO_ELEMENT.encode(
            medium_transport_address=transport, destination_address=destination
        )
        self.command(cdb, timeout_s=MOVE_TIMEOUT_S)
