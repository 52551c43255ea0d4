"""LOG SENSE pages of the tape drive and its TapeAlert flags.

Pages (SPC-4 6.8 LOG SENSE; page 0x00 comes from ``hwsim.spc``):
- 0x0C sequential-access device (SSC-4 8.2.3): bytes from/to the initiator and to/from the
  medium, native capacities (in units of 10^6 bytes) and "cleaning action required";
- 0x2E TapeAlert (SSC-4 8.2.4): 64 one-byte flag parameters 0x0001..0x0040; reading the
  page clears the flags whose cause is gone (SSC-4 4.2.18);
- 0x31 tape capacity (LTO vendor-common): remaining and maximum capacity of the main and
  alternate partitions, in MiB.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from hwsim.spc import log_parameter

if TYPE_CHECKING:
    from hwsim.ssc import SimTapeDrive

PAGE_SEQUENTIAL_ACCESS = 0x0C
PAGE_TAPEALERT = 0x2E
PAGE_TAPE_CAPACITY = 0x31
TAPEALERT_FLAGS = 64
MB = 1_000_000
MIB = 1 << 20

# TapeAlert flag numbers (SSC-4 annex A / TapeAlert specification)
TA_READ_FAILURE = 0x05
TA_WRITE_FAILURE = 0x06
TA_WRITE_PROTECT = 0x09
TA_NO_REMOVAL = 0x0A
TA_CLEANING_MEDIA = 0x0B
TA_UNSUPPORTED_FORMAT = 0x0C
TA_READ_ONLY_FORMAT = 0x11
TA_CLEAN_NOW = 0x14
TA_CLEAN_PERIODIC = 0x15
TA_EXPIRED_CLEANING_MEDIA = 0x16
TA_HARDWARE_A = 0x1E
TA_DIRECTORY_INVALID_AT_UNLOAD = 0x32
TA_WORM_OVERWRITE_ATTEMPTED = 0x3B

# LOG parameter control bytes (SPC-4 7.3.2.2.2): binary counters / bounded data list
_COUNTER = 0x02
_LIST = 0x03


class TapeAlert:
    """The set TapeAlert flags (1..64)."""

    def __init__(self, flags: set[int] | None = None) -> None:
        self._flags: set[int] = set(flags or ())

    def set(self, flag: int) -> None:
        if not 1 <= flag <= TAPEALERT_FLAGS:
            raise ValueError(f"TapeAlert flag {flag} outside 1..64")
        self._flags.add(flag)

    def clear(self, *flags: int) -> None:
        self._flags.difference_update(flags)

    def active(self) -> list[int]:
        return sorted(self._flags)

    def is_set(self, flag: int) -> bool:
        return flag in self._flags

    def as_u64(self) -> int:
        """Flag 1 in the most significant bit (MAM attribute 0x0002, SSC-4 table)."""
        return sum(1 << (TAPEALERT_FLAGS - f) for f in self._flags)


@dataclass
class SequentialCounters:
    """Cumulative byte counters of page 0x0C (reset by LOG SELECT PCR)."""

    from_initiator: int = 0
    to_medium: int = 0
    from_medium: int = 0
    to_initiator: int = 0

    def to_state(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_state(cls, raw: Mapping[str, Any]) -> SequentialCounters:
        return cls(**{k: int(v) for k, v in raw.items() if k in cls.__dataclass_fields__})


def _u64(value: int) -> bytes:
    return struct.pack(">Q", max(0, value))


def _u32(value: int) -> bytes:
    return struct.pack(">I", min(max(0, value), 0xFFFF_FFFF))


def _sequential_access(drive: SimTapeDrive) -> bytes:
    stats = drive.stats
    cart = drive.cartridge
    medium = cart.medium if cart else None
    eod = medium.data_end if medium else 0
    here = medium.start(min(drive.position, medium.count)) if medium else 0
    params = [
        log_parameter(0x0000, _u64(stats.from_initiator), _COUNTER),
        log_parameter(0x0001, _u64(stats.to_medium), _COUNTER),
        log_parameter(0x0002, _u64(stats.from_medium), _COUNTER),
        log_parameter(0x0003, _u64(stats.to_initiator), _COUNTER),
    ]
    if cart is not None:
        params += [
            log_parameter(0x0004, _u32(eod // MB), _COUNTER),
            log_parameter(0x0005, _u32(cart.early_warning_at // MB), _COUNTER),
            log_parameter(0x0006, _u32(cart.early_warning_bytes // MB), _COUNTER),
            log_parameter(0x0007, _u32(here // MB), _COUNTER),
        ]
    params.append(log_parameter(0x0008, _u32(drive.model.buffer_bytes // MB), _COUNTER))
    params.append(log_parameter(0x0100, bytes([int(drive.cleaning_needed)]), _COUNTER))
    return b"".join(params)


def _persisting_flags(drive: SimTapeDrive) -> set[int]:
    """Flags whose cause is still present: reading the page does not clear them."""
    keep = set()
    if drive.cleaning_needed:
        keep.add(TA_CLEAN_NOW)
    if drive.cartridge is not None and drive.cartridge.write_protected:
        keep.add(TA_WRITE_PROTECT)
    return keep & set(drive.tapealert.active())


def _tapealert(drive: SimTapeDrive) -> bytes:
    active = set(drive.tapealert.active())
    body = b"".join(
        log_parameter(flag, bytes([int(flag in active)]), _LIST)
        for flag in range(1, TAPEALERT_FLAGS + 1)
    )
    drive.tapealert = TapeAlert(_persisting_flags(drive))
    return body


def _tape_capacity(drive: SimTapeDrive) -> bytes:
    cart = drive.cartridge
    medium = cart.medium if cart else None
    maximum = cart.capacity if cart else 0
    remaining = maximum - (medium.data_end if medium else 0)
    return b"".join(
        [
            log_parameter(0x0001, _u32(remaining // MIB), _COUNTER),
            log_parameter(0x0002, _u32(0), _COUNTER),
            log_parameter(0x0003, _u32(maximum // MIB), _COUNTER),
            log_parameter(0x0004, _u32(0), _COUNTER),
        ]
    )


def log_pages(drive: SimTapeDrive) -> Mapping[int, Callable[[], bytes]]:
    return {
        PAGE_SEQUENTIAL_ACCESS: lambda: _sequential_access(drive),
        PAGE_TAPEALERT: lambda: _tapealert(drive),
        PAGE_TAPE_CAPACITY: lambda: _tape_capacity(drive),
    }
