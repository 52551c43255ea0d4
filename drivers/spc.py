"""Commands common to tape drives and changers (SPC-4), over any transport.

``SpcDriver`` is the base of ``SscDriver`` and ``SmcDriver``. Every command goes through
``command()``, which sends the CDB and calls ``drivers.errors.raise_for_result``: a CHECK
CONDITION always becomes a ``ScsiError`` subclass (the one mapping), except where a
subclass turns a normal tape condition into a typed result (drivers/ssc.py).

Callers may share a driver between threads as far as the transport allows (each transport
serialises its commands); the driver keeps no per-command state.

Errors: ``ScsiError`` subclasses (drivers/errors.py) for any status other than GOOD;
``TransportError`` subclasses when no status came back (device gone, timeout, permission).
Allocation lengths: variable-length answers (VPD, LOG SENSE, READ ATTRIBUTE, REPORT LUNS)
are read twice when the first, bounded read shows there is more.
"""

from __future__ import annotations

from drivers import pyscsi_cdb as pc
from drivers import spc_cdbs
from drivers.cdb import command_name
from drivers.errors import raise_for_result
from drivers.sense import Sense, SenseKey, parse_sense
from drivers.spc_data import (
    AttributeValue,
    BlockDescriptor,
    Designator,
    LogPage,
    ModeParameters,
    StandardInquiry,
    mode_select_data,
    parse_attributes,
    parse_device_identification,
    parse_log_page,
    parse_mode_parameters,
    parse_standard_inquiry,
    parse_supported_log_pages,
    parse_supported_pages,
    parse_unit_serial,
)
from drivers.transport.contract import ScsiResult, Transport

DEFAULT_TIMEOUT_S = 60.0
"""Short commands (INQUIRY, MODE SENSE, ...): generous for a busy library controller."""

INQUIRY_LEN = 96
VPD_LEN = 255
SENSE_LEN = 252  # SPC-4 4.5.1: the largest sense a device may return
MODE_SENSE_6_MAX = 0xFF
MODE_SENSE_10_MAX = 0xFFFF
LOG_SENSE_MAX = 0xFFFF
ATTRIBUTE_PROBE_LEN = 4096
LUN_LIST_HEADER = 8
LUN_ENTRY = 8
REPORT_LUNS_PROBE_LEN = 256
ALL_PAGES = 0x3F
MAX_UNIT_ATTENTIONS = 16  # more than any device queues; stops a device stuck in UA


class PageControl:
    """SPC-4 table 97: which values MODE SENSE / LOG SENSE return."""

    CURRENT = 0
    CHANGEABLE = 1
    DEFAULT = 2
    SAVED = 3


class PreventAllow:
    """SPC-4 6.13 PREVENT field values."""

    ALLOW = 0
    PREVENT = 1


