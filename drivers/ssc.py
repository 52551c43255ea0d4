"""The SSC-4 tape driver: every command hwsim's drive answers, for LTO drives and hwsim alike.

``SscDriver(transport)`` sends CDBs built from drivers/ssc_cdbs.py (and PYSCSI's for the SPC
commands it inherits) and turns answers into values. The sense a tape drive uses to say
where it is (SSC-4 4.2.5) becomes part of the result, not an exception:

  READ           filemark -> ReadResult(kind=FILEMARK); BLANK CHECK 00/05 -> END_OF_DATA;
                 ILI -> DATA with the signed residue (negative: the record was longer)
  WRITE, WFM     NO SENSE + EOM 00/02 -> WriteResult(early_warning=True) (data written)
  SPACE          filemark / end of data / beginning of partition -> SpaceResult
  any command    NO SENSE 00/17 -> the command succeeded; ``cleaning_requested`` is set

Everything else raises the ``ScsiError`` subclass from drivers/errors.py, among them
VolumeOverflow (physical end: the data was NOT written; ``exc.sense.information`` is the
residue), DataProtect (write protect 27/00, WORM 30/0C), MediumError, NotReady (no medium
3A/00, becoming ready 04/01, cleaning cartridge 30/03), UnitAttention (28/00, 29/00),
IllegalRequest and deferred errors of any key. Transport errors pass through.

Threads: one driver per drive; commands serialise in the transport.
"""

from __future__ import annotations

import functools
from dataclasses import replace

from drivers import ssc_cdbs as cdbs
from drivers.errors import BlankCheck, NoSense, ScsiError, SenseError, error_for_result
from drivers.sense import Sense
from drivers.spc import DEFAULT_TIMEOUT_S, SpcDriver
from drivers.spc_data import BlockDescriptor, MamAttribute
from drivers.ssc_data import (
    BUFFERED_MODE_SHIFT,
    LONG_POSITION_LEN,
    PAGE_DATA_COMPRESSION,
    PAGE_DEVICE_CONFIGURATION,
    PAGE_SEQUENTIAL_ACCESS,
    PAGE_TAPE_CAPACITY,
    PAGE_TAPEALERT,
    SHORT_POSITION_LEN,
    WP,
    BlockLimits,
    CartridgeMemory,
    Compression,
    DensityDescriptor,
    DeviceConfiguration,
    LocateDest,
    Position,
    ReadKind,
    ReadResult,
    SequentialAccessCounters,
    SpaceCode,
    SpaceResult,
    SpaceStop,
    TapeCapacity,
    TapeMode,
    WriteResult,
    parse_block_limits,
    parse_compression,
    parse_density_support,
    parse_device_configuration,
    parse_long_position,
    parse_sequential_access,
    parse_short_position,
    parse_tape_capacity,
)
from drivers.tapealert import TapeAlerts, parse_tapealert
from drivers.transport.contract import ScsiStatus, Transport

MOTION_TIMEOUT_S = 1800.0  # rewind, locate, space, load: a full LTO wind plus retries
READ_WRITE_TIMEOUT_S = 900.0  # a read may retry a block many times before giving up
ERASE_LONG_TIMEOUT_S = 6 * 3600.0  # a long erase writes the whole tape (hours on LTO-9)
ASC_NONE, ASCQ_CLEANING_REQUESTED, ASCQ_BOP = 0x00, 0x17, 0x04
SPACE_6_RANGE = range(-(1 << 23), 1 << 23)
MAX_TRANSFER_6 = (1 << 24) - 1
DENSITY_NO_CHANGE = 0x7F
_GOOD = int(ScsiStatus.GOOD)
_READ_CDBS: dict[tuple[bool, int], bytes] = {}  # READ(6) variable CDBs by (sili, length)
_READ_FIXED_CDBS: dict[int, bytes] = {}  # READ(6) fixed CDBs by block count
MEDIUM_TYPE_WORM = 0x01
DENSITY_SUPPORT_LEN = 0xFFFF
BLOCK_LIMITS_LEN = 6


def _is_cleaning_notice(sense: Sense) -> bool:
    return sense.asc == ASC_NONE and sense.ascq == ASCQ_CLEANING_REQUESTED


