"""Tape drive mode parameters, READ BLOCK LIMITS and REPORT DENSITY SUPPORT.

MODE SENSE/SELECT themselves are the shared SPC handlers; this module supplies what is
tape-specific (SSC-4 8.3): the header's device-specific byte (WP, buffered mode), the block
descriptor (density code, block length: 0 = variable-block mode), and pages 0x0A control
(D_SENSE), 0x0F data compression and 0x10 device configuration.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hwsim.cartridge import MEDIA_TYPES
from hwsim.check import CheckCondition, Condition, invalid_cdb_field, invalid_parameter_field
from hwsim.device import Command
from hwsim.spc import ModePage

if TYPE_CHECKING:
    from hwsim.ssc import SimTapeDrive

PAGE_CONTROL = 0x0A
PAGE_DATA_COMPRESSION = 0x0F
PAGE_DEVICE_CONFIGURATION = 0x10
WP = 0x80
BUFFERED_MODE_SHIFT = 4
DENSITY_DEFAULT = 0x00
DENSITY_NO_CHANGE = 0x7F
MEDIUM_TYPE_DATA = 0x00
MEDIUM_TYPE_WORM = 0x01
DCE, DCC = 0x80, 0x40
DDE = 0x80
D_SENSE = 0x04
ALGORITHM_LTO_DC = 0x01  # SPC-4 annex: ALDC-compatible
SEW = 0x08  # synchronise at early warning
EOD_DEFINED = 0x60  # "format defined" end of data
DENSITY_DESCRIPTOR_LEN = 52
WRTOK, DEFLT = 0x80, 0x20


def build_mode_pages(drive: SimTapeDrive) -> dict[int, ModePage]:
    """Fresh pages at their power-on defaults."""

    def on_control(page: bytes) -> None:
        drive.descriptor_sense = bool(page[2] & D_SENSE)

    def on_compression(page: bytes) -> None:
        drive.compression = bool(page[2] & DCE)

    control = bytes([0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0])
    compression = bytes([DCE | DCC, DDE]) + struct.pack(">II", 1, 1) + bytes(4)
    config = bytes([0, 0, 0, 0, 0, 0, 0, 0, EOD_DEFINED | SEW, 0, 0, 0, 1, 0])
    return {
        PAGE_CONTROL: ModePage.build(
            PAGE_CONTROL, control, bytes([D_SENSE]) + bytes(9), on_control
        ),
        PAGE_DATA_COMPRESSION: ModePage.build(
            PAGE_DATA_COMPRESSION, compression, bytes([DCE]) + bytes(13), on_compression
        ),
        PAGE_DEVICE_CONFIGURATION: ModePage.build(
            PAGE_DEVICE_CONFIGURATION, config, bytes(12) + bytes([0xFF, 0])
        ),
    }


def _read_only(drive: SimTapeDrive) -> bool:
    """Write-protect switch set, or a generation this drive can only read."""
    cart = drive.cartridge
    return cart is not None and (
        cart.write_protected or cart.media_type.code not in drive.model.writes
    )


def medium_type(drive: SimTapeDrive) -> int:
    cart = drive.cartridge
    return MEDIUM_TYPE_WORM if cart is not None and cart.worm else MEDIUM_TYPE_DATA


def device_specific_parameter(drive: SimTapeDrive) -> int:
    """SSC-4 8.3.3: WP (bit 7), BUFFERED MODE (bits 6..4), SPEED 0."""
    return (WP if _read_only(drive) else 0) | (drive.buffered_mode << BUFFERED_MODE_SHIFT)


def block_descriptor(drive: SimTapeDrive) -> bytes:
    """SSC-4 8.3.2: density of the loaded medium, number of blocks 0, block length."""
    cart = drive.cartridge
    density = cart.media_type.density_code if cart is not None and cart.medium else 0
    return bytes([density, 0, 0, 0, 0]) + drive.block_size.to_bytes(3, "big")


def select_header(drive: SimTapeDrive, device_specific: int, offset: int) -> None:
    """MODE SELECT header: buffered mode 0 or 1 (others unsupported), speed ignored."""
    mode = (device_specific >> BUFFERED_MODE_SHIFT) & 0x07
    if mode > 1:
        raise invalid_parameter_field(2 if offset == 4 else 3, 6)
    drive.buffered_mode = mode


def select_block_descriptor(drive: SimTapeDrive, descriptor: bytes, offset: int) -> None:
    """A block length of 0 selects variable-block mode, else fixed blocks of that size."""
    if len(descriptor) < 8:
        raise CheckCondition(Condition.PARAMETER_LIST_LENGTH_ERROR)
    density = descriptor[0]
    known = {t.density_code for t in MEDIA_TYPES.values() if t.code in drive.model.reads}
    if density not in (DENSITY_DEFAULT, DENSITY_NO_CHANGE) and density not in known:
        raise invalid_parameter_field(offset)
    length = int.from_bytes(descriptor[5:8], "big")
    if length and not drive.model.min_block_length <= length <= drive.model.max_block_length:
        raise invalid_parameter_field(offset + 5)
    drive.block_size = length


def read_block_limits(drive: SimTapeDrive, cmd: Command) -> bytes:
    """SSC-4 7.6 READ BLOCK LIMITS: granularity 0, max and min block length.

    With MLOI set, the maximum logical object identifier (20-byte form) instead.
    """
    cmd.need_cdb_len(6)
    if cmd.cdb[1] & 0x01:
        max_object = (1 << 32) - 1
        return bytes(12) + struct.pack(">Q", max_object)
    model = drive.model
    return (
        bytes([0])
        + model.max_block_length.to_bytes(3, "big")
        + struct.pack(">H", model.min_block_length)
    )


def _density_descriptor(drive: SimTapeDrive, code: str) -> bytes:
    media = MEDIA_TYPES[code]
    writable = code in drive.model.writes
    flags = (WRTOK if writable else 0) | (
        DEFLT if media.generation == drive.model.generation else 0
    )
    name = f"U-{media.generation}{'16' if media.generation < 7 else '32'}"
    description = f"Ultrium {media.generation} {'WORM' if media.worm else 'Data'}"
    return (
        bytes([media.density_code, media.density_code, flags, 0, 0])
        + (0).to_bytes(3, "big")  # bits per mm: not modelled
        + struct.pack(">HHI", 127, 0, media.native_capacity // 1_000_000)
        + b"LTO-CVE ".ljust(8)
        + name.encode().ljust(8)
        + description.encode().ljust(20)
    )


def report_density_support(drive: SimTapeDrive, cmd: Command) -> bytes:
    """SSC-4 7.7 REPORT DENSITY SUPPORT (density codes; MEDIA=1: the mounted medium's)."""
    cmd.need_cdb_len(10)
    media_only = bool(cmd.cdb[1] & 0x01)
    if cmd.cdb[1] & 0x02:  # MEDIUM TYPE reports are not supported
        raise invalid_cdb_field(1, 1)
    if media_only:
        drive.ready_check()
        assert drive.cartridge is not None
        codes = [drive.cartridge.media_type.code]
    else:
        seen: dict[int, str] = {}
        for code in sorted(drive.model.reads):
            seen.setdefault(MEDIA_TYPES[code].density_code, code)
        codes = [seen[d] for d in sorted(seen)]
    body = b"".join(_density_descriptor(drive, code) for code in codes)
    return Command.fit(struct.pack(">HH", len(body) + 2, 0) + body, cmd.u16(7))