class SpcDriver:
    """One logical unit through ``transport``; ``name`` (the transport's) names it in errors."""

    def __init__(self, transport: Transport, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.transport = transport
        self.timeout_s = timeout_s

    @property
    def name(self) -> str:
        return self.transport.name

    def close(self) -> None:
        self.transport.close()

    # --- the one command path -------------------------------------------------------------

    def send(
        self,
        cdb: bytes,
        *,
        data_out: bytes | memoryview | None = None,
        data_in_len: int = 0,
        timeout_s: float | None = None,
        data_in: memoryview | None = None,
    ) -> ScsiResult:
        """Send ``cdb`` and return the result as is (no sense interpretation). ``data_in``: a
        buffer for the data in; a transport that reads into it (``reads_into``) returns a view
        of it, any other one returns its own data (the caller copies when it must)."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        if data_in is not None and getattr(self.transport, "reads_into", False):
            return self.transport.execute(  # type: ignore[call-arg]
                cdb, data_out=data_out, data_in_len=data_in_len, timeout_s=timeout, data_in=data_in
            )
        return self.transport.execute(
            cdb, data_out=data_out, data_in_len=data_in_len, timeout_s=timeout
        )

    def command(
        self,
        cdb: bytes,
        *,
        data_out: bytes | memoryview | None = None,
        data_in_len: int = 0,
        timeout_s: float | None = None,
        name: str | None = None,
    ) -> bytes:
        """Send ``cdb``; return the data in, or raise the ``ScsiError`` the result calls for."""
        result = self.send(cdb, data_out=data_out, data_in_len=data_in_len, timeout_s=timeout_s)
        raise_for_result(result, self.name, cdb, command=name or self.command_name(cdb))
        return bytes(result.data)

    def command_name(self, cdb: bytes) -> str:
        """Name of ``cdb`` for messages; device-type drivers resolve shared opcodes."""
        return command_name(cdb)

    # --- SPC-4 commands --------------------------------------------------------------------

    def test_unit_ready(self) -> None:
        """SPC-4 6.47 TEST UNIT READY: returns when ready, raises NotReady/UnitAttention."""
        self.command(pc.TEST_UNIT_READY.encode(), name="TEST UNIT READY")

    def drain_unit_attentions(self) -> list[Sense]:
        """Consume queued unit attentions with TEST UNIT READY; returns their sense.

        Stops at the first answer that is not UNIT ATTENTION (GOOD or NOT READY alike), so
        it is safe on an empty drive.
        """
        seen: list[Sense] = []
        for _ in range(MAX_UNIT_ATTENTIONS):
            result = self.send(pc.TEST_UNIT_READY.encode())
            sense = parse_sense(result.sense) if result.sense else None
            if sense is None or sense.key != SenseKey.UNIT_ATTENTION:
                return seen
            seen.append(sense)
        return seen

    def inquiry(self) -> StandardInquiry:
        """SPC-4 6.6 standard INQUIRY data."""
        cdb = pc.INQUIRY.encode(alloc_len=INQUIRY_LEN)
        return parse_standard_inquiry(self.command(cdb, data_in_len=INQUIRY_LEN))

    def vpd_page(self, page: int) -> bytes:
        """Raw VPD page (header included), re-read when longer than the first read."""
        data = self.command(
            pc.INQUIRY.encode(evpd=1, page_code=page, alloc_len=VPD_LEN), data_in_len=VPD_LEN
        )
        total = 4 + int.from_bytes(data[2:4], "big") if len(data) >= 4 else 0
        if total > len(data):
            cdb = pc.INQUIRY.encode(evpd=1, page_code=page, alloc_len=min(total, 0xFFFF))
            data = self.command(cdb, data_in_len=min(total, 0xFFFF))
        return data

    def supported_vpd_pages(self) -> list[int]:
        """SPC-4 7.8.16 VPD page 0x00."""
        return parse_supported_pages(self.vpd_page(0x00))

    def serial_number(self) -> str:
        """SPC-4 7.8.17 VPD page 0x80 unit serial number."""
        return parse_unit_serial(self.vpd_page(0x80))

    def device_identifiers(self) -> list[Designator]:
        """SPC-4 7.8.6 VPD page 0x83 designators (T10 vendor ID, NAA WWN, ...)."""
        return parse_device_identification(self.vpd_page(0x83))

    def request_sense(self, *, descriptor: bool = False) -> Sense | None:
        """SPC-4 6.39 REQUEST SENSE: the pending condition (None when the device has none)."""
        cdb = spc_cdbs.REQUEST_SENSE.encode(desc=descriptor, allocation_length=SENSE_LEN)
        sense = parse_sense(self.command(cdb, data_in_len=SENSE_LEN))
        nothing = (SenseKey.NO_SENSE, 0, 0, False, False, False)
        if (
            sense is None
            or (sense.key, sense.asc, sense.ascq, sense.filemark, sense.eom, sense.ili) == nothing
        ):
            return None
        return sense

    def report_luns(self) -> list[int]:
        """SPC-4 6.33 REPORT LUNS: the 8-byte LUNs as integers."""
        alloc = REPORT_LUNS_PROBE_LEN
        data = self.command(pc.REPORT_LUNS.encode(alloc_len=alloc), data_in_len=alloc)
        total = LUN_LIST_HEADER + int.from_bytes(data[0:4], "big")
        if total > len(data):
            data = self.command(pc.REPORT_LUNS.encode(alloc_len=total), data_in_len=total)
        end = min(len(data), total)
        return [
            int.from_bytes(data[at : at + LUN_ENTRY], "big")
            for at in range(LUN_LIST_HEADER, end - LUN_ENTRY + 1, LUN_ENTRY)
        ]

    def prevent_removal(self, prevent: bool = True) -> None:
        """SPC-4 6.13 PREVENT ALLOW MEDIUM REMOVAL (False allows removal again)."""
        value = PreventAllow.PREVENT if prevent else PreventAllow.ALLOW
        self.command(pc.PREVENT_ALLOW.encode(prevent=value))

    # --- MODE SENSE / MODE SELECT -------------------------------------------------------------

    def mode_sense(
        self,
        page: int = ALL_PAGES,
        *,
        page_control: int = PageControl.CURRENT,
        dbd: bool = False,
        ten: bool = False,
    ) -> ModeParameters:
        """SPC-4 6.11/6.12 MODE SENSE(6) or (10): header, block descriptors, pages."""
        if ten:
            alloc = MODE_SENSE_10_MAX
            cdb = pc.MODE_SENSE_10.encode(dbd=dbd, pc=page_control, page_code=page, alloc_len=alloc)
        else:
            alloc = MODE_SENSE_6_MAX
            cdb = pc.MODE_SENSE_6.encode(dbd=dbd, pc=page_control, page_code=page, alloc_len=alloc)
        return parse_mode_parameters(self.command(cdb, data_in_len=alloc), ten=ten)

    def mode_select(
        self,
        *,
        pages: tuple[bytes, ...] = (),
        descriptor: BlockDescriptor | None = None,
        device_specific: int = 0,
        ten: bool = False,
    ) -> None:
        """SPC-4 6.9/6.10 MODE SELECT(6)/(10) with PF=1 (pages in SPC page format)."""
        params = mode_select_data(
            ten=ten, device_specific=device_specific, descriptor=descriptor, pages=pages
        )
        layout = pc.MODE_SELECT_10 if ten else pc.MODE_SELECT_6
        cdb = layout.encode(pf=1, parameter_list_length=len(params))
        self.command(cdb, data_out=params)

    # --- LOG SENSE -------------------------------------------------------------------------------

    def log_sense_raw(self, page: int, *, page_control: int = PageControl.CURRENT) -> bytes:
        """SPC-4 6.8 LOG SENSE, the page as received (header included)."""
        cdb = spc_cdbs.LOG_SENSE.encode(
            pc=page_control, page_code=page, allocation_length=LOG_SENSE_MAX
        )
        return self.command(cdb, data_in_len=LOG_SENSE_MAX)

    def log_sense(self, page: int, *, page_control: int = PageControl.CURRENT) -> LogPage:
        """SPC-4 6.8 LOG SENSE decoded into parameters (page control 1 = cumulative)."""
        return parse_log_page(self.log_sense_raw(page, page_control=page_control))

    def supported_log_pages(self) -> list[int]:
        return parse_supported_log_pages(self.log_sense_raw(0x00))

    # --- READ ATTRIBUTE ------------------------------------------------------------------------

    def read_attributes(self, first: int = 0, *, partition: int = 0) -> dict[int, AttributeValue]:
        """SPC-4 6.16 READ ATTRIBUTE (ATTRIBUTE VALUES service action) from ``first`` on.

        Reads ATTRIBUTE_PROBE_LEN bytes; when AVAILABLE DATA says there is more, reads again
        with exactly that size.
        """

        def read(alloc: int) -> bytes:
            cdb = spc_cdbs.READ_ATTRIBUTE.encode(
                service_action=0,
                partition_number=partition,
                first_attribute=first,
                allocation_length=alloc,
            )
            return self.command(cdb, data_in_len=alloc)

        data = read(ATTRIBUTE_PROBE_LEN)
        total = 4 + int.from_bytes(data[:4], "big") if len(data) >= 4 else 0
        if total > len(data):
            data = read(total)
        return parse_attributes(data)
