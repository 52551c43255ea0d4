"""SPC-4 commands shared by every device type: written once, specialised through hooks.

A device type builds its opcode table as ``{**SPC_COMMANDS, ...its own...}`` and wraps an SPC
handler when it must add something (the tape drive's MODE SENSE sets write protect through
``device_specific_parameter``). Hooks a device may override are on ``SpcDevice``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hwsim.check import (
    CheckCondition,
    Condition,
    FieldPointer,
    invalid_cdb_field,
    invalid_parameter_field,
)
from hwsim.device import Command, CommandSpec, SimDevice
from hwsim.opcodes import SpcOpcode
from hwsim.sense import build_sense

PAGE_CONTROL_CURRENT = 0
PAGE_CONTROL_CHANGEABLE = 1
PAGE_CONTROL_DEFAULT = 2
PAGE_CONTROL_SAVED = 3
ALL_PAGES = 0x3F
SPC4_VERSION = 0x06
RESPONSE_DATA_FORMAT = 0x02
STANDARD_INQUIRY_LEN = 96
VPD_SUPPORTED_PAGES = 0x00
VPD_UNIT_SERIAL = 0x80
VPD_DEVICE_IDENTIFICATION = 0x83


@dataclass
class ModePage:
    """One mode page: current, default and changeable images (page header included).

    ``on_select`` is called with the new current image after MODE SELECT validated it, so
    the device can act on it (compression on/off, buffered mode, ...).
    """

    code: int
    current: bytearray
    default: bytes
    changeable: bytes
    on_select: Callable[[bytes], None] | None = None

    @classmethod
    def build(
        cls,
        code: int,
        body: bytes,
        changeable_body: bytes,
        on_select: Callable[[bytes], None] | None = None,
    ) -> ModePage:
        if len(body) != len(changeable_body):
            raise ValueError("mode page body and changeable mask differ in length")
        header = bytes([code & 0x3F, len(body)])
        return cls(
            code, bytearray(header + body), header + body, header + changeable_body, on_select
        )

    def image(self, page_control: int) -> bytes:
        if page_control == PAGE_CONTROL_CHANGEABLE:
            return self.changeable
        if page_control == PAGE_CONTROL_DEFAULT:
            return self.default
        return bytes(self.current)

    def select(self, page: bytes, offset: int) -> None:
        """Apply a page from a MODE SELECT parameter list at ``offset`` (for error pointers)."""
        if len(page) != len(self.current):
            raise invalid_parameter_field(offset + 1)
        for i in range(2, len(page)):
            if (page[i] ^ self.current[i]) & ~self.changeable[i] & 0xFF:
                raise invalid_parameter_field(offset + i)
        self.current[2:] = page[2:]
        if self.on_select is not None:
            self.on_select(bytes(self.current))


class SpcDevice(SimDevice):
    """Hooks the shared SPC handlers call; defaults describe a device with none of them."""

    removable_medium = True

    def vpd_pages(self) -> Mapping[int, Callable[[], bytes]]:
        """Extra VPD pages: page code -> payload (after the 4-byte page header)."""
        return {}

    def mode_pages(self) -> Mapping[int, ModePage]:
        return {}

    def medium_type(self) -> int:
        return 0

    def device_specific_parameter(self) -> int:
        return 0

    def block_descriptor(self) -> bytes | None:
        """The 8-byte short block descriptor, or None when the device type has none."""
        return None

    def select_header(self, device_specific: int, params: bytes, offset: int) -> None:
        """MODE SELECT header's device-specific byte (buffered mode, speed for tape)."""

    def select_block_descriptor(self, descriptor: bytes, offset: int) -> None:
        raise invalid_parameter_field(offset)

    def log_pages(self) -> Mapping[int, Callable[[], bytes]]:
        """LOG SENSE pages: page code -> parameter bytes (after the 4-byte page header)."""
        return {}

    def reset_log_counters(self) -> None:
        """LOG SELECT with PCR: zero the cumulative counters."""

    def inquiry_vendor_specific(self) -> bytes:
        """Bytes 36..55 of standard INQUIRY data; many tape drives put the serial here."""
        return self.identity.serial.encode("ascii").ljust(20)[:20]


