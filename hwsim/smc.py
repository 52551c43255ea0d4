"""The simulated media changer (SMC-3): the robot that moves cartridges between elements.

One opcode table (``SMC_COMMANDS``) on top of the shared SPC commands. The changer knows
the element map, the drives (to hand cartridges to and take them from) and calls
``on_change`` after every change of element contents so the library can persist it.

Conditions, with the sense real libraries report:
  door open                   NOT READY 04/83 (IBM, Dell, Spectra, Exabyte libraries)
  invalid element address     ILLEGAL REQUEST 21/01
  source empty                ILLEGAL REQUEST 3B/0E
  destination full            ILLEGAL REQUEST 3B/0D
  drive not unloaded          ILLEGAL REQUEST 3B/83 (IBM TS3xxx "source drive not unloaded")
  drive removal prevented     ILLEGAL REQUEST 53/02 (a host PREVENTed removal on the drive)
  robot failure               HARDWARE ERROR 15/01 mechanical positioning error
  stuck cartridge, dead drive HARDWARE ERROR 53/00 media load or eject failed
A failed move leaves every cartridge where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from hwsim.cartridge import Cartridge
from hwsim.check import CheckCondition, Condition, FieldPointer, invalid_cdb_field
from hwsim.device import Command, CommandSpec, Identity
from hwsim.elements import Element, ElementMap, ElementType
from hwsim.faults import FaultAction, FaultPlan
from hwsim.opcodes import PeripheralType, SmcOpcode, SpcOpcode
from hwsim.smc_elements import (
    MEDIUM_CLEANING,
    MEDIUM_DATA,
    MEDIUM_WORM,
    ElementStatus,
    device_capabilities_page,
    element_address_page,
    element_status_data,
    transport_geometry_page,
)
from hwsim.spc import SPC_COMMANDS, ModePage, SpcDevice
from hwsim.ssc import CartridgeStuck, DriveNotUnloaded, SimTapeDrive

DEFAULT_TRANSPORT = 0  # SMC-3 6.6: transport element address 0 selects the default robot
DRIVE_OFFLINE_EXCEPTION = (0x04, 0x12)  # element ASC/ASCQ of a powered-off drive


class SimChanger(SpcDevice):
    """The changer logical unit of a simulated library (peripheral device type 0x08).

    ``drives`` maps drive names (as in the element map) to the drive objects;
    ``cartridges`` maps barcodes to the library's cartridges. Commands run under the
    changer's lock; ``on_change`` is called with it held.
    """

    peripheral_type = PeripheralType.MEDIUM_CHANGER
    command_sets = (SpcOpcode, SmcOpcode)

    def __init__(
        self,
        name: str,
        identity: Identity,
        faults: FaultPlan,
        elements: ElementMap,
        drives: Mapping[str, SimTapeDrive],
        cartridges: Mapping[str, Cartridge],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(name, identity, faults)
        self.elements = elements
        self.drives = drives
        self.cartridges = cartridges
        self.on_change = on_change
        self.door_open = False
        self.robot_position: int = elements.transport.address
        self.moves = 0
        self._pages = {
            page.code: page
            for page in (
                element_address_page(elements),
                transport_geometry_page(),
                device_capabilities_page(),
            )
        }
        self.post_unit_attention(Condition.POWER_ON_RESET)  # a device starts powered on

    # --- SpcDevice hooks ---------------------------------------------------------------------

    def mode_pages(self) -> Mapping[int, ModePage]:
        return self._pages

    def ready_check(self) -> None:
        if self.door_open:
            raise CheckCondition(Condition.NOT_READY_DOOR_OPEN)

    def apply_fault(self, action: FaultAction) -> None:
        if action.kind == "robot_failure":
            raise CheckCondition(Condition.MECHANICAL_POSITIONING_ERROR)
        super().apply_fault(action)

    # --- element status ------------------------------------------------------------------------

    def status_of(self, element: Element) -> ElementStatus:
        """What READ ELEMENT STATUS reports for ``element`` right now."""
        access = True
        exception = None
        identifier = None
        if element.type == ElementType.DATA_TRANSFER:
            drive = self.drives[element.drive or ""]
            identifier = drive.identity.t10_vendor_id()
            if not drive.powered or drive.offline:
                access, exception = False, DRIVE_OFFLINE_EXCEPTION
            elif element.full:
                access = drive.eject_ready()
        medium = MEDIUM_DATA
        cart = self.cartridges.get(element.barcode or "")
        if cart is not None and cart.cleaning:
            medium = MEDIUM_CLEANING
        elif cart is not None and cart.worm:
            medium = MEDIUM_WORM
        return ElementStatus(
            type=element.type,
            address=element.address,
            barcode=element.barcode,
            access=access,
            exception=exception,
            source=element.source,
            imported=element.imported,
            medium_type=medium,
            identifier=identifier,
        )

    def element_at(self, address: int, cdb_byte: int) -> Element:
        """The element at ``address``, else ILLEGAL REQUEST 21/01 pointing at the field."""
        element = self.elements.get(address)
        if element is None:
            raise CheckCondition(Condition.INVALID_ELEMENT_ADDRESS, field=FieldPointer(cdb_byte))
        return element

    def check_transport(self, cmd: Command, at: int = 2) -> None:
        address = cmd.u16(at)
        if address not in (DEFAULT_TRANSPORT, self.elements.transport.address):
            raise CheckCondition(Condition.INVALID_ELEMENT_ADDRESS, field=FieldPointer(at))

    def storage_element(self, address: int, cdb_byte: int) -> Element:
        """A source or destination of a move: any element except the robot itself."""
        element = self.element_at(address, cdb_byte)
        if element.type == ElementType.TRANSPORT:
            raise CheckCondition(Condition.INVALID_ELEMENT_ADDRESS, field=FieldPointer(cdb_byte))
        return element

    # --- moving cartridges ---------------------------------------------------------------------

    def drive_of(self, element: Element) -> SimTapeDrive | None:
        if element.type != ElementType.DATA_TRANSFER:
            return None
        return self.drives[element.drive or ""]

    def check_can_take(self, element: Element) -> None:
        """Library firmware checks before the robot reaches into a drive."""
        drive = self.drive_of(element)
        if drive is None:
            return
        if not drive.powered or drive.offline:
            raise CheckCondition(Condition.MEDIA_LOAD_OR_EJECT_FAILED)
        if drive.prevent_removal:
            raise CheckCondition(Condition.MEDIUM_REMOVAL_PREVENTED)
        if not drive.eject_ready():
            raise CheckCondition(Condition.SOURCE_DRIVE_NOT_UNLOADED)

    def check_can_put(self, element: Element) -> None:
        drive = self.drive_of(element)
        if drive is not None and (not drive.powered or drive.offline):
            raise CheckCondition(Condition.MEDIA_LOAD_OR_EJECT_FAILED)

    def robot_move(self) -> None:
        """One robot operation: the fault plan may fail it (HARDWARE ERROR 15/01)."""
        self.moves += 1
        for action in self.faults.on_move(self.name):
            self.apply_fault(action)

    def check_not_stuck(self, element: Element) -> None:
        """The robot grips the cartridge in a drive; a stuck one does not come out."""
        drive = self.drive_of(element)
        if drive is not None and self.faults.stuck(drive.name):
            raise CheckCondition(Condition.MEDIA_LOAD_OR_EJECT_FAILED)

    def take(self, element: Element) -> str:
        """Remove the cartridge from ``element`` (pulling it out of a drive) -> barcode."""
        barcode = element.barcode
        assert barcode is not None
        drive = self.drive_of(element)
        if drive is not None:
            try:
                drive.take()
            except DriveNotUnloaded:
                raise CheckCondition(Condition.SOURCE_DRIVE_NOT_UNLOADED) from None
            except CartridgeStuck:
                raise CheckCondition(Condition.MEDIA_LOAD_OR_EJECT_FAILED) from None
        return barcode

    def put(self, element: Element, barcode: str, source: Element) -> None:
        """Place ``barcode`` into ``element`` (inserting it into a drive)."""
        drive = self.drive_of(element)
        if drive is not None:
            drive.insert(self.cartridges[barcode])
        element.barcode = barcode
        element.source = source.address
        element.imported = False
        self.robot_position = element.address

    def move(self, source: Element, destination: Element) -> None:
        """Move a cartridge; conditions checked before anything moves."""
        if not source.full:
            raise CheckCondition(Condition.MEDIUM_SOURCE_ELEMENT_EMPTY)
        if destination.full and destination is not source:
            raise CheckCondition(Condition.MEDIUM_DESTINATION_ELEMENT_FULL)
        self.check_can_take(source)
        self.check_can_put(destination)
        self.robot_move()
        if destination is source:
            return
        self.check_not_stuck(source)
        barcode = self.take(source)
        source.empty()
        self.put(destination, barcode, source)
        self.on_change()

    def exchange(self, source: Element, first: Element, second: Element) -> None:
        """SMC-3 6.3: source -> first destination, first destination's cartridge -> second."""
        if not source.full or not first.full:
            raise CheckCondition(Condition.MEDIUM_SOURCE_ELEMENT_EMPTY)
        if second.full and second is not source:
            raise CheckCondition(Condition.MEDIUM_DESTINATION_ELEMENT_FULL)
        for element in (source, first):
            self.check_can_take(element)
        for element in (first, second):
            self.check_can_put(element)
        self.robot_move()
        self.check_not_stuck(source)
        self.check_not_stuck(first)
        from_first = self.take(first)
        from_source = self.take(source)
        source.empty()
        first.empty()
        self.put(first, from_source, source)
        self.put(second, from_first, first)
        self.on_change()


