"""drivers.cdb: declarative CDB layouts, encode/decode round trips, strict field names.

The SSC layouts are the driver's own (drivers/ssc_cdbs.py), so the exact-byte checks here hold
the real commands to the standard; INQUIRY and an SBC-style READ(6) are written for the test
only, to exercise field shapes the tape layouts do not use.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.cdb import CdbError, CdbLayout, Field, command_name, flag, uint
from drivers.ssc_cdbs import LOCATE_16, READ_6, SPACE_6
from hwsim.opcodes import SpcOpcode

# SPC-4 6.6 INQUIRY
INQUIRY = CdbLayout(
    "INQUIRY",
    SpcOpcode.INQUIRY,
    6,
    [
        flag("evpd", 1, 0),
        uint("page_code", 2, 1),
        uint("allocation_length", 3, 2),
        uint("control", 5, 1),
    ],
)
# SBC-style READ(6) LBA: 21 bits across a partial byte and two whole bytes
SBC_READ_6 = CdbLayout(
    "SBC READ(6)",
    0x08,
    6,
    [
        Field("lba", 1, 21),
        uint("transfer_length", 4, 1),
        uint("control", 5, 1),
    ],
)
LAYOUTS = [INQUIRY, READ_6, SPACE_6, LOCATE_16, SBC_READ_6]


def test_inquiry_bytes() -> None:
    cdb = INQUIRY.encode(evpd=True, page_code=0x80, allocation_length=0x1FF)
    assert cdb == bytes([0x12, 0x01, 0x80, 0x01, 0xFF, 0x00])
    assert INQUIRY.decode(cdb) == {
        "evpd": True,
        "page_code": 0x80,
        "allocation_length": 0x1FF,
        "control": 0,
    }


def test_read6_fixed_bytes() -> None:
    cdb = READ_6.encode(fixed=True, transfer_length=0x010203)
    assert cdb == bytes([0x08, 0x01, 0x01, 0x02, 0x03, 0x00])
    assert READ_6.encode(sili=True) == bytes([0x08, 0x02, 0, 0, 0, 0])


def test_space6_negative_count_is_twos_complement() -> None:
    cdb = SPACE_6.encode(code=1, count=-1)
    assert cdb == bytes([0x11, 0x01, 0xFF, 0xFF, 0xFF, 0x00])
    assert SPACE_6.decode(cdb)["count"] == -1
    assert SPACE_6.decode(SPACE_6.encode(count=-(2**23)))["count"] == -(2**23)


def test_locate16_bytes() -> None:
    cdb = LOCATE_16.encode(
        dest_type=0b011, cp=True, immed=True, partition=2, logical_identifier=0x0102030405060708
    )
    assert cdb == bytes([0x92, 0x1B, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0])


def test_field_spanning_a_partial_byte() -> None:
    cdb = SBC_READ_6.encode(lba=0x1FFFFF, transfer_length=8)
    assert cdb == bytes([0x08, 0x1F, 0xFF, 0xFF, 0x08, 0x00])
    raw = bytes([0x08, 0xE5, 0x00, 0x01, 0x00, 0x00])  # top 3 bits of byte 1 are reserved
    assert SBC_READ_6.decode(raw)["lba"] == 0x050001


def test_unknown_field_raises() -> None:
    with pytest.raises(CdbError, match=r"unknown field.*tranfer_length.*fields are"):
        READ_6.encode(tranfer_length=1)


@pytest.mark.parametrize(
    ("layout", "values"),
    [
        (READ_6, {"transfer_length": 1 << 24}),
        (READ_6, {"transfer_length": -1}),
        (READ_6, {"fixed": 2}),
        (SPACE_6, {"count": 1 << 23}),
        (SPACE_6, {"code": 16}),
        (LOCATE_16, {"dest_type": 8}),
    ],
)
def test_values_that_do_not_fit_raise(layout: CdbLayout, values: dict[str, int]) -> None:
    with pytest.raises(CdbError, match="does not fit"):
        layout.encode(**values)


def test_decode_rejects_wrong_opcode_and_length() -> None:
    with pytest.raises(CdbError, match="operation code 0x0A"):
        READ_6.decode(bytes([0x0A, 0, 0, 0, 0, 0]))
    with pytest.raises(CdbError, match="10 bytes, expected 6"):
        READ_6.decode(bytes(10))


@pytest.mark.parametrize(
    "fields",
    [
        [uint("a", 1, 2), uint("b", 2, 1)],  # overlap
        [uint("a", 5, 2)],  # past the end
        [uint("opcode", 1, 1)],  # byte 0 belongs to the opcode
        [Field("a", 0, 8)],
        [flag("a", 1, 0), flag("a", 1, 1)],  # twice
    ],
)
def test_bad_layouts_raise(fields: list[Field]) -> None:
    with pytest.raises(CdbError):
        CdbLayout("BAD", 0x00, 6, fields)


def _values(layout: CdbLayout) -> st.SearchStrategy[dict[str, int | bool]]:
    parts = {}
    for name, f in layout.fields.items():
        low, high = f.limits()
        parts[name] = st.booleans() if f.is_flag else st.integers(low, high)
    return st.fixed_dictionaries(parts)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.name)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_round_trip_values(layout: CdbLayout, data: st.DataObject) -> None:
    values = data.draw(_values(layout))
    cdb = layout.encode(**values)
    assert len(cdb) == layout.length and cdb[0] == layout.opcode
    assert layout.decode(cdb) == values
    assert layout.encode(**layout.decode(cdb)) == cdb


def _used_mask(layout: CdbLayout) -> bytes:
    mask = bytearray(layout.length)
    mask[0] = 0xFF
    for f in layout.fields.values():
        span = f.mask.to_bytes(f.span, "big")
        for i, m in enumerate(span):
            mask[f.byte + i] |= m
    return bytes(mask)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.name)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_round_trip_bytes(layout: CdbLayout, data: st.DataObject) -> None:
    """Any CDB with reserved bits zero decodes and re-encodes to the same bytes."""
    body = data.draw(st.binary(min_size=layout.length - 1, max_size=layout.length - 1))
    mask = _used_mask(layout)
    cdb = bytes([layout.opcode]) + bytes(b & m for b, m in zip(body, mask[1:], strict=True))
    assert layout.encode(**layout.decode(cdb)) == cdb


@pytest.mark.parametrize(
    ("cdb", "name"),
    [
        (bytes([0x00] * 6), "TEST UNIT READY"),
        (bytes([0x08] * 6), "READ(6)"),
        (bytes([0x10] * 6), "WRITE FILEMARKS(6)"),
        (bytes([0xB8] * 12), "READ ELEMENT STATUS"),
        (bytes([0x2B] * 10), "LOCATE(10) / POSITION TO ELEMENT"),
        (bytes([0xEE] * 6), "opcode 0xEE"),
        (b"", "empty CDB"),
    ],
)
def test_command_name(cdb: bytes, name: str) -> None:
    assert command_name(cdb) == name
