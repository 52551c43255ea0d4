"""The hwsim daemon's socket protocol: length-prefixed, versioned binary frames.

Every message is a 12-byte header followed by a body (docs/hwsim-daemon.md):

    magic "TPHW" | version u8 | kind u8 | reserved u16 (0) | body length u32   (big endian)

A connection carries one request at a time: the client sends a request frame and reads
exactly one reply frame. Sizes are bounded before anything is allocated (``MAX_*``), so a
peer speaking garbage costs a 12-byte read and a ``WireError`` naming the problem, never a
huge buffer or a hang. After a ``WireError`` the stream is out of step and must be closed.

This module only frames and parses; it never touches devices (``server``) or sockets beyond
reading and writing whole frames.
"""

from __future__ import annotations

import enum
import json
import re
import socket
import struct
from dataclasses import dataclass
from typing import Any

MAGIC = b"TPHW"
VERSION = 1
HEADER = struct.Struct(">4sBBHI")
HEADER_LEN = HEADER.size

# A variable-length CDB is at most 260 bytes (SPC-4 4.2.3); SSC transfer lengths are 24-bit
# block counts, but records over 16 MiB do not exist on the drives hwsim models.
MAX_CDB_LEN = 260
MAX_SENSE_LEN = 252  # SPC-4 4.5.1: the additional sense length byte caps sense at 252 bytes
MAX_DATA_LEN = 64 * 1024 * 1024
MAX_DEVICE_NAME_LEN = 64
MAX_CONTROL_LINE_LEN = 4096
MAX_TEXT_LEN = 16 * 1024 * 1024  # control replies (a large library's inventory in JSON)
MAX_BODY_LEN = MAX_DATA_LEN + 1024

_DEVICE_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")
_EXECUTE = struct.Struct(">B")  # device name length, then name
_EXECUTE_TAIL = struct.Struct(">HII")  # cdb length, data-in length, timeout in ms
_RESULT = struct.Struct(">BB")  # status, sense length


class WireError(ValueError):
    """A frame that breaks the protocol; the message says which rule and by how much."""


class Kind(enum.IntEnum):
    """Message kinds. Requests are below 0x80, replies at or above."""

    HELLO = 0x01
    EXECUTE = 0x02
    CONTROL = 0x03
    HELLO_REPLY = 0x81
    RESULT = 0x82
    NO_RESPONSE = 0x83
    CONTROL_REPLY = 0x84
    ERROR = 0xFF


@dataclass(frozen=True, slots=True)
class Hello:
    """Ask the daemon who it is (library name, devices, pid); also a liveness check."""


@dataclass(frozen=True, slots=True)
class Execute:
    """Run one CDB on ``device``; ``timeout_ms`` is informational (the client enforces it)."""

    device: str
    cdb: bytes
    data_out: bytes | memoryview = b""
    data_in_len: int = 0
    timeout_ms: int = 0


@dataclass(frozen=True, slots=True)
class Control:
    """One console-protocol command line (docs/hwsim-console.md), answered as JSON."""

    line: str


@dataclass(frozen=True, slots=True)
class HelloReply:
    info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Result:
    """The device answered: SCSI status, sense (CHECK CONDITION only) and data-in."""

    status: int
    sense: bytes
    data: bytes | memoryview


@dataclass(frozen=True, slots=True)
class NoResponseReply:
    """The device did not answer (powered off, offline): a selection timeout on a real bus."""

    reason: str


@dataclass(frozen=True, slots=True)
class ControlReply:
    """``{"ok": bool, "lines": [str], "data": any, "error": str | None}``."""

    reply: dict[str, Any]


class ErrorCode(enum.IntEnum):
    """Why the daemon refused a request (first body byte of an ERROR reply)."""

    PROTOCOL = 1  # the request broke the protocol; the daemon closes the connection
    NO_SUCH_DEVICE = 2  # the library has no device by that name
    INTERNAL = 3  # the daemon failed while running the request (a bug; it is logged)
    SHUTTING_DOWN = 4  # the daemon is stopping


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """The request could not be run; ``message`` says why in a sentence."""

    code: ErrorCode
    message: str


Message = (
    Hello | Execute | Control | HelloReply | Result | NoResponseReply | ControlReply | ErrorReply
)


# --- encoding ---------------------------------------------------------------------------------


def _header(kind: Kind, body_len: int) -> bytes:
    if body_len > MAX_BODY_LEN:
        raise WireError(f"message body of {body_len} bytes exceeds the {MAX_BODY_LEN} limit")
    return HEADER.pack(MAGIC, VERSION, kind, 0, body_len)


