"""hwsim's one sense builder: byte layout of fixed and descriptor sense (SPC-4 4.5)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwsim.check import CheckCondition, Condition, FieldPointer, SenseKey, invalid_cdb_field
from hwsim.sense import build_sense


def test_fixed_sense_carries_key_asc_ascq_and_length() -> None:
    sense = build_sense(CheckCondition(Condition.MEDIUM_NOT_PRESENT))
    assert len(sense) == 18
    assert sense[0] == 0x70  # current, VALID clear: no information
    assert sense[2] & 0x0F == SenseKey.NOT_READY
    assert sense[7] == 10
    assert (sense[12], sense[13]) == (0x3A, 0x00)


def test_fixed_sense_stream_flags_and_negative_information() -> None:
    cc = CheckCondition(
        Condition.NO_ADDITIONAL_SENSE, information=-512, ili=True, filemark=False, eom=True
    )
    sense = build_sense(cc)
    assert sense[0] == 0xF0  # VALID | current
    assert sense[2] == 0x40 | 0x20 | SenseKey.NO_SENSE
    assert struct.unpack(">i", sense[3:7])[0] == -512


def test_fixed_sense_deferred_error_code() -> None:
    sense = build_sense(CheckCondition(Condition.WRITE_ERROR, deferred=True))
    assert sense[0] & 0x7F == 0x71


def test_fixed_sense_field_pointer_in_cdb_with_bit() -> None:
    sense = build_sense(invalid_cdb_field(4, 1))
    assert sense[15] == 0x80 | 0x40 | 0x08 | 1  # SKSV, C/D, BPV, bit 1
    assert struct.unpack(">H", sense[16:18])[0] == 4


def test_fixed_sense_field_pointer_in_parameter_list() -> None:
    cc = CheckCondition(
        Condition.INVALID_FIELD_IN_PARAMETER_LIST, field=FieldPointer(9, None, in_cdb=False)
    )
    sense = build_sense(cc)
    assert sense[15] == 0x80
    assert struct.unpack(">H", sense[16:18])[0] == 9


def _descriptors(sense: bytes) -> dict[int, bytes]:
    out, i = {}, 8
    while i + 2 <= len(sense):
        code, length = sense[i], sense[i + 1]
        out[code] = sense[i : i + 2 + length]
        i += 2 + length
    return out


def test_descriptor_sense_layout() -> None:
    cc = CheckCondition(Condition.FILEMARK_DETECTED, information=3, filemark=True)
    sense = build_sense(cc, descriptor=True)
    assert sense[0] == 0x72
    assert (sense[1], sense[2], sense[3]) == (SenseKey.NO_SENSE, 0x00, 0x01)
    assert sense[7] == len(sense) - 8
    descs = _descriptors(sense)
    assert descs[0x00][2] == 0x80 and struct.unpack(">q", descs[0x00][4:12])[0] == 3
    assert descs[0x04][3] == 0x80


def test_descriptor_sense_without_extras_is_header_only() -> None:
    sense = build_sense(CheckCondition(Condition.POWER_ON_RESET), descriptor=True)
    assert sense == bytes([0x72, SenseKey.UNIT_ATTENTION, 0x29, 0x00, 0, 0, 0, 0])


@pytest.mark.parametrize("condition", list(Condition))
def test_every_condition_encodes_its_triple_in_both_formats(condition: Condition) -> None:
    fixed = build_sense(CheckCondition(condition))
    desc = build_sense(CheckCondition(condition), descriptor=True)
    assert (fixed[2] & 0x0F, fixed[12], fixed[13]) == condition.value
    assert (desc[1], desc[2], desc[3]) == condition.value


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_information_round_trips_signed_in_both_formats(info: int) -> None:
    cc = CheckCondition(Condition.NO_ADDITIONAL_SENSE, information=info, ili=True)
    assert struct.unpack(">i", build_sense(cc)[3:7])[0] == info
    desc = _descriptors(build_sense(cc, descriptor=True))
    assert struct.unpack(">q", desc[0x00][4:12])[0] == info