# --- INQUIRY and VPD ------------------------------------------------------------------------


def naa_designator(serial: str, vendor: str) -> bytes:
    """An NAA IEEE Registered (type 5) identifier derived from vendor and serial.

    Real devices burn these in; hwsim derives one so that the same serial always gets the
    same WWN and different devices get different ones.
    """
    digest = hashlib.sha256(f"{vendor}/{serial}".encode()).digest()
    oui = 0x00_12_3A  # hwsim's pretend IEEE company id
    vendor_specific = int.from_bytes(digest[:5], "big") & 0xF_FFFF_FFFF
    return struct.pack(">Q", (0x5 << 60) | (oui << 36) | vendor_specific)


def _designator(code_set: int, designator_type: int, payload: bytes) -> bytes:
    return bytes([code_set & 0x0F, designator_type & 0x0F, 0, len(payload)]) + payload


def _vpd(device: SpcDevice, page: int, payload: bytes) -> bytes:
    return bytes([device.peripheral_type, page]) + struct.pack(">H", len(payload)) + payload


def _vpd_table(device: SpcDevice) -> dict[int, Callable[[], bytes]]:
    table: dict[int, Callable[[], bytes]] = {
        VPD_UNIT_SERIAL: lambda: device.identity.serial.encode("ascii"),
        VPD_DEVICE_IDENTIFICATION: lambda: (
            _designator(0x2, 0x1, device.identity.t10_vendor_id())
            + _designator(0x1, 0x3, naa_designator(device.identity.serial, device.identity.vendor))
        ),
    }
    table.update(device.vpd_pages())
    table[VPD_SUPPORTED_PAGES] = lambda: bytes(sorted(table))
    return table


def standard_inquiry(device: SpcDevice) -> bytes:
    ident = device.identity
    body = bytearray(STANDARD_INQUIRY_LEN)
    body[0] = int(device.peripheral_type)
    body[1] = 0x80 if device.removable_medium else 0
    body[2] = SPC4_VERSION
    body[3] = RESPONSE_DATA_FORMAT
    body[4] = STANDARD_INQUIRY_LEN - 5
    body[8:16] = ident.vendor.encode("ascii").ljust(8)[:8]
    body[16:32] = ident.product.encode("ascii").ljust(16)[:16]
    body[32:36] = ident.revision.encode("ascii").ljust(4)[:4]
    body[36:56] = device.inquiry_vendor_specific()
    return bytes(body)


def inquiry(device: SpcDevice, cmd: Command) -> bytes:
    """SPC-4 6.6 INQUIRY: standard data or a VPD page."""
    cmd.need_cdb_len(6)
    evpd = cmd.cdb[1] & 0x01
    if cmd.cdb[1] & 0x02:
        raise invalid_cdb_field(1, 1)
    page = cmd.cdb[2]
    alloc = cmd.u16(3)
    if not evpd:
        if page:
            raise invalid_cdb_field(2)
        return Command.fit(standard_inquiry(device), alloc)
    table = _vpd_table(device)
    if page not in table:
        raise invalid_cdb_field(2)
    return Command.fit(_vpd(device, page, table[page]()), alloc)


def test_unit_ready(device: SpcDevice, cmd: Command) -> None:
    """SPC-4 6.47: GOOD when ready; the dispatcher's ready check raises otherwise."""


def request_sense(device: SpcDevice, cmd: Command) -> bytes:
    """SPC-4 6.39: a pending unit attention, else the device's pollable condition."""
    cmd.need_cdb_len(6)
    descriptor = bool(cmd.cdb[1] & 0x01)
    pending = device.pop_unit_attention()
    condition = CheckCondition(pending) if pending is not None else device.pollable_sense()
    if condition is None:
        condition = CheckCondition(Condition.NO_ADDITIONAL_SENSE)
    return Command.fit(build_sense(condition, descriptor=descriptor), cmd.cdb[4])