# --- command handlers --------------------------------------------------------------------------


def read_element_status(dev: SimChanger, cmd: Command) -> bytes:
    """SMC-3 6.11 READ ELEMENT STATUS."""
    cmd.need_cdb_len(12)
    voltag = bool(cmd.cdb[1] & 0x10)
    type_code = cmd.cdb[1] & 0x0F
    try:
        kind = ElementType(type_code)
    except ValueError:
        raise invalid_cdb_field(1, 3) from None
    start, count = cmd.u16(2), cmd.u16(4)
    dvcid = bool(cmd.cdb[6] & 0x01)
    alloc = cmd.u24(7)
    candidates = [e for e in dev.elements.of_type(kind) if e.address >= start]
    if not candidates:
        raise CheckCondition(Condition.INVALID_ELEMENT_ADDRESS, field=FieldPointer(2))
    statuses = [dev.status_of(e) for e in candidates[:count]]
    return Command.fit(element_status_data(statuses, voltag=voltag, dvcid=dvcid), alloc)


def move_medium(dev: SimChanger, cmd: Command) -> None:
    """SMC-3 6.6 MOVE MEDIUM."""
    cmd.need_cdb_len(12)
    dev.check_transport(cmd)
    source = dev.storage_element(cmd.u16(4), 4)
    destination = dev.storage_element(cmd.u16(6), 6)
    if cmd.cdb[10] & 0x01:
        raise invalid_cdb_field(10, 0)  # INVERT: cartridges cannot be turned over
    dev.move(source, destination)


