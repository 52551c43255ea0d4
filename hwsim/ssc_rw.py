"""READ(6), WRITE(6), WRITE FILEMARKS(6) and ERASE(6): moving data to and from the tape.

Residues follow SSC-4 4.2.x: in variable-block mode INFORMATION counts bytes, in fixed-block
mode it counts blocks; a record longer than requested gives a negative residue. Writes are
buffered (SSC-4 4.2.10): GOOD means "in the drive buffer"; WRITE FILEMARKS flushes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hwsim import tape_logs
from hwsim.check import CheckCondition, Condition, invalid_cdb_field
from hwsim.device import Command

if TYPE_CHECKING:
    from hwsim.cartridge import Cartridge
    from hwsim.media import TapeMedium
    from hwsim.ssc import SimTapeDrive

FIXED = 0x01
SILI = 0x02
IMMED = 0x01
WSMK = 0x02
ERASE_LONG = 0x01


def _loaded(drive: SimTapeDrive) -> tuple[Cartridge, TapeMedium]:
    cart = drive.cartridge
    assert cart is not None and cart.medium is not None  # ready_check ran
    return cart, cart.medium


def _transfer(cmd: Command, drive: SimTapeDrive) -> tuple[bool, int, int]:
    """(fixed, count, bytes per transfer unit) from a READ/WRITE(6) CDB."""
    cmd.need_cdb_len(6)
    fixed = bool(cmd.cdb[1] & FIXED)
    count = cmd.u24(2)
    if fixed and drive.block_size == 0:
        raise invalid_cdb_field(1, 0)
    if not fixed and count > drive.model.max_block_length:
        raise invalid_cdb_field(2)
    return fixed, count, drive.block_size if fixed else count


def check_writable(drive: SimTapeDrive, cart: Cartridge, medium: TapeMedium) -> None:
    """Refuse a write/erase at the current position (SSC-4 4.2.13, 4.2.17, 4.2.21)."""
    if cart.write_protected:
        drive.tapealert.set(tape_logs.TA_WRITE_PROTECT)
        raise CheckCondition(Condition.WRITE_PROTECTED)
    if cart.media_type.code not in drive.model.writes:
        drive.tapealert.set(tape_logs.TA_READ_ONLY_FORMAT)
        raise CheckCondition(Condition.CANNOT_WRITE_INCOMPATIBLE_FORMAT)
    if medium.eod_invalid and drive.position != 0:
        raise CheckCondition(Condition.END_OF_DATA_NOT_FOUND)
    if cart.worm and not medium.only_filemarks_from(min(drive.position, medium.count)):
        drive.tapealert.set(tape_logs.TA_WORM_OVERWRITE_ATTEMPTED)
        raise CheckCondition(Condition.WORM_MEDIUM_OVERWRITE_ATTEMPTED)


def _mark_written(drive: SimTapeDrive, cart: Cartridge, nbytes: int) -> None:
    cart.mam.bytes_written += nbytes
    cart.mam.bytes_written_last_load += nbytes
    drive.stats.from_initiator += nbytes
    drive.stats.to_medium += nbytes
    drive.bytes_since_clean += nbytes
    drive.speed.write(nbytes)
    for action in drive.faults.on_bytes_written(drive.name, drive.bytes_since_clean):
        if action.kind == "cleaning_required":
            drive.request_cleaning()


def _write_blocks(
    drive: SimTapeDrive, cart: Cartridge, medium: TapeMedium, data: memoryview, unit: int
) -> None:
    """Whole blocks at the current position with one write to the medium; the caller has
    checked each for faults and room."""
    medium.append_records(drive.position, data, unit)
    drive.position += -(-len(data) // unit)
    _mark_written(drive, cart, len(data))
    if medium.buffered_bytes > drive.model.buffer_bytes:
        drive.flush()


def write_6(drive: SimTapeDrive, cmd: Command) -> None:
    """SSC-4 6.9 WRITE(6): early warning -> NO SENSE EOM 00/02; no room -> VOLUME OVERFLOW."""
    fixed, count, unit = _transfer(cmd, drive)
    if count == 0:
        return
    cart, medium = _loaded(drive)
    check_writable(drive, cart, medium)
    total = count * unit if fixed else count
    if len(cmd.data_out) < total:
        raise CheckCondition(Condition.PARAMETER_LIST_LENGTH_ERROR)
    blocks = count if fixed else 1
    data = memoryview(cmd.data_out)[:total]
    ready = 0
    """Blocks checked and not yet written: they go to the medium in one write, before any
    fault of a later block acts and before a condition is raised."""
    for i in range(blocks):
        residue = blocks - i if fixed else count
        try:
            start = medium.start(min(drive.position, medium.count)) + ready * unit
            if start + unit > cart.capacity:
                raise CheckCondition(Condition.PHYSICAL_END_OF_MEDIUM, eom=True)
            actions = drive.faults.on_block(
                drive.name, cart.barcode, "write", drive.position + ready
            )
            if actions:
                if ready:
                    _write_blocks(drive, cart, medium, data[: ready * unit], unit)
                    data, ready = data[ready * unit :], 0
                for action in actions:
                    if action.kind == "medium_error":
                        drive.tapealert.set(tape_logs.TA_WRITE_FAILURE)
                        raise CheckCondition(Condition.WRITE_ERROR)
                    drive.apply_fault(action)
        except CheckCondition as cc:
            if ready:
                _write_blocks(drive, cart, medium, data[: ready * unit], unit)
            cc.information = residue
            raise
        ready += 1
    _write_blocks(drive, cart, medium, data, unit)
    if medium.data_end > cart.early_warning_at:
        raise CheckCondition(Condition.END_OF_PARTITION_MEDIUM_DETECTED, eom=True, information=0)


def write_filemarks_6(drive: SimTapeDrive, cmd: Command) -> None:
    """SSC-4 6.8 WRITE FILEMARKS(6); a count of 0 only flushes the buffer."""
    cmd.need_cdb_len(6)
    if cmd.cdb[1] & WSMK:
        raise invalid_cdb_field(1, 1)
    count = cmd.u24(2)
    cart, medium = _loaded(drive)
    if count:
        check_writable(drive, cart, medium)
        if medium.start(min(drive.position, medium.count)) >= cart.capacity:
            raise CheckCondition(Condition.PHYSICAL_END_OF_MEDIUM, eom=True, information=count)
        medium.append_filemarks(drive.position, count)
        drive.position += count
        _mark_written(drive, cart, 0)
    drive.flush()
    if count and medium.data_end > cart.early_warning_at:
        raise CheckCondition(Condition.END_OF_PARTITION_MEDIUM_DETECTED, eom=True, information=0)


def erase_6(drive: SimTapeDrive, cmd: Command) -> None:
    """SSC-4 6.2 ERASE(6): end of data at the current position (long: to end of tape too)."""
    cmd.need_cdb_len(6)
    cart, medium = _loaded(drive)
    drive.position = min(drive.position, medium.count)
    check_writable(drive, cart, medium)
    medium.truncate(drive.position)
    drive.flush()
    if cmd.cdb[1] & ERASE_LONG:
        drive.speed.wind(cart.capacity - medium.data_end, cart.capacity)


def _pass_one(drive: SimTapeDrive, cart: Cartridge, medium: TapeMedium, limit: int) -> int:
    """Pass the object at the position (faults, filemark, accounting): its length, of which
    ``min(limit, length)`` bytes go to the initiator. Raises for end of data, errors and
    filemarks; the caller fills ``information`` (its residue unit) into the condition."""
    if drive.position >= medium.count:
        if medium.eod_invalid:
            raise CheckCondition(Condition.END_OF_DATA_NOT_FOUND)
        raise CheckCondition(Condition.END_OF_DATA_DETECTED)
    for action in drive.faults.on_block(drive.name, cart.barcode, "read", drive.position):
        if action.kind == "medium_error":
            drive.tapealert.set(tape_logs.TA_READ_FAILURE)
            raise CheckCondition(Condition.UNRECOVERED_READ_ERROR)
        drive.apply_fault(action)
    if medium.is_filemark(drive.position):
        drive.position += 1
        raise CheckCondition(Condition.FILEMARK_DETECTED, filemark=True)
    moved = medium.length(drive.position)
    drive.position += 1
    drive.speed.read(moved)
    drive.stats.from_medium += moved
    drive.stats.to_initiator += min(limit, moved)
    cart.mam.bytes_read += moved
    cart.mam.bytes_read_last_load += moved
    return moved


def _read_one(drive: SimTapeDrive, cart: Cartridge, medium: TapeMedium, limit: int) -> bytes:
    """Read the object at the position; raises as ``_pass_one``."""
    _pass_one(drive, cart, medium, limit)
    return medium.read(drive.position - 1, limit)


def _read_blocks(
    drive: SimTapeDrive, cart: Cartridge, medium: TapeMedium, count: int, into: memoryview | None
) -> bytes | memoryview:
    """Fixed-block READ of ``count`` blocks: each block checked and accounted on its own (faults,
    filemarks, timing), the data of the blocks passed read with one ``pread`` (blocks lie back
    to back in the medium's data file): a multi-block READ costs one copy, not ``count``."""
    unit = drive.block_size
    first = drive.position
    for i in range(count):
        try:
            length = _pass_one(drive, cart, medium, unit)
        except CheckCondition as cc:
            cc.information = count - i
            cc.data = medium.read_span(first, i, unit, into)
            raise
        if length != unit:
            raise CheckCondition(
                Condition.NO_ADDITIONAL_SENSE,
                ili=True,
                information=count - i,
                data=medium.read_span(first, i + 1, unit, into),
            )
    return medium.read_span(first, count, unit, into)


def read_6(drive: SimTapeDrive, cmd: Command) -> bytes | memoryview | None:
    """SSC-4 6.4 READ(6): fixed or variable, SILI, filemark, end of data and ILI residues."""
    fixed, count, _unit = _transfer(cmd, drive)
    if fixed and cmd.cdb[1] & SILI:
        raise invalid_cdb_field(1, 1)
    if count == 0:
        return None
    cart, medium = _loaded(drive)
    drive.flush()
    if not fixed:
        try:
            data = _read_one(drive, cart, medium, count)
        except CheckCondition as cc:
            cc.information = count
            raise
        length = medium.length(drive.position - 1)
        if length == count or (length < count and cmd.cdb[1] & SILI):
            return data
        raise CheckCondition(
            Condition.NO_ADDITIONAL_SENSE, ili=True, information=count - length, data=data
        )
    return _read_blocks(drive, cart, medium, count, cmd.data_in)
