"""Linux SG_IO on /dev/sgN (or any node that accepts SG_IO), in pure Python.

``sg_io_hdr_t`` (include/uapi/scsi/sg.h, version 3 interface) is a ctypes structure and the
command goes through ``fcntl.ioctl(fd, SG_IO, hdr)``: one blocking call per command, with the
timeout enforced by the kernel. Nothing is dropped on the way: SCSI status, host and driver
status, residual and the full sense (up to 252 bytes) all come back. A CHECK CONDITION is a
result, never an exception (the caller runs drivers.errors.raise_for_result); exceptions
are ``TransportError`` subclasses for commands that did not complete.

Data in lands in a page-aligned mmap buffer kept per thread and grown on demand, so a
256 KiB READ is not copied again after the kernel's copy: ``ScsiResult.data`` is a
memoryview into that buffer, valid until the same thread's next command on this transport
(pass ``reuse_buffer=False`` for independent ``bytes``). Data out is handed to the kernel
from the caller's buffer when it is ``bytes`` or writable, copied otherwise.

Commands on one transport are serialised by a lock (the contract says backends do).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import grp
import math
import mmap
import os
import threading
from dataclasses import dataclass

from drivers.cdb import command_name
from drivers.transport.contract import (
    CommandTimeout,
    DeviceNotFound,
    DeviceUnreachable,
    PermissionDenied,
    ScsiResult,
    ScsiStatus,
    TransportError,
)

# include/uapi/scsi/sg.h
SG_IO = 0x2285
SG_GET_VERSION_NUM = 0x2282
BLKSECTGET = 0x1267
"""On an sg node: the request queue's max_sectors in bytes (drivers/scsi/sg.c), the most one
SG_IO may transfer; larger ones fail with EINVAL or ENOMEM."""
SG_INTERFACE_ID = ord("S")
SG_DXFER_NONE = -1
SG_DXFER_TO_DEV = -2
SG_DXFER_FROM_DEV = -3
SG_MAX_SENSE = 252
"""The largest sense the sg driver returns (SCSI_SENSE_BUFFERSIZE is 96; SPC allows 252)."""
SG_MAX_CDB = 252
MAX_TIMEOUT_MS = 0xFFFFFFFE
"""0xFFFFFFFF means "no timeout" to sg; we always give one."""

# host_status values (include/scsi/scsi_status.h, enum scsi_host_status)
DID_OK = 0x00
DID_NO_CONNECT = 0x01
DID_BUS_BUSY = 0x02
DID_TIME_OUT = 0x03
DID_BAD_TARGET = 0x04
DID_ABORT = 0x05
DID_PARITY = 0x06
DID_ERROR = 0x07
DID_RESET = 0x08
DID_BAD_INTR = 0x09
DID_PASSTHROUGH = 0x0A
DID_SOFT_ERROR = 0x0B
DID_IMM_RETRY = 0x0C
DID_REQUEUE = 0x0D
DID_TRANSPORT_DISRUPTED = 0x0E
DID_TRANSPORT_FAILFAST = 0x0F
DID_TARGET_FAILURE = 0x10
DID_NEXUS_FAILURE = 0x11
DID_ALLOC_FAILURE = 0x12
DID_MEDIUM_ERROR = 0x13
DID_TRANSPORT_MARGINAL = 0x14

HOST_STATUS_NAMES = {value: name for name, value in globals().items() if name.startswith("DID_")}
UNREACHABLE_HOST_STATUS = frozenset(
    {
        DID_NO_CONNECT,
        DID_BAD_TARGET,
        DID_TRANSPORT_DISRUPTED,
        DID_TRANSPORT_FAILFAST,
        DID_NEXUS_FAILURE,
        DID_TARGET_FAILURE,
    }
)

# driver_status (low nibble; the high nibble held obsolete "suggestions")
DRIVER_STATUS_MASK = 0x0F
DRIVER_OK = 0x00
DRIVER_TIMEOUT = 0x06
DRIVER_SENSE = 0x08


class SgIoHdr(ctypes.Structure):
    """struct sg_io_hdr (sg.h); 88 bytes on 64-bit Linux."""

    _fields_ = [
        ("interface_id", ctypes.c_int),
        ("dxfer_direction", ctypes.c_int),
        ("cmd_len", ctypes.c_ubyte),
        ("mx_sb_len", ctypes.c_ubyte),
        ("iovec_count", ctypes.c_ushort),
        ("dxfer_len", ctypes.c_uint),
        ("dxferp", ctypes.c_void_p),
        ("cmdp", ctypes.c_void_p),
        ("sbp", ctypes.c_void_p),
        ("timeout", ctypes.c_uint),
        ("flags", ctypes.c_uint),
        ("pack_id", ctypes.c_int),
        ("usr_ptr", ctypes.c_void_p),
        ("status", ctypes.c_ubyte),
        ("masked_status", ctypes.c_ubyte),
        ("msg_status", ctypes.c_ubyte),
        ("sb_len_wr", ctypes.c_ubyte),
        ("host_status", ctypes.c_ushort),
        ("driver_status", ctypes.c_ushort),
        ("resid", ctypes.c_int),
        ("duration", ctypes.c_uint),
        ("info", ctypes.c_uint),
    ]


@dataclass(frozen=True, slots=True)
class SgIoOutcome:
    """The output half of one sg_io_hdr, kept whole for diagnostics (``last_outcome``)."""

    status: int
    masked_status: int
    host_status: int
    driver_status: int
    resid: int
    sb_len_wr: int
    duration_ms: int
    info: int

    @classmethod
    def from_header(cls, hdr: SgIoHdr) -> SgIoOutcome:
        return cls(
            hdr.status,
            hdr.masked_status,
            hdr.host_status,
            hdr.driver_status,
            hdr.resid,
            hdr.sb_len_wr,
            hdr.duration,
            hdr.info,
        )


def timeout_ms(timeout_s: float) -> int:
    """sg takes milliseconds; round up so a 0.0001 s timeout is not "no wait at all"."""
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
    return min(math.ceil(timeout_s * 1000), MAX_TIMEOUT_MS)


def open_error(path: str, exc: OSError) -> TransportError:
    """The transport error for failing to open ``path`` (one sentence: what and what to do)."""
    code = exc.errno
    if code == errno.ENOENT:
        return DeviceNotFound(
            path, "no such device node; check the path (ls /dev/sg*) or run `tapir devices scan`"
        )
    if code in (errno.ENXIO, errno.ENODEV):
        return DeviceNotFound(
            path, "the node exists but no device answers behind it (unplugged or powered off?)"
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDenied(path, f"permission denied; {_access_hint(path)}")
    if code == errno.EBUSY:
        return TransportError(
            path,
            "the device is in use (opened exclusively by another "
            "process); stop that process or wait",
        )
    if code in (errno.EISDIR, errno.ENOTDIR, errno.ENOTTY, errno.EINVAL):
        return TransportError(path, "not a SCSI generic device; give its /dev/sgN node")
    return TransportError(path, f"cannot open: {os.strerror(code or 0)}")


def _access_hint(path: str) -> str:
    try:
        group = grp.getgrgid(os.stat(path).st_gid).gr_name
    except (OSError, KeyError):
        group = "tape"
    if group == "root":
        return "run as root or give the node a group (e.g. tape) with a udev rule"
    return (
        f"add the user to group {group!r} (usermod -aG {group} USER, then log in again) "
        "or run as root"
    )


def ioctl_error(path: str, command: str, exc: OSError) -> TransportError:
    """The transport error for an SG_IO ioctl that failed before any SCSI status."""
    code = exc.errno
    if code in (errno.ENODEV, errno.ENXIO, errno.EIO):
        return DeviceUnreachable(path, f"{command}: the device went away ({os.strerror(code)})")
    if code in (errno.EACCES, errno.EPERM):
        return PermissionDenied(
            path,
            f"{command}: not permitted on this node (open it read-write, or grant CAP_SYS_RAWIO)",
        )
    if code == errno.ENOMEM:
        return TransportError(
            path,
            f"{command}: transfer too large for the sg driver's buffers; use a smaller block size",
        )
    if code in (errno.ENOTTY, errno.EINVAL):
        return TransportError(
            path,
            f"{command}: rejected by the kernel "
            f"({os.strerror(code)}): transfer length or CDB not "
            "accepted by this device node",
        )
    if code == errno.EINTR:
        return TransportError(
            path,
            f"{command}: interrupted by a signal; the command's "
            "outcome is unknown, re-read the device state",
        )
    return TransportError(path, f"{command}: SG_IO failed ({os.strerror(code or 0)})")


def check_outcome(path: str, command: str, outcome: SgIoOutcome, timeout_s: float) -> int:
    """Raise for host/driver failures; return the SCSI status to report.

    DRIVER_SENSE with status GOOD (some HBAs forget the status) is reported as CHECK
    CONDITION, so the sense is not lost.
    """
    host = outcome.host_status
    driver = outcome.driver_status & DRIVER_STATUS_MASK
    if host == DID_TIME_OUT or driver == DRIVER_TIMEOUT:
        raise CommandTimeout(
            path, f"{command} did not complete within {timeout_s:g} s and was aborted"
        )
    if host in UNREACHABLE_HOST_STATUS:
        raise DeviceUnreachable(
            path,
            f"{command}: the device does not answer "
            f"({HOST_STATUS_NAMES[host]}); check cabling and power",
        )
    if host != DID_OK:
        name = HOST_STATUS_NAMES.get(host, f"host status 0x{host:02X}")
        raise TransportError(
            path, f"{command}: the adapter reported {name}; retry, and check the bus if it repeats"
        )
    if outcome.status == ScsiStatus.GOOD and driver == DRIVER_SENSE and outcome.sb_len_wr:
        return ScsiStatus.CHECK_CONDITION
    return outcome.status


class ThreadBuffers(threading.local):
    """Per-thread data-in and sense buffers, so results of two threads never alias."""

    def __init__(self) -> None:
        self.data: mmap.mmap | None = None
        self.sense = ctypes.create_string_buffer(SG_MAX_SENSE)

    def data_in(self, length: int) -> mmap.mmap:
        """A page-aligned buffer of at least ``length`` bytes, reused while large enough."""
        if self.data is None or len(self.data) < length:
            size = max(mmap.PAGESIZE, -(-length // mmap.PAGESIZE) * mmap.PAGESIZE)
            # The old map is dropped, not closed: earlier results may still view it.
            self.data = mmap.mmap(-1, size)
        return self.data


def max_transfer(fd: int) -> int | None:
    """The most bytes one SG_IO on ``fd`` may move, or None when the node does not say."""
    limit = ctypes.c_int(0)
    try:
        fcntl.ioctl(fd, BLKSECTGET, limit)
    except OSError:
        return None
    return limit.value if limit.value > 0 else None


class SgIoTransport:
    """A transport to one SCSI generic node.

    Raises on construction: ``DeviceNotFound`` (no node / no device), ``PermissionDenied``
    (with the group to join), ``TransportError`` (busy, or not an SG_IO-capable node).
    ``probe=False`` skips the SG_GET_VERSION_NUM check, for nodes that accept SG_IO but not
    the probe; a node that accepts neither then fails on its first command instead.
    """

    def __init__(self, path: str, *, reuse_buffer: bool = True, probe: bool = True) -> None:
        self.name = path
        self.path = path
        self.reuse_buffer = reuse_buffer
        self.last_outcome: SgIoOutcome | None = None
        self._lock = threading.Lock()
        self._buffers = ThreadBuffers()
        try:
            self._fd: int | None = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise open_error(path, exc) from None
        version = ctypes.c_int(0)
        try:
            if probe:
                fcntl.ioctl(self._fd, SG_GET_VERSION_NUM, version)
        except OSError:
            self.close()
            raise TransportError(
                path, "not a SCSI generic device (no SG_IO support); give its /dev/sgN node"
            ) from None
        self.sg_version = version.value
        self.max_transfer = max_transfer(self._fd)

    @staticmethod
    def out_pointer(data: bytes | memoryview) -> tuple[object, int]:
        """(keep-alive object, address) for data out, without copying when possible."""
        if isinstance(data, bytes):
            holder = ctypes.c_char_p(data)
            return holder, ctypes.cast(holder, ctypes.c_void_p).value or 0
        view = memoryview(data)
        if not view.readonly and view.contiguous:
            array = (ctypes.c_char * view.nbytes).from_buffer(view)
            return array, ctypes.addressof(array)
        copy = ctypes.create_string_buffer(view.tobytes(), view.nbytes)
        return copy, ctypes.addressof(copy)

    def execute(
        self,
        cdb: bytes,
        *,
        data_out: bytes | memoryview | None = None,
        data_in_len: int = 0,
        timeout_s: float,
    ) -> ScsiResult:
        if not 1 <= len(cdb) <= SG_MAX_CDB:
            raise ValueError(f"CDB length {len(cdb)} outside 1..{SG_MAX_CDB}")
        if data_out is not None and data_in_len:
            raise ValueError("SG_IO v3 cannot move data in both directions in one command")
        command = command_name(cdb)
        hdr = SgIoHdr()
        hdr.interface_id = SG_INTERFACE_ID
        hdr.timeout = timeout_ms(timeout_s)
        cdb_buf = ctypes.create_string_buffer(bytes(cdb), len(cdb))
        hdr.cmd_len = len(cdb)
        hdr.cmdp = ctypes.addressof(cdb_buf)
        sense = self._buffers.sense
        hdr.mx_sb_len = SG_MAX_SENSE
        hdr.sbp = ctypes.addressof(sense)
        keep: object = None
        data_buf: mmap.mmap | None = None
        if data_out is not None and len(data_out):
            keep, address = self.out_pointer(data_out)
            hdr.dxfer_direction = SG_DXFER_TO_DEV
            hdr.dxfer_len = memoryview(data_out).nbytes
            hdr.dxferp = address
        elif data_in_len:
            data_buf = self._buffers.data_in(data_in_len)
            keep = ctypes.c_char.from_buffer(data_buf)
            hdr.dxfer_direction = SG_DXFER_FROM_DEV
            hdr.dxfer_len = data_in_len
            hdr.dxferp = ctypes.addressof(keep)
        else:
            hdr.dxfer_direction = SG_DXFER_NONE
        with self._lock:
            if self._fd is None:
                raise TransportError(self.path, f"{command}: transport is closed")
            try:
                fcntl.ioctl(self._fd, SG_IO, hdr)
            except OSError as exc:
                raise ioctl_error(self.path, command, exc) from None
        del keep  # the kernel is done with the buffers; drop the ctypes export now
        outcome = SgIoOutcome.from_header(hdr)
        self.last_outcome = outcome
        status = check_outcome(self.path, command, outcome, timeout_s)
        sense_bytes = b""
        if status == ScsiStatus.CHECK_CONDITION:
            sense_bytes = sense.raw[: outcome.sb_len_wr]
        residual = max(0, min(outcome.resid, hdr.dxfer_len))
        data: bytes | memoryview = b""
        if data_buf is not None:
            got = data_in_len - residual
            data = memoryview(data_buf)[:got] if self.reuse_buffer else data_buf[:got]
        return ScsiResult(int(status), sense_bytes, data, residual)

    def close(self) -> None:
        """Close the node; idempotent."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> SgIoTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
