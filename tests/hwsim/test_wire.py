"""hwsim.wire: every message round-trips; garbage is rejected with WireError, never anything
else; bounds are enforced before allocation."""

from __future__ import annotations

import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsim import wire

names = st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True)
small_bytes = st.binary(max_size=2048)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)

messages = st.one_of(
    st.just(wire.Hello()),
    st.builds(
        wire.Execute,
        device=names,
        cdb=st.binary(min_size=1, max_size=wire.MAX_CDB_LEN),
        data_out=small_bytes,
        data_in_len=st.integers(0, wire.MAX_DATA_LEN),
        timeout_ms=st.integers(0, 2**32 - 1),
    ),
    st.builds(wire.Control, line=st.text(max_size=200)),
    st.builds(wire.HelloReply, info=st.dictionaries(st.text(max_size=8), json_values)),
    st.builds(
        wire.Result,
        status=st.integers(0, 255),
        sense=st.binary(max_size=wire.MAX_SENSE_LEN),
        data=small_bytes,
    ),
    st.builds(wire.NoResponseReply, reason=st.text(max_size=100)),
    st.builds(wire.ControlReply, reply=st.dictionaries(st.text(max_size=8), json_values)),
    st.builds(
        wire.ErrorReply, code=st.sampled_from(list(wire.ErrorCode)), message=st.text(max_size=80)
    ),
)


def frame(message: wire.Message) -> bytes:
    return b"".join(bytes(p) for p in wire.encode(message))


def unframe(raw: bytes) -> wire.Message:
    kind, length = wire.decode_header(raw[: wire.HEADER_LEN])
    body = raw[wire.HEADER_LEN :]
    assert len(body) == length
    return wire.decode_body(kind, body)


def normalise(message: wire.Message) -> wire.Message:
    """memoryview fields compare by content only after conversion to bytes."""
    if isinstance(message, wire.Execute):
        return wire.Execute(
            message.device,
            message.cdb,
            bytes(message.data_out),
            message.data_in_len,
            message.timeout_ms,
        )
    if isinstance(message, wire.Result):
        return wire.Result(message.status, message.sense, bytes(message.data))
    return message


@settings(max_examples=300, deadline=None)
@given(messages)
def test_round_trip(message: wire.Message) -> None:
    assert normalise(unframe(frame(message))) == normalise(message)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_round_trip_over_a_socket(message: wire.Message) -> None:
    left, right = socket.socketpair()
    with left, right:
        wire.write_message(left, message)
        assert normalise(wire.read_message(right)) == normalise(message)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_garbage_header_is_rejected_cleanly(raw: bytes) -> None:
    try:
        kind, length = wire.decode_header(raw)
    except wire.WireError:
        return
    assert raw[:4] == wire.MAGIC and length <= wire.MAX_BODY_LEN and kind in wire.Kind


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(wire.Kind)), st.binary(max_size=300))
def test_garbage_body_is_rejected_or_reencodes_identically(kind: wire.Kind, body: bytes) -> None:
    try:
        message = wire.decode_body(kind, body)
    except wire.WireError:
        return
    assert isinstance(message, wire.Message)
    if kind not in (wire.Kind.HELLO_REPLY, wire.Kind.CONTROL_REPLY):  # JSON spacing may differ
        assert frame(message)[wire.HEADER_LEN :] == body


@settings(max_examples=200, deadline=None)
@given(messages, st.data())
def test_truncated_stream_is_a_wire_error(message: wire.Message, data: st.DataObject) -> None:
    raw = frame(message)
    cut = data.draw(st.integers(1, len(raw) - 1)) if len(raw) > 1 else 0
    left, right = socket.socketpair()
    with left, right:
        left.sendall(raw[:cut])
        left.shutdown(socket.SHUT_WR)
        if cut == 0:
            with pytest.raises(wire.PeerClosed):
                wire.read_message(right)
        else:
            with pytest.raises(wire.WireError, match="connection closed after"):
                wire.read_message(right)


def header(magic=wire.MAGIC, version=wire.VERSION, kind=wire.Kind.HELLO, reserved=0, length=0):
    return struct.pack(">4sBBHI", magic, version, kind, reserved, length)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"GET / HTTP/1.1\r\n"[:12], "bad magic"),
        (header(version=2), "protocol version 2 is not supported"),
        (header(kind=0x42), "unknown message kind 0x42"),
        (header(reserved=7), "reserved header field must be 0"),
        (header(length=wire.MAX_BODY_LEN + 1), "exceeds the"),
        (b"TPHW", "header must be 12 bytes"),
    ],
)
def test_bad_headers_name_the_problem(raw: bytes, message: str) -> None:
    with pytest.raises(wire.WireError, match=message):
        wire.decode_header(raw)


def test_execute_bounds_are_enforced_both_ways() -> None:
    with pytest.raises(wire.WireError, match="CDB length 261"):
        wire.encode(wire.Execute("drive0", bytes(261)))
    with pytest.raises(wire.WireError, match="CDB length 0"):
        wire.encode(wire.Execute("drive0", b""))
    with pytest.raises(wire.WireError, match="data-in length"):
        wire.encode(wire.Execute("drive0", b"\x00", data_in_len=wire.MAX_DATA_LEN + 1))
    with pytest.raises(wire.WireError, match="device name"):
        wire.encode(wire.Execute("drive 0", b"\x00"))
    body = bytearray(frame(wire.Execute("drive0", b"\x12" * 6))[wire.HEADER_LEN :])
    body[1 + 6 : 1 + 6 + 2] = (300).to_bytes(2, "big")
    with pytest.raises(wire.WireError, match="CDB length 300"):
        wire.decode_body(wire.Kind.EXECUTE, bytes(body))


def test_result_sense_bound() -> None:
    with pytest.raises(wire.WireError, match="sense of 253 bytes"):
        wire.encode(wire.Result(2, bytes(253), b""))
    with pytest.raises(wire.WireError, match="ends inside its 18 sense bytes"):
        wire.decode_body(wire.Kind.RESULT, bytes([2, 18]) + bytes(5))


def test_control_reply_must_be_a_json_object() -> None:
    with pytest.raises(wire.WireError, match="not valid JSON"):
        wire.decode_body(wire.Kind.CONTROL_REPLY, b"{oops")
    with pytest.raises(wire.WireError, match="must be a JSON object"):
        wire.decode_body(wire.Kind.CONTROL_REPLY, b"[1, 2]")
    with pytest.raises(wire.WireError, match="not valid UTF-8"):
        wire.decode_body(wire.Kind.CONTROL, b"STATUS \xff")