def report_luns(device: SpcDevice, cmd: Command) -> bytes:
    """SPC-4 6.33: a single LUN 0."""
    cmd.need_cdb_len(12)
    alloc = cmd.u32(6)
    if alloc < 16:
        raise invalid_cdb_field(6)
    return Command.fit(struct.pack(">II", 8, 0) + bytes(8), alloc)


def prevent_allow_medium_removal(device: SpcDevice, cmd: Command) -> None:
    """SPC-4 6.13: the PREVENT field (byte 4, bits 1..0)."""
    cmd.need_cdb_len(6)
    prevent = cmd.cdb[4] & 0x03
    if prevent not in (0, 1):
        raise invalid_cdb_field(4, 1)
    device.prevent_removal = bool(prevent)


# --- MODE SENSE / MODE SELECT -----------------------------------------------------------------


def _mode_pages_for(device: SpcDevice, page_code: int, page_control: int) -> bytes:
    pages = device.mode_pages()
    if page_control == PAGE_CONTROL_SAVED:
        raise CheckCondition(Condition.SAVING_PARAMETERS_NOT_SUPPORTED, field=FieldPointer(2, 7))
    if page_code == ALL_PAGES:
        return b"".join(pages[code].image(page_control) for code in sorted(pages))
    if page_code not in pages:
        raise invalid_cdb_field(2, 5)
    return pages[page_code].image(page_control)


def _block_descriptors(device: SpcDevice, dbd: bool) -> bytes:
    if dbd:
        return b""
    descriptor = device.block_descriptor()
    return descriptor or b""


def mode_sense_6(device: SpcDevice, cmd: Command) -> bytes:
    """SPC-4 6.11 MODE SENSE(6)."""
    cmd.need_cdb_len(6)
    dbd = bool(cmd.cdb[1] & 0x08)
    page_control, page_code = cmd.cdb[2] >> 6, cmd.cdb[2] & 0x3F
    if cmd.cdb[3]:
        raise invalid_cdb_field(3)
    pages = _mode_pages_for(device, page_code, page_control)
    descriptors = _block_descriptors(device, dbd)
    header_len = 4
    total = header_len + len(descriptors) + len(pages)
    header = bytes(
        [total - 1, device.medium_type(), device.device_specific_parameter(), len(descriptors)]
    )
    return Command.fit(header + descriptors + pages, cmd.cdb[4])


def mode_sense_10(device: SpcDevice, cmd: Command) -> bytes:
    """SPC-4 6.12 MODE SENSE(10)."""
    cmd.need_cdb_len(10)
    dbd = bool(cmd.cdb[1] & 0x08)
    page_control, page_code = cmd.cdb[2] >> 6, cmd.cdb[2] & 0x3F
    if cmd.cdb[3]:
        raise invalid_cdb_field(3)
    pages = _mode_pages_for(device, page_code, page_control)
    descriptors = _block_descriptors(device, dbd)
    header_len = 8
    total = header_len + len(descriptors) + len(pages)
    header = struct.pack(
        ">HBBBBH",
        total - 2,
        device.medium_type(),
        device.device_specific_parameter(),
        0,
        0,
        len(descriptors),
    )
    return Command.fit(header + descriptors + pages, cmd.u16(7))


def _apply_mode_parameters(
    device: SpcDevice, params: bytes, header_len: int, descriptor_len: int, device_specific: int
) -> None:
    if header_len + descriptor_len > len(params):
        raise CheckCondition(Condition.PARAMETER_LIST_LENGTH_ERROR)
    device.select_header(device_specific, params, header_len)
    offset = header_len
    for start in range(offset, offset + descriptor_len, 8):
        device.select_block_descriptor(params[start : start + 8], start)
    offset += descriptor_len
    pages = device.mode_pages()
    while offset < len(params):
        if offset + 2 > len(params):
            raise CheckCondition(Condition.PARAMETER_LIST_LENGTH_ERROR)
        code = params[offset] & 0x3F
        if params[offset] & 0x40:  # sub-page format: none supported
            raise invalid_parameter_field(offset, 6)
        length = params[offset + 1] + 2
        page = pages.get(code)
        if page is None:
            raise invalid_parameter_field(offset, 5)
        if offset + length > len(params):
            raise CheckCondition(Condition.PARAMETER_LIST_LENGTH_ERROR)
        page.select(bytes(params[offset : offset + length]), offset)
        offset += length