def _plain_no_sense(sense: Sense) -> bool:
    """NO SENSE without filemark, EOM or ILI: the command completed (maybe a notice)."""
    return not (sense.filemark or sense.eom or sense.ili)


@functools.lru_cache(maxsize=64)
def _write_cdb(length: int) -> bytes:
    """WRITE(6) variable of ``length`` bytes: a backup sends the same one per record, so it
    is encoded once (the layout encoder costs more than the rest of the driver's path)."""
    return cdbs.WRITE_6.encode(transfer_length=length)


@functools.lru_cache(maxsize=64)
def _fixed_write_cdb(blocks: int) -> bytes:
    """WRITE(6) fixed of ``blocks`` blocks: a backup's write stage sends the same few counts
    (a whole group of records, or the part of one before a checkpoint), as ``_write_cdb``."""
    return cdbs.WRITE_6.encode(fixed=True, transfer_length=blocks)


class SscDriver(SpcDriver):
    """A sequential-access device (tape drive). ``cleaning_requested`` is sticky: the
    caller resets it after acting on it."""

    def __init__(self, transport: Transport, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(transport, timeout_s=timeout_s)
        self.cleaning_requested = False

    def command_name(self, cdb: bytes) -> str:
        """LOCATE(10) for 2Bh (a changer's POSITION TO ELEMENT shares the opcode)."""
        for layout in cdbs.LAYOUTS:
            if cdb and cdb[0] == layout.opcode:
                return layout.name
        return super().command_name(cdb)

    def _run(
        self,
        cdb: bytes,
        *,
        data_out: bytes | memoryview | None = None,
        data_in_len: int = 0,
        timeout_s: float | None = None,
        data_in: memoryview | None = None,
    ) -> tuple[bytes | memoryview, SenseError | None]:
        """Send; return (data, None) on GOOD or the sense error for the caller to judge.
        With ``data_in`` the data is a view of that buffer (read into it, no copy kept).

        Statuses without sense, unreadable sense and deferred errors raise here.
        """
        result = self.send(
            cdb, data_out=data_out, data_in_len=data_in_len, timeout_s=timeout_s, data_in=data_in
        )
        data = result.data
        if data_in is not None and not (isinstance(data, memoryview) and data.obj is data_in.obj):
            got = len(data)  # a transport with its own buffer: copied into the caller's
            data_in[:got] = data
            result = replace(result, data=data_in[:got])
        # the per-record path: nothing to build or name when the status is GOOD (issue 4, 5)
        if result.status == _GOOD or error_for_result(result, self.name, cdb) is None:
            return (result.data if data_in is not None else bytes(result.data)), None
        error = error_for_result(result, self.name, cdb, command=self.command_name(cdb))
        assert error is not None
        if not isinstance(error, SenseError) or error.sense.deferred:
            raise error
        return (result.data if data_in is not None else bytes(result.data)), error

    def _completed(self, error: ScsiError | None) -> bool:
        """True when the command completed: GOOD, or NO SENSE carrying only a notice."""
        if error is None:
            return True
        if isinstance(error, NoSense) and _plain_no_sense(error.sense):
            if _is_cleaning_notice(error.sense):
                self.cleaning_requested = True
            return True
        return False

    def command(
        self,
        cdb: bytes,
        *,
        data_out: bytes | memoryview | None = None,
        data_in_len: int = 0,
        timeout_s: float | None = None,
        name: str | None = None,
    ) -> bytes:
        """As ``SpcDriver.command``, but a cleaning request riding on GOOD data is noted."""
        data, error = self._run(
            cdb, data_out=data_out, data_in_len=data_in_len, timeout_s=timeout_s
        )
        if not self._completed(error):
            assert error is not None
            raise error
        return data

    # --- data: READ(6), WRITE(6), WRITE FILEMARKS(6) -------------------------------------------

    def read(self, length: int, *, sili: bool = False) -> ReadResult:
        """SSC-4 6.4 READ(6) of one variable-length record of at most ``length`` bytes.

        ``sili``: suppress the ILI report for a record shorter than ``length``.
        """
        cdb = _READ_CDBS.get((sili, length))
        if cdb is None:  # one encoding per (sili, length): a restore reads one size throughout
            cdb = _READ_CDBS[(sili, length)] = cdbs.READ_6.encode(sili=sili, transfer_length=length)
        return self._read(cdb, length, fixed=False)

    def read_fixed(
        self, blocks: int, block_size: int, into: memoryview | None = None
    ) -> ReadResult:
        """SSC-4 6.4 READ(6) of ``blocks`` fixed blocks (the drive must be in fixed mode).
        ``into``: a buffer of at least ``blocks * block_size`` bytes to read into; the
        result's data is then a view of it, valid until the caller reuses the buffer."""
        cdb = _READ_FIXED_CDBS.get(blocks)
        if cdb is None:  # as ``read``: a restore reads a few block counts throughout
            cdb = _READ_FIXED_CDBS[blocks] = cdbs.READ_6.encode(fixed=True, transfer_length=blocks)
        return self._read(cdb, blocks * block_size, fixed=True, into=into)

    def _read(
        self, cdb: bytes, length: int, *, fixed: bool, into: memoryview | None = None
    ) -> ReadResult:
        data, error = self._run(
            cdb, data_in_len=length, timeout_s=READ_WRITE_TIMEOUT_S, data_in=into
        )
        if error is None:
            return ReadResult(ReadKind.DATA, data, record_length=None if fixed else len(data))
        sense = error.sense
        residue = sense.information or 0
        if isinstance(error, NoSense):
            if sense.filemark:
                return ReadResult(ReadKind.FILEMARK, data, residue)
            if sense.ili:
                record = None if fixed else length - residue
                return ReadResult(ReadKind.DATA, data, residue, True, record)
            if sense.eom:
                return ReadResult(ReadKind.END_OF_MEDIUM, data, residue)
            if self._completed(error):
                record = None if fixed else len(data)
                notice = _is_cleaning_notice(sense)
                return ReadResult(
                    ReadKind.DATA, data, record_length=record, cleaning_requested=notice
                )
        if isinstance(error, BlankCheck):
            kind = ReadKind.END_OF_MEDIUM if sense.eom and sense.asc != 0 else ReadKind.END_OF_DATA
            return ReadResult(kind, data, residue)
        raise error

    def write(self, data: bytes | memoryview) -> WriteResult:
        """SSC-4 6.9 WRITE(6) of one variable-length record."""
        return self._write(_write_cdb(len(data)), data)

    def write_fixed(self, data: bytes | memoryview, block_size: int) -> WriteResult:
        """SSC-4 6.9 WRITE(6) of whole fixed blocks (``len(data)`` a multiple of the size)."""
        blocks, rest = divmod(len(data), block_size)
        if rest:
            raise ValueError(f"{len(data)} bytes is not a whole number of {block_size}-byte blocks")
        return self._write(_fixed_write_cdb(blocks), data)

    def _write(self, cdb: bytes, data: bytes | memoryview | None) -> WriteResult:
        _, error = self._run(cdb, data_out=data, timeout_s=READ_WRITE_TIMEOUT_S)
        notice = error is not None and _is_cleaning_notice(error.sense)
        if self._completed(error):
            return WriteResult(cleaning_requested=notice)
        assert error is not None
        if isinstance(error, NoSense) and error.sense.eom:
            return WriteResult(True, error.sense.information or 0, notice)
        raise error

    def write_filemarks(self, count: int = 1, *, immed: bool = False) -> WriteResult:
        """SSC-4 6.8 WRITE FILEMARKS(6); returns after the buffer reached the tape."""
        return self._write(cdbs.WRITE_FILEMARKS_6.encode(count=count, immed=immed), None)

    def flush(self) -> None:
        """WRITE FILEMARKS(6) with count 0: every buffered record is on tape on return."""
        self.write_filemarks(0)

    # --- positioning -----------------------------------------------------------------------

    def rewind(self, *, immed: bool = False) -> None:
        """SSC-4 7.5 REWIND (flushes first)."""
        self.command(cdbs.REWIND.encode(immed=immed), timeout_s=MOTION_TIMEOUT_S)

    def space(self, count: int, code: SpaceCode = SpaceCode.BLOCKS) -> SpaceResult:
        """SSC-4 6.6 SPACE(6), or 7.9 SPACE(16) when ``count`` needs more than 24 bits.

        Negative counts space toward the beginning. Stopping at a filemark, at end of data
        or at the beginning of the partition is a result, with the signed residue.
        """
        if count in SPACE_6_RANGE:
            cdb = cdbs.SPACE_6.encode(code=code, count=count)
        else:
            cdb = cdbs.SPACE_16.encode(code=code, count=count)
        _, error = self._run(cdb, timeout_s=MOTION_TIMEOUT_S)
        if self._completed(error):
            return SpaceResult(SpaceStop.COMPLETED)
        assert error is not None
        sense = error.sense
        residue = sense.information or 0
        if isinstance(error, NoSense) and sense.filemark:
            return SpaceResult(SpaceStop.FILEMARK, residue)
        if isinstance(error, NoSense) and sense.eom and sense.ascq == ASCQ_BOP:
            return SpaceResult(SpaceStop.BEGINNING_OF_PARTITION, residue)
        if isinstance(error, BlankCheck):
            return SpaceResult(SpaceStop.END_OF_DATA, residue)
        raise error

    def space_to_end_of_data(self) -> None:
        """SPACE code 3: to end of data, where the next write appends."""
        self.command(cdbs.SPACE_6.encode(code=SpaceCode.END_OF_DATA), timeout_s=MOTION_TIMEOUT_S)

    def locate(self, block: int, *, partition: int | None = None) -> None:
        """SSC-4 6.3 LOCATE(10) to logical object ``block`` (LOCATE(16) beyond 32 bits).

        A block past end of data raises BlankCheck (the drive stops at end of data).
        """
        change = partition is not None
        if block < 1 << 32:
            cdb = cdbs.LOCATE_10.encode(cp=change, block_address=block, partition=partition or 0)
        else:
            cdb = cdbs.LOCATE_16.encode(
                cp=change, partition=partition or 0, logical_identifier=block
            )
        self.command(cdb, timeout_s=MOTION_TIMEOUT_S)

    def locate_16(self, target: int, dest: LocateDest = LocateDest.OBJECT) -> None:
        """SSC-4 7.4 LOCATE(16) to an object, to the start of file ``target`` or to EOD."""
        cdb = cdbs.LOCATE_16.encode(dest_type=dest, logical_identifier=target)
        self.command(cdb, timeout_s=MOTION_TIMEOUT_S)

    def position(self) -> Position:
        """SSC-4 7.3 READ POSITION, short form (with buffered object and byte counts)."""
        cdb = cdbs.READ_POSITION.encode(service_action=0)
        return parse_short_position(self.command(cdb, data_in_len=SHORT_POSITION_LEN))

    def position_long(self) -> Position:
        """SSC-4 7.3 READ POSITION, long form (with the logical file number)."""
        cdb = cdbs.READ_POSITION.encode(service_action=6, allocation_length=LONG_POSITION_LEN)
        return parse_long_position(self.command(cdb, data_in_len=LONG_POSITION_LEN))

    def load(self) -> None:
        """SSC-4 7.2 LOAD UNLOAD with LOAD=1: thread a cartridge waiting in the drive."""
        self.command(cdbs.LOAD_UNLOAD.encode(load=True), timeout_s=MOTION_TIMEOUT_S)

    def unload(self, *, immed: bool = False) -> None:
        """SSC-4 7.2 LOAD UNLOAD with LOAD=0: flush, rewind, present for removal."""
        self.command(cdbs.LOAD_UNLOAD.encode(immed=immed), timeout_s=MOTION_TIMEOUT_S)

    def erase(self, *, long: bool = False) -> None:
        """SSC-4 6.2 ERASE(6): end of data here; ``long`` also erases to the end of tape."""
        timeout = ERASE_LONG_TIMEOUT_S if long else MOTION_TIMEOUT_S
        self.command(cdbs.ERASE_6.encode(long=long), timeout_s=timeout)

    # --- limits, modes, densities ------------------------------------------------------------

    def read_block_limits(self) -> BlockLimits:
        """SSC-4 7.6 READ BLOCK LIMITS."""
        cdb = cdbs.READ_BLOCK_LIMITS.encode()
        return parse_block_limits(self.command(cdb, data_in_len=BLOCK_LIMITS_LEN))

    def report_density_support(self, *, media: bool = False) -> list[DensityDescriptor]:
        """SSC-4 7.7 REPORT DENSITY SUPPORT; ``media``: only the loaded cartridge's."""
        cdb = cdbs.REPORT_DENSITY_SUPPORT.encode(media=media, allocation_length=DENSITY_SUPPORT_LEN)
        return parse_density_support(self.command(cdb, data_in_len=DENSITY_SUPPORT_LEN))

    def mode(self) -> TapeMode:
        """MODE SENSE(6) header and block descriptor (SSC-4 8.3.2, 8.3.3)."""
        params = self.mode_sense(PAGE_DATA_COMPRESSION)
        descriptor = params.block_descriptors[0] if params.block_descriptors else None
        return TapeMode(
            density_code=descriptor.density_code if descriptor else 0,
            block_size=descriptor.block_length if descriptor else 0,
            write_protected=bool(params.device_specific & WP),
            worm=params.medium_type == MEDIUM_TYPE_WORM,
            buffered_mode=(params.device_specific >> BUFFERED_MODE_SHIFT) & 0x07,
        )

    def set_block_size(self, block_size: int) -> None:
        """MODE SELECT(6) block descriptor: 0 selects variable-block mode, else fixed."""
        current = self.mode_sense(PAGE_DATA_COMPRESSION)
        self.mode_select(
            descriptor=BlockDescriptor(DENSITY_NO_CHANGE, 0, block_size),
            device_specific=current.device_specific & ~WP & 0xFF,
        )

    def _page(self, code: int) -> tuple[bytes, int]:
        params = self.mode_sense(code, dbd=True)
        page = params.page(code)
        if page is None:
            raise ValueError(f"{self.name}: MODE SENSE returned no page 0x{code:02X}")
        return page.raw, params.device_specific & ~WP & 0xFF

    def compression(self) -> Compression:
        """SSC-4 8.3.2 data compression page 0x0F."""
        return parse_compression(self._page(PAGE_DATA_COMPRESSION)[0][2:])

    def set_compression(self, enabled: bool) -> None:
        """Turn compression on or off (DCE), keeping the rest of page 0x0F and buffering."""
        raw, specific = self._page(PAGE_DATA_COMPRESSION)
        page = bytearray(raw)
        page[2] = (page[2] | 0x80) if enabled else (page[2] & 0x7F)
        self.mode_select(pages=(bytes(page),), device_specific=specific)

    def device_configuration(self) -> DeviceConfiguration:
        """SSC-4 8.3.3 device configuration page 0x10."""
        return parse_device_configuration(self._page(PAGE_DEVICE_CONFIGURATION)[0][2:])

    # --- logs and cartridge memory ---------------------------------------------------------

    def tapealerts(self) -> TapeAlerts:
        """LOG SENSE page 0x2E (reading clears the flags whose cause is gone)."""
        return parse_tapealert(self.log_sense(PAGE_TAPEALERT))

    def sequential_access_counters(self) -> SequentialAccessCounters:
        """LOG SENSE page 0x0C."""
        return parse_sequential_access(self.log_sense(PAGE_SEQUENTIAL_ACCESS))

    def tape_capacity(self) -> TapeCapacity:
        """LOG SENSE page 0x31."""
        return parse_tape_capacity(self.log_sense(PAGE_TAPE_CAPACITY))

    def cartridge_memory(self) -> CartridgeMemory:
        """READ ATTRIBUTE: barcode, serial, load count, label, last written, capacities."""
        attrs = self.read_attributes()

        def get(ident: MamAttribute) -> object:
            a = attrs.get(ident)
            return a.value if a is not None else None

        def text(ident: MamAttribute) -> str | None:
            v = get(ident)
            return v if isinstance(v, str) and v else None

        def number(ident: MamAttribute) -> int | None:
            v = get(ident)
            return v if isinstance(v, int) else None

        return CartridgeMemory(
            barcode=text(MamAttribute.BARCODE),
            medium_serial=text(MamAttribute.MEDIUM_SERIAL_NUMBER),
            load_count=number(MamAttribute.LOAD_COUNT),
            user_label=text(MamAttribute.USER_MEDIUM_TEXT_LABEL),
            last_written=text(MamAttribute.DATE_TIME_LAST_WRITTEN),
            remaining_mib=number(MamAttribute.REMAINING_CAPACITY),
            maximum_mib=number(MamAttribute.MAXIMUM_CAPACITY),
        )