def _text(value: str, limit: int, what: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > limit:
        raise WireError(f"{what} of {len(raw)} bytes exceeds the {limit} limit")
    return raw


def _json(value: dict[str, Any], what: str) -> bytes:
    return _text(json.dumps(value, separators=(",", ":")), MAX_TEXT_LEN, what)


def check_device_name(name: str) -> None:
    if not 0 < len(name) <= MAX_DEVICE_NAME_LEN or not _DEVICE_NAME.match(name):
        raise WireError(
            f"device name {name[:80]!r} must be 1..{MAX_DEVICE_NAME_LEN} characters "
            "of letters, digits, '_', '.', ':' or '-'"
        )


def encode(message: Message) -> list[bytes | memoryview]:
    """Frame ``message``; returns the pieces to send in order (large data is not copied)."""
    if isinstance(message, Hello):
        return [_header(Kind.HELLO, 0)]
    if isinstance(message, Execute):
        check_device_name(message.device)
        if not 0 < len(message.cdb) <= MAX_CDB_LEN:
            raise WireError(f"CDB length {len(message.cdb)} is outside 1..{MAX_CDB_LEN}")
        _check_len(len(message.data_out), "data-out length")
        _check_len(message.data_in_len, "data-in length")
        if not 0 <= message.timeout_ms <= 0xFFFFFFFF:
            raise WireError(f"timeout {message.timeout_ms} ms does not fit in 32 bits")
        name = message.device.encode("ascii")
        head = (
            _EXECUTE.pack(len(name))
            + name
            + _EXECUTE_TAIL.pack(len(message.cdb), message.data_in_len, message.timeout_ms)
            + bytes(message.cdb)
        )
        return [_header(Kind.EXECUTE, len(head) + len(message.data_out)) + head, message.data_out]
    if isinstance(message, Control):
        body = _text(message.line, MAX_CONTROL_LINE_LEN, "control line")
        return [_header(Kind.CONTROL, len(body)) + body]
    if isinstance(message, Result):
        if not 0 <= message.status <= 0xFF:
            raise WireError(f"SCSI status {message.status} does not fit in a byte")
        if len(message.sense) > MAX_SENSE_LEN:
            raise WireError(f"sense of {len(message.sense)} bytes exceeds {MAX_SENSE_LEN}")
        _check_len(len(message.data), "data-in length")
        head = _RESULT.pack(message.status, len(message.sense)) + bytes(message.sense)
        return [_header(Kind.RESULT, len(head) + len(message.data)) + head, message.data]
    if isinstance(message, NoResponseReply):
        body = _text(message.reason, MAX_CONTROL_LINE_LEN, "reason")
        return [_header(Kind.NO_RESPONSE, len(body)) + body]
    if isinstance(message, ErrorReply):
        body = bytes([ErrorCode(message.code)]) + _text(
            message.message, MAX_CONTROL_LINE_LEN, "error message"
        )
        return [_header(Kind.ERROR, len(body)) + body]
    if isinstance(message, HelloReply | ControlReply):
        value = message.info if isinstance(message, HelloReply) else message.reply
        kind = Kind.HELLO_REPLY if isinstance(message, HelloReply) else Kind.CONTROL_REPLY
        body = _json(value, "reply")
        return [_header(kind, len(body)) + body]
    raise TypeError(f"not a wire message: {type(message).__name__}")


def _check_len(length: int, what: str) -> None:
    if not 0 <= length <= MAX_DATA_LEN:
        raise WireError(f"{what} {length} is outside 0..{MAX_DATA_LEN}")


# --- decoding ---------------------------------------------------------------------------------


def decode_header(header: bytes) -> tuple[Kind, int]:
    """Validate a 12-byte header; returns the kind and the body length to read next."""
    if len(header) != HEADER_LEN:
        raise WireError(f"header must be {HEADER_LEN} bytes, got {len(header)}")
    magic, version, kind, reserved, body_len = HEADER.unpack(header)
    if magic != MAGIC:
        raise WireError(f"bad magic {magic!r}: not an hwsim protocol peer (expected {MAGIC!r})")
    if version != VERSION:
        raise WireError(f"protocol version {version} is not supported (this side speaks {VERSION})")
    try:
        kind = Kind(kind)
    except ValueError:
        raise WireError(f"unknown message kind 0x{kind:02X}") from None
    if reserved != 0:
        raise WireError(f"reserved header field must be 0, got {reserved}")
    if body_len > MAX_BODY_LEN:
        raise WireError(f"message body of {body_len} bytes exceeds the {MAX_BODY_LEN} limit")
    return kind, body_len


def _utf8(body: bytes | memoryview, limit: int, what: str) -> str:
    if len(body) > limit:
        raise WireError(f"{what} of {len(body)} bytes exceeds the {limit} limit")
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError(f"{what} is not valid UTF-8 (byte {exc.start})") from None


def _json_object(body: bytes | memoryview, what: str) -> dict[str, Any]:
    text = _utf8(body, MAX_TEXT_LEN, what)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise WireError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise WireError(f"{what} must be a JSON object")
    return value


def decode_body(kind: Kind, body: bytes | memoryview) -> Message:
    """Parse a body whose header was accepted by ``decode_header``."""
    body = memoryview(body)
    if kind is Kind.HELLO:
        if len(body):
            raise WireError("HELLO carries no body")
        return Hello()
    if kind is Kind.EXECUTE:
        return _decode_execute(body)
    if kind is Kind.CONTROL:
        return Control(_utf8(body, MAX_CONTROL_LINE_LEN, "control line"))
    if kind is Kind.RESULT:
        if len(body) < _RESULT.size:
            raise WireError("RESULT body is shorter than its 2-byte head")
        status, sense_len = _RESULT.unpack_from(body)
        if sense_len > MAX_SENSE_LEN:
            raise WireError(f"sense length {sense_len} exceeds {MAX_SENSE_LEN}")
        end = _RESULT.size + sense_len
        if len(body) < end:
            raise WireError(f"RESULT body ends inside its {sense_len} sense bytes")
        return Result(status, bytes(body[_RESULT.size : end]), body[end:])
    if kind is Kind.NO_RESPONSE:
        return NoResponseReply(_utf8(body, MAX_CONTROL_LINE_LEN, "reason"))
    if kind is Kind.ERROR:
        if not len(body):
            raise WireError("ERROR body is empty")
        try:
            code = ErrorCode(body[0])
        except ValueError:
            raise WireError(f"unknown error code {body[0]}") from None
        return ErrorReply(code, _utf8(body[1:], MAX_CONTROL_LINE_LEN, "error message"))
    if kind is Kind.HELLO_REPLY:
        return HelloReply(_json_object(body, "HELLO reply"))
    return ControlReply(_json_object(body, "CONTROL reply"))


def _decode_execute(body: memoryview) -> Execute:
    if len(body) < _EXECUTE.size:
        raise WireError("EXECUTE body is empty")
    (name_len,) = _EXECUTE.unpack_from(body)
    at = _EXECUTE.size
    if len(body) < at + name_len + _EXECUTE_TAIL.size:
        raise WireError("EXECUTE body ends inside its device name or lengths")
    try:
        name = bytes(body[at : at + name_len]).decode("ascii")
    except UnicodeDecodeError:
        raise WireError("device name is not ASCII") from None
    check_device_name(name)
    at += name_len
    cdb_len, data_in_len, timeout_ms = _EXECUTE_TAIL.unpack_from(body, at)
    at += _EXECUTE_TAIL.size
    if not 0 < cdb_len <= MAX_CDB_LEN:
        raise WireError(f"CDB length {cdb_len} is outside 1..{MAX_CDB_LEN}")
    if len(body) < at + cdb_len:
        raise WireError(f"EXECUTE body ends inside its {cdb_len}-byte CDB")
    _check_len(data_in_len, "data-in length")
    cdb = bytes(body[at : at + cdb_len])
    return Execute(name, cdb, body[at + cdb_len :], data_in_len, timeout_ms)


# --- whole frames over a socket ---------------------------------------------------------------


class PeerClosed(EOFError):
    """The peer closed the connection cleanly between two frames."""


def _recv_exact(sock: socket.socket, length: int, *, first: bool) -> bytearray:
    buf = bytearray(length)
    view = memoryview(buf)
    got = 0
    while got < length:
        n = sock.recv_into(view[got:])
        if n == 0:
            if first and got == 0:
                raise PeerClosed("connection closed")
            raise WireError(f"connection closed after {got} of {length} bytes of a frame")
        got += n
    return buf


def read_message(sock: socket.socket) -> Message:
    """Read one whole frame. Raises ``PeerClosed`` at a clean end, ``WireError`` on garbage,
    ``OSError`` (``TimeoutError`` included) from the socket."""
    kind, body_len = decode_header(bytes(_recv_exact(sock, HEADER_LEN, first=True)))
    body = _recv_exact(sock, body_len, first=False) if body_len else bytearray()
    return decode_body(kind, body)


def write_message(sock: socket.socket, message: Message) -> None:
    """Send one whole frame (``OSError`` from the socket propagates)."""
    for piece in encode(message):
        if len(piece):
            sock.sendall(piece)
