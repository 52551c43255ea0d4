"""Values the SSC driver returns, and decoders for SSC-4 parameter data.

Results of READ/WRITE/SPACE carry the normal tape conditions (filemark, end of data,
early warning, ILI residue) as fields instead of exceptions (SSC-4 4.2.5: these are how a
tape drive reports where it is, not failures). TapeAlert flags: drivers/tapealert.py.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from drivers.spc_data import LogPage

# --- READ / WRITE / SPACE results ---------------------------------------------------------------


class ReadKind(enum.Enum):
    """What ended a READ (SSC-4 4.2.5 / 6.4)."""

    DATA = "data"  # record(s) transferred; ``residue`` may be non-zero (ILI)
    FILEMARK = "filemark"  # a filemark was read; position is after it
    END_OF_DATA = "end_of_data"  # BLANK CHECK 00/05: nothing recorded here
    END_OF_MEDIUM = "end_of_medium"  # physical end reached while reading


@dataclass(frozen=True, slots=True)
class ReadResult:
    """One READ(6).

    ``data`` holds what was transferred. ``residue`` is the signed INFORMATION field:
    requested minus actual, in bytes (variable mode) or blocks (fixed mode); negative when
    the record on tape was longer than requested (``overlength``: the data was cut).
    ``record_length`` is the length of the record on tape when known (variable mode).
    ``ili`` marks an incorrect-length block; ``cleaning_requested`` rides on the command
    (NO SENSE 00/17).
    """

    kind: ReadKind
    data: bytes
    residue: int = 0
    ili: bool = False
    record_length: int | None = None
    cleaning_requested: bool = False

    @property
    def overlength(self) -> bool:
        return self.residue < 0


@dataclass(frozen=True, slots=True)
class WriteResult:
    """One WRITE(6) or WRITE FILEMARKS(6) that was accepted.

    ``early_warning``: the write went past the early-warning point (NO SENSE, EOM, 00/02);
    the data *was* written, and the host should finish the session and change cartridges.
    ``residue``: INFORMATION with the early warning (0 when everything was written).
    """

    early_warning: bool = False
    residue: int = 0
    cleaning_requested: bool = False


class SpaceCode(enum.IntEnum):
    """SSC-4 table 41 SPACE codes hwsim and LTO drives support."""

    BLOCKS = 0
    FILEMARKS = 1
    END_OF_DATA = 3


class SpaceStop(enum.Enum):
    COMPLETED = "completed"
    FILEMARK = "filemark"  # spacing over blocks stopped after a filemark
    END_OF_DATA = "end_of_data"
    BEGINNING_OF_PARTITION = "beginning_of_partition"


@dataclass(frozen=True, slots=True)
class SpaceResult:
    """``residue``: count requested minus spaced (signed, negative when spacing back)."""

    stop: SpaceStop
    residue: int = 0


class LocateDest(enum.IntEnum):
    """SSC-4 7.4 LOCATE(16) DEST_TYPE."""

    OBJECT = 0
    FILE = 1
    END_OF_DATA = 3


# --- READ POSITION (SSC-4 7.3) ----------------------------------------------------------------

BOP, EOP, BPEW, LONU = 0x80, 0x40, 0x01, 0x04
SHORT_POSITION_LEN = 20
LONG_POSITION_LEN = 32


@dataclass(frozen=True, slots=True)
class Position:
    """Short form: first = next object to read/write, last = next object the buffer will
    write to tape; ``buffered_*`` not yet on tape. ``file`` only in the long form."""

    bop: bool
    eop: bool
    early_warning: bool
    partition: int
    first: int
    last: int | None = None
    buffered_objects: int | None = None
    buffered_bytes: int | None = None
    file: int | None = None


def parse_short_position(data: bytes) -> Position:
    data = bytes(data).ljust(SHORT_POSITION_LEN, b"\x00")
    flags, partition = data[0], data[1]
    first, last = struct.unpack_from(">II", data, 4)
    objects = int.from_bytes(data[13:16], "big")
    nbytes = struct.unpack_from(">I", data, 16)[0]
    return Position(
        bool(flags & BOP),
        bool(flags & EOP),
        bool(flags & BPEW),
        partition,
        first,
        last,
        objects,
        nbytes,
    )


def parse_long_position(data: bytes) -> Position:
    data = bytes(data).ljust(LONG_POSITION_LEN, b"\x00")
    flags = data[0]
    partition, obj, file = struct.unpack_from(">IQQ", data, 4)
    return Position(
        bool(flags & BOP), bool(flags & EOP), bool(flags & BPEW), partition, obj, file=file
    )


# --- READ BLOCK LIMITS, REPORT DENSITY SUPPORT --------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockLimits:
    """SSC-4 7.6: granularity (2**g), maximum and minimum block length in bytes."""

    granularity: int
    max_block_length: int
    min_block_length: int


def parse_block_limits(data: bytes) -> BlockLimits:
    data = bytes(data).ljust(6, b"\x00")
    return BlockLimits(
        data[0] & 0x1F, int.from_bytes(data[1:4], "big"), struct.unpack(">H", data[4:6])[0]
    )


WRTOK, DUP, DEFLT = 0x80, 0x40, 0x20
DENSITY_DESCRIPTOR_LEN = 52


@dataclass(frozen=True, slots=True)
class DensityDescriptor:
    """SSC-4 8.4.2 density support descriptor (capacity in 10^6 bytes)."""

    primary_code: int
    secondary_code: int
    writable: bool
    duplicate: bool
    default: bool
    bits_per_mm: int
    media_width: int
    tracks: int
    capacity_mb: int
    assigning_organization: str
    name: str
    description: str


def parse_density_support(data: bytes) -> list[DensityDescriptor]:
    data = bytes(data)
    end = min(len(data), 2 + int.from_bytes(data[0:2], "big")) if len(data) >= 4 else 0
    out = []
    for at in range(4, end - DENSITY_DESCRIPTOR_LEN + 1, DENSITY_DESCRIPTOR_LEN):
        d = data[at : at + DENSITY_DESCRIPTOR_LEN]
        width, tracks, capacity = struct.unpack_from(">HHI", d, 8)
        out.append(
            DensityDescriptor(
                d[0],
                d[1],
                bool(d[2] & WRTOK),
                bool(d[2] & DUP),
                bool(d[2] & DEFLT),
                int.from_bytes(d[5:8], "big"),
                width,
                tracks,
                capacity,
                d[16:24].decode("ascii", "replace").strip(),
                d[24:32].decode("ascii", "replace").strip(),
                d[32:52].decode("ascii", "replace").strip(),
            )
        )
    return out


# --- mode pages 0x0F and 0x10 (SSC-4 8.3.2, 8.3.3) ----------------------------------------------

PAGE_DATA_COMPRESSION = 0x0F
PAGE_DEVICE_CONFIGURATION = 0x10
DCE, DCC, DDE = 0x80, 0x40, 0x80
WP = 0x80
BUFFERED_MODE_SHIFT = 4
SEW = 0x08
EOD_DEFINED_SHIFT = 5


@dataclass(frozen=True, slots=True)
class Compression:
    """Data compression page: enabled (DCE), capable (DCC), decompression enabled (DDE)."""

    enabled: bool
    capable: bool
    decompression: bool
    algorithm: int


def parse_compression(page_body: bytes) -> Compression:
    body = bytes(page_body).ljust(14, b"\x00")
    return Compression(
        bool(body[0] & DCE),
        bool(body[0] & DCC),
        bool(body[1] & DDE),
        struct.unpack_from(">I", body, 2)[0],
    )


@dataclass(frozen=True, slots=True)
class DeviceConfiguration:
    """Device configuration page: active partition, write delay (100 ms units), EOD
    defined, SEW (synchronise at early warning), selected compression algorithm."""

    active_partition: int
    write_delay_time: int
    eod_defined: int
    sync_at_early_warning: bool
    compression_algorithm: int


def parse_device_configuration(page_body: bytes) -> DeviceConfiguration:
    body = bytes(page_body).ljust(14, b"\x00")
    return DeviceConfiguration(
        body[1],
        struct.unpack_from(">H", body, 4)[0],
        body[8] >> EOD_DEFINED_SHIFT,
        bool(body[8] & SEW),
        body[12],
    )


# --- LOG pages: sequential access 0x0C, tape capacity 0x31 (TapeAlert: drivers/tapealert.py)

PAGE_SEQUENTIAL_ACCESS = 0x0C
PAGE_TAPEALERT = 0x2E
PAGE_TAPE_CAPACITY = 0x31


@dataclass(frozen=True, slots=True)
class SequentialAccessCounters:
    """SSC-4 8.2.3 page 0x0C: byte counters since the last reset, cleaning required."""

    from_initiator: int
    to_medium: int
    from_medium: int
    to_initiator: int
    cleaning_required: bool


def parse_sequential_access(page: LogPage) -> SequentialAccessCounters:
    def v(code: int) -> int:
        return page.int_value(code, 0) or 0

    return SequentialAccessCounters(v(0x0000), v(0x0001), v(0x0002), v(0x0003), bool(v(0x0100)))


@dataclass(frozen=True, slots=True)
class TapeCapacity:
    """Page 0x31 (LTO): remaining and maximum capacity of partitions 0 and 1, in MiB."""

    remaining: int
    remaining_partition1: int
    maximum: int
    maximum_partition1: int


def parse_tape_capacity(page: LogPage) -> TapeCapacity:
    def v(code: int) -> int:
        return page.int_value(code, 0) or 0

    return TapeCapacity(v(1), v(2), v(3), v(4))


# --- MODE SENSE summary and cartridge memory ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class TapeMode:
    """MODE SENSE header and block descriptor: the drive's state for the loaded cartridge."""

    density_code: int
    block_size: int  # 0: variable-block mode
    write_protected: bool
    worm: bool
    buffered_mode: int


@dataclass(frozen=True, slots=True)
class CartridgeMemory:
    """The MAM attributes a backup host looks at (SPC-4 7.4.2)."""

    barcode: str | None
    medium_serial: str | None
    load_count: int | None
    user_label: str | None
    last_written: str | None
    remaining_mib: int | None
    maximum_mib: int | None
