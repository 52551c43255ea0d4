"""Positioning: REWIND, SPACE(6/16), LOCATE(10/16), READ POSITION, LOAD UNLOAD.

Positions are SSC-4 logical object identifiers: records and filemarks both count, object 0
is at beginning of partition (BOP), end of data (EOD) is ``medium.count``. Every
repositioning first flushes the drive buffer. SPACE residues are signed: requested count
minus objects actually spaced, negative when spacing toward BOP (SSC-4 6.6).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hwsim.check import CheckCondition, Condition, invalid_cdb_field
from hwsim.device import Command

if TYPE_CHECKING:
    from hwsim.media import TapeMedium
    from hwsim.ssc import SimTapeDrive

SPACE_BLOCKS = 0
SPACE_FILEMARKS = 1
SPACE_END_OF_DATA = 3
LOCATE_CP = 0x02
DEST_OBJECT, DEST_FILE, DEST_EOD = 0, 1, 3
LOAD, RETEN, EOT, HOLD = 0x01, 0x02, 0x04, 0x08
RP_SHORT, RP_SHORT_VENDOR, RP_LONG, RP_EXTENDED = 0x00, 0x01, 0x06, 0x08
BOP, EOP, BPEW = 0x80, 0x40, 0x01
LONU = 0x04  # long form: logical object number unknown (never: hwsim always knows)


def _medium(drive: SimTapeDrive) -> TapeMedium:
    assert drive.cartridge is not None and drive.cartridge.medium is not None
    return drive.cartridge.medium


def _move(drive: SimTapeDrive, medium: TapeMedium, target: int) -> None:
    """Flush, account the wind and set the position."""
    drive.flush()
    here = medium.start(min(drive.position, medium.count))
    there = medium.start(min(target, medium.count))
    if here != there:
        drive.speed.wind(abs(there - here), drive.capacity)
    drive.position = target


def _end_of_data(medium: TapeMedium, residue: int | None) -> CheckCondition:
    if medium.eod_invalid:
        return CheckCondition(Condition.END_OF_DATA_NOT_FOUND, information=residue)
    return CheckCondition(Condition.END_OF_DATA_DETECTED, information=residue)


def rewind(drive: SimTapeDrive, cmd: Command) -> None:
    """SSC-4 7.5 REWIND (IMMED accepted; completion is immediate anyway)."""
    drive.rewind()


def _space_blocks(drive: SimTapeDrive, medium: TapeMedium, count: int) -> None:
    pos = drive.position
    if count > 0:
        mark = medium.next_filemark(pos)
        if mark is not None and mark < min(pos + count, medium.count):
            _move(drive, medium, mark + 1)
            raise CheckCondition(
                Condition.FILEMARK_DETECTED, filemark=True, information=count - (mark - pos)
            )
        if pos + count > medium.count:
            _move(drive, medium, medium.count)
            raise _end_of_data(medium, count - (medium.count - pos))
        _move(drive, medium, pos + count)
        return
    back = -count
    mark = medium.previous_filemark(pos)
    if mark is not None and mark >= pos - back:
        _move(drive, medium, mark)
        raise CheckCondition(
            Condition.FILEMARK_DETECTED, filemark=True, information=-(back - (pos - mark - 1))
        )
    if pos - back < 0:
        _move(drive, medium, 0)
        raise CheckCondition(
            Condition.BEGINNING_OF_PARTITION_MEDIUM_DETECTED, eom=True, information=-(back - pos)
        )
    _move(drive, medium, pos - back)


def _space_filemarks(drive: SimTapeDrive, medium: TapeMedium, count: int) -> None:
    pos = drive.position
    before = medium.filemarks_before(pos)
    marks = medium.filemarks
    if count > 0:
        if before + count <= len(marks):
            _move(drive, medium, marks[before + count - 1] + 1)
            return
        _move(drive, medium, medium.count)
        raise _end_of_data(medium, count - (len(marks) - before))
    back = -count
    if before >= back:
        _move(drive, medium, marks[before - back])
        return
    _move(drive, medium, 0)
    raise CheckCondition(
        Condition.BEGINNING_OF_PARTITION_MEDIUM_DETECTED, eom=True, information=-(back - before)
    )


def _space(drive: SimTapeDrive, code: int, count: int, code_byte: int) -> None:
    medium = _medium(drive)
    drive.position = min(drive.position, medium.count)
    if code == SPACE_END_OF_DATA:
        if medium.eod_invalid:
            raise CheckCondition(Condition.END_OF_DATA_NOT_FOUND)
        _move(drive, medium, medium.count)
        return
    if code not in (SPACE_BLOCKS, SPACE_FILEMARKS):
        raise invalid_cdb_field(code_byte, 3)
    if count == 0:
        return
    if code == SPACE_BLOCKS:
        _space_blocks(drive, medium, count)
    else:
        _space_filemarks(drive, medium, count)


def space_6(drive: SimTapeDrive, cmd: Command) -> None:
    """SSC-4 6.6 SPACE(6): 24-bit signed count."""
    cmd.need_cdb_len(6)
    raw = cmd.u24(2)
    count = raw - (1 << 24) if raw & 0x80_0000 else raw
    _space(drive, cmd.cdb[1] & 0x0F, count, 1)


def space_16(drive: SimTapeDrive, cmd: Command) -> None:
    """SSC-4 7.9 SPACE(16): 64-bit signed count, no parameter data."""
    cmd.need_cdb_len(16)
    if cmd.u16(12):
        raise invalid_cdb_field(12)
    count = struct.unpack(">q", cmd.cdb[4:12])[0]
    _space(drive, cmd.cdb[1] & 0x0F, count, 1)


def _locate(drive: SimTapeDrive, target: int) -> None:
    medium = _medium(drive)
    if target > medium.count:
        _move(drive, medium, medium.count)
        raise _end_of_data(medium, None)
    _move(drive, medium, target)


def _check_partition(cmd: Command, change: bool, partition: int, byte: int) -> None:
    if change and partition != 0:  # one partition per cartridge
        raise invalid_cdb_field(byte)


def locate_10(drive: SimTapeDrive, cmd: Command) -> None:
    """SSC-4 6.3 LOCATE(10): BT (device block address == logical), CP, block address."""
    cmd.need_cdb_len(10)
    _check_partition(cmd, bool(cmd.cdb[1] & LOCATE_CP), cmd.cdb[8], 8)
    _locate(drive, cmd.u32(3))


def locate_16(drive: SimTapeDrive, cmd: Command) -> None:
    """SSC-4 7.4 LOCATE(16): logical object, logical file (after its filemark) or EOD."""
    cmd.need_cdb_len(16)
    _check_partition(cmd, bool(cmd.cdb[1] & LOCATE_CP), cmd.cdb[3], 3)
    dest = (cmd.cdb[1] >> 3) & 0x07
    target = cmd.u64(4)
    medium = _medium(drive)
    if dest == DEST_OBJECT:
        _locate(drive, target)
    elif dest == DEST_FILE:
        if target == 0:
            _locate(drive, 0)
        elif target > len(medium.filemarks):
            _locate(drive, medium.count + 1)
        else:
            _locate(drive, medium.filemarks[target - 1] + 1)
    elif dest == DEST_EOD:
        if medium.eod_invalid:
            raise CheckCondition(Condition.END_OF_DATA_NOT_FOUND)
        _locate(drive, medium.count)
    else:
        raise invalid_cdb_field(1, 5)


def _flags(drive: SimTapeDrive, medium: TapeMedium) -> int:
    pos = min(drive.position, medium.count)
    cart = drive.cartridge
    assert cart is not None
    offset = medium.start(pos)
    flags = BOP if pos == 0 else 0
    if offset >= cart.capacity:
        flags |= EOP
    if offset > cart.early_warning_at:
        flags |= BPEW
    return flags


def read_position(drive: SimTapeDrive, cmd: Command) -> bytes:
    """SSC-4 7.3 READ POSITION: short (00/01), long (06) and extended (08) forms.

    "Last" location is the next object the buffer will write to tape: the first unflushed
    one when data is buffered, else the current position.
    """
    cmd.need_cdb_len(10)
    action = cmd.cdb[1] & 0x1F
    medium = _medium(drive)
    pos = drive.position
    last = medium.flushed if medium.buffered_objects else pos
    objects, nbytes = medium.buffered_objects, medium.buffered_bytes
    flags = _flags(drive, medium)
    if action in (RP_SHORT, RP_SHORT_VENDOR):
        return (
            struct.pack(">BBxxIIx", flags, 0, pos, last)
            + min(objects, 0xFF_FFFF).to_bytes(3, "big")
            + struct.pack(">I", min(nbytes, 0xFFFF_FFFF))
        )
    if action == RP_LONG:
        files = medium.filemarks_before(pos)
        data = struct.pack(">BxxxIQQQ", flags & (BOP | EOP | BPEW), 0, pos, files, 0)
        return Command.fit(data, cmd.u16(7))
    if action == RP_EXTENDED:
        data = (
            struct.pack(">BBHx", flags, 0, 28)
            + min(objects, 0xFF_FFFF).to_bytes(3, "big")
            + struct.pack(">QQQ", pos, last, nbytes)
        )
        return Command.fit(data, cmd.u16(7))
    raise invalid_cdb_field(1, 4)


def load_unload(drive: SimTapeDrive, cmd: Command) -> None:
    """SSC-4 7.2 LOAD UNLOAD: load (and rewind), or flush, rewind and unload for removal."""
    from hwsim.ssc import LoadState

    cmd.need_cdb_len(6)
    byte = cmd.cdb[4]
    if drive.cartridge is None:
        raise CheckCondition(Condition.MEDIUM_NOT_PRESENT)
    if byte & LOAD and byte & EOT:
        raise invalid_cdb_field(4, 2)
    if drive.state in (LoadState.LOADING, LoadState.CLEANING, LoadState.REFUSED):
        drive.ready_check()
    if byte & LOAD:
        if drive.state is LoadState.UNLOADED:
            drive.load()
        else:
            drive.rewind()
        return
    if drive.prevent_removal:
        raise CheckCondition(Condition.MEDIUM_REMOVAL_PREVENTED)
    if drive.state is LoadState.UNLOADED:
        return
    if drive.faults.stuck(drive.name):
        raise CheckCondition(Condition.MEDIA_LOAD_OR_EJECT_FAILED)
    drive.unload()