def exchange_medium(dev: SimChanger, cmd: Command) -> None:
    """SMC-3 6.3 EXCHANGE MEDIUM."""
    cmd.need_cdb_len(12)
    dev.check_transport(cmd)
    source = dev.storage_element(cmd.u16(4), 4)
    first = dev.storage_element(cmd.u16(6), 6)
    second = dev.storage_element(cmd.u16(8), 8)
    if first is source:
        raise invalid_cdb_field(6)
    if cmd.cdb[10] & 0x03:
        raise invalid_cdb_field(10, 0 if cmd.cdb[10] & 0x01 else 1)
    dev.exchange(source, first, second)


def initialize_element_status(dev: SimChanger, cmd: Command) -> None:
    """SMC-3 6.4 INITIALIZE ELEMENT STATUS: the inventory is always exact; nothing to scan."""
    cmd.need_cdb_len(6)


def initialize_element_status_with_range(dev: SimChanger, cmd: Command) -> None:
    """SMC-3 6.5 INITIALIZE ELEMENT STATUS WITH RANGE: RANGE=1 checks the start address."""
    cmd.need_cdb_len(10)
    if cmd.cdb[1] & 0x01:
        dev.element_at(cmd.u16(2), 2)


def position_to_element(dev: SimChanger, cmd: Command) -> None:
    """SMC-3 6.7 POSITION TO ELEMENT: park the robot in front of an element."""
    cmd.need_cdb_len(10)
    dev.check_transport(cmd)
    destination = dev.element_at(cmd.u16(4), 4)
    if cmd.cdb[8] & 0x01:
        raise invalid_cdb_field(8, 0)
    dev.robot_position = destination.address


SMC_COMMANDS: Mapping[int, CommandSpec] = {
    **SPC_COMMANDS,
    SmcOpcode.READ_ELEMENT_STATUS: CommandSpec(read_element_status, needs_ready=True),
    SmcOpcode.MOVE_MEDIUM: CommandSpec(move_medium, needs_ready=True),
    SmcOpcode.EXCHANGE_MEDIUM: CommandSpec(exchange_medium, needs_ready=True),
    SmcOpcode.INITIALIZE_ELEMENT_STATUS: CommandSpec(initialize_element_status, needs_ready=True),
    SmcOpcode.INITIALIZE_ELEMENT_STATUS_WITH_RANGE: CommandSpec(
        initialize_element_status_with_range, needs_ready=True
    ),
    SmcOpcode.POSITION_TO_ELEMENT: CommandSpec(position_to_element, needs_ready=True),
}
SimChanger.commands = SMC_COMMANDS