def mode_select_6(device: SpcDevice, cmd: Command) -> None:
    """SPC-4 6.9 MODE SELECT(6)."""
    cmd.need_cdb_len(6)
    if cmd.cdb[1] & 0x01:
        raise CheckCondition(Condition.SAVING_PARAMETERS_NOT_SUPPORTED, field=FieldPointer(1, 0))
    length = cmd.cdb[4]
    params = bytes(cmd.data_out[:length])
    if length == 0:
        return
    if len(params) < length or length < 4:
        raise CheckCondition(Condition.PARAMETER_LIST_LENGTH_ERROR)
    _apply_mode_parameters(device, params, 4, params[3], params[2])


def mode_select_10(device: SpcDevice, cmd: Command) -> None:
    """SPC-4 6.10 MODE SELECT(10)."""
    cmd.need_cdb_len(10)
    if cmd.cdb[1] & 0x01:
        raise CheckCondition(Condition.SAVING_PARAMETERS_NOT_SUPPORTED, field=FieldPointer(1, 0))
    length = cmd.u16(7)
    params = bytes(cmd.data_out[:length])
    if length == 0:
        return
    if len(params) < length or length < 8:
        raise CheckCondition(Condition.PARAMETER_LIST_LENGTH_ERROR)
    descriptor_len = int.from_bytes(params[6:8], "big")
    _apply_mode_parameters(device, params, 8, descriptor_len, params[3])


# --- LOG SENSE / LOG SELECT --------------------------------------------------------------------


def log_parameter(code: int, value: bytes, control: int = 0x03) -> bytes:
    """One log parameter (SPC-4 7.3.2.2): code, control byte, length, value."""
    return struct.pack(">HBB", code, control, len(value)) + value


def log_sense(device: SpcDevice, cmd: Command) -> bytes:
    """SPC-4 6.8 LOG SENSE; page 0x00 lists the supported pages."""
    cmd.need_cdb_len(10)
    page_code = cmd.cdb[2] & 0x3F
    if cmd.cdb[3]:
        raise invalid_cdb_field(3)
    pages = dict(device.log_pages())
    pages[0x00] = lambda: bytes(sorted(pages))
    if page_code not in pages:
        raise invalid_cdb_field(2, 5)
    body = pages[page_code]()
    return Command.fit(bytes([page_code, 0]) + struct.pack(">H", len(body)) + body, cmd.u16(7))


def log_select(device: SpcDevice, cmd: Command) -> None:
    """SPC-4 6.7 LOG SELECT: only PCR (reset cumulative counters) is supported."""
    cmd.need_cdb_len(10)
    if cmd.u16(7):
        raise invalid_cdb_field(7)
    if cmd.cdb[1] & 0x02:
        device.reset_log_counters()


SPC_COMMANDS: Mapping[int, CommandSpec] = {
    SpcOpcode.INQUIRY: CommandSpec(inquiry, reports_unit_attention=False),
    SpcOpcode.REPORT_LUNS: CommandSpec(report_luns, reports_unit_attention=False),
    SpcOpcode.REQUEST_SENSE: CommandSpec(request_sense, reports_unit_attention=False),
    SpcOpcode.TEST_UNIT_READY: CommandSpec(test_unit_ready, needs_ready=True),
    SpcOpcode.MODE_SENSE_6: CommandSpec(mode_sense_6),
    SpcOpcode.MODE_SENSE_10: CommandSpec(mode_sense_10),
    SpcOpcode.MODE_SELECT_6: CommandSpec(mode_select_6),
    SpcOpcode.MODE_SELECT_10: CommandSpec(mode_select_10),
    SpcOpcode.LOG_SENSE: CommandSpec(log_sense),
    SpcOpcode.LOG_SELECT: CommandSpec(log_select),
    SpcOpcode.PREVENT_ALLOW_MEDIUM_REMOVAL: CommandSpec(prevent_allow_medium_removal),
}
