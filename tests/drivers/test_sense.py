"""drivers.sense: one parser for fixed and descriptor sense, tolerant and never raising.

Sense under test comes from hwsim's one builder (hwsim/sense.py) for every Condition, from
hand-written bytes for the deviations real devices show, and from Hypothesis for garbage.
Names are cross-checked with Debian's sg_decode_sense.
"""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.asc_table import RANGES, asc_name, assignments, known
from drivers.sense import FieldPointer, Sense, SenseKey, parse_sense
from hwsim.check import CheckCondition, Condition
from hwsim.check import FieldPointer as SimFieldPointer
from hwsim.sense import build_sense

FORMATS = pytest.mark.parametrize("descriptor", [False, True], ids=["fixed", "descriptor"])


def _fixed(
    key: int,
    asc: int,
    ascq: int,
    *,
    flags: int = 0,
    info: bytes = bytes(4),
    valid: bool = False,
    sks: bytes = bytes(3),
    code: int = 0x70,
) -> bytes:
    """18-byte fixed sense written out field by field (SPC-4 table 48)."""
    return (
        bytes([code | (0x80 if valid else 0), 0, flags | key])
        + info
        + bytes([10])
        + bytes(4)
        + bytes([asc, ascq, 0])
        + sks
    )


# --- every hwsim condition, both formats -----------------------------------------------------


@FORMATS
@pytest.mark.parametrize("condition", list(Condition), ids=lambda c: c.name)
def test_every_condition_round_trips(condition: Condition, descriptor: bool) -> None:
    raw = build_sense(CheckCondition(condition), descriptor=descriptor)
    sense = parse_sense(raw)
    assert sense is not None
    assert (sense.key, sense.asc, sense.ascq) == (condition.key, condition.asc, condition.ascq)
    assert isinstance(sense.key, SenseKey)
    assert sense.descriptor_format is descriptor
    assert not (sense.filemark or sense.eom or sense.ili or sense.deferred or sense.valid)
    assert sense.information is None
    assert sense.field_pointer is None
    assert sense.raw == raw


@pytest.mark.parametrize("condition", list(Condition), ids=lambda c: c.name)
def test_every_condition_is_named(condition: Condition) -> None:
    name = asc_name(condition.asc, condition.ascq)
    if condition.asc < 0x80 and condition.ascq < 0x80:
        assert known(condition.asc, condition.ascq), name
        assert not name.startswith("ASC 0x")
    else:
        assert name.startswith(f"ASC 0x{condition.asc:02X} ASCQ 0x{condition.ascq:02X}")


@FORMATS
@pytest.mark.parametrize("information", [0, 1, -1, 42, -(2**31), 2**31 - 1])
@pytest.mark.parametrize(
    "flags",
    [(True, False, False), (False, True, False), (False, False, True), (True, True, True)],
    ids=["filemark", "eom", "ili", "all"],
)
def test_flags_and_signed_information(
    descriptor: bool, information: int, flags: tuple[bool, bool, bool]
) -> None:
    filemark, eom, ili = flags
    cc = CheckCondition(
        Condition.FILEMARK_DETECTED, information=information, filemark=filemark, eom=eom, ili=ili
    )
    sense = parse_sense(build_sense(cc, descriptor=descriptor))
    assert sense is not None
    assert (sense.filemark, sense.eom, sense.ili) == flags
    assert sense.information == information
    assert sense.valid


def test_descriptor_information_is_64_bit_signed() -> None:
    cc = CheckCondition(Condition.END_OF_DATA_DETECTED, information=-(2**40))
    sense = parse_sense(build_sense(cc, descriptor=True))
    assert sense is not None and sense.information == -(2**40)


@FORMATS
@pytest.mark.parametrize(
    "pointer",
    [
        SimFieldPointer(4),
        SimFieldPointer(1, 0),
        SimFieldPointer(9, 7),
        SimFieldPointer(300, 3, False),
    ],
    ids=repr,
)
def test_field_pointer(descriptor: bool, pointer: SimFieldPointer) -> None:
    condition = (
        Condition.INVALID_FIELD_IN_CDB
        if pointer.in_cdb
        else Condition.INVALID_FIELD_IN_PARAMETER_LIST
    )
    sense = parse_sense(
        build_sense(CheckCondition(condition, field=pointer), descriptor=descriptor)
    )
    assert sense is not None
    assert sense.field_pointer == FieldPointer(pointer.byte, pointer.bit, pointer.in_cdb)
    where = "CDB" if pointer.in_cdb else "parameter list"
    assert f"{where} byte {pointer.byte}" in sense.describe()


@FORMATS
def test_deferred(descriptor: bool) -> None:
    cc = CheckCondition(Condition.WRITE_ERROR, information=3, deferred=True)
    sense = parse_sense(build_sense(cc, descriptor=descriptor))
    assert sense is not None
    assert sense.deferred
    assert sense.response_code == (0x73 if descriptor else 0x71)
    assert sense.describe().startswith("deferred error: MEDIUM ERROR: WRITE ERROR (0C/00)")


# --- deviations real devices show --------------------------------------------------------------


def test_eom_with_asc_00_00() -> None:
    sense = parse_sense(_fixed(0x0, 0x00, 0x00, flags=0x40))
    assert sense is not None
    assert sense.eom and sense.key == SenseKey.NO_SENSE and (sense.asc, sense.ascq) == (0, 0)


def test_blank_check_with_eom_bit() -> None:
    sense = parse_sense(_fixed(0x8, 0x00, 0x05, flags=0x40, info=struct.pack(">i", 12), valid=True))
    assert sense is not None
    assert sense.key == SenseKey.BLANK_CHECK and sense.eom and sense.information == 12
    assert sense.name == "END-OF-DATA DETECTED"


def test_information_without_valid_bit_is_kept_but_not_valid() -> None:
    sense = parse_sense(_fixed(0x3, 0x11, 0x00, info=struct.pack(">i", -7), valid=False))
    assert sense is not None
    assert sense.information == -7 and not sense.valid
    assert "information -7 (not valid)" in sense.describe()


def test_zero_information_without_valid_bit_is_absent() -> None:
    sense = parse_sense(_fixed(0x3, 0x11, 0x00))
    assert sense is not None and sense.information is None and not sense.valid


def test_valid_zero_information_is_kept() -> None:
    sense = parse_sense(_fixed(0x0, 0x00, 0x01, flags=0x80, valid=True))
    assert sense is not None and sense.information == 0 and sense.valid


def test_fixed_sense_truncated_to_8_bytes() -> None:
    raw = _fixed(0x2, 0x3A, 0x00, info=struct.pack(">i", 5), valid=True)[:8]
    sense = parse_sense(raw)
    assert sense is not None
    assert sense.key == SenseKey.NOT_READY and sense.information == 5
    assert sense.asc is None and sense.ascq is None
    assert sense.code == "--/--" and "truncated" in sense.name


@pytest.mark.parametrize("length", range(1, 18))
def test_every_truncation_of_fixed_sense(length: int) -> None:
    full = _fixed(0x5, 0x24, 0x00, flags=0x20, sks=bytes([0xC0, 0, 2]))
    sense = parse_sense(full[:length])
    assert sense is not None
    assert sense.key == (SenseKey.ILLEGAL_REQUEST if length > 2 else SenseKey.NO_SENSE)
    assert (sense.asc == 0x24) is (length > 12)
    assert (sense.field_pointer is not None) is (length >= 18)


def test_additional_length_larger_than_buffer() -> None:
    raw = bytearray(_fixed(0x3, 0x0C, 0x00))
    raw[7] = 244
    sense = parse_sense(bytes(raw))
    assert sense is not None and (sense.key, sense.asc) == (SenseKey.MEDIUM_ERROR, 0x0C)
    cc = CheckCondition(Condition.FILEMARK_DETECTED, information=9, filemark=True)
    desc = bytearray(build_sense(cc, descriptor=True))
    desc[7] = 200
    sense = parse_sense(bytes(desc))
    assert sense is not None and sense.filemark and sense.information == 9


def test_fixed_sense_with_understated_additional_length_still_reads_asc() -> None:
    raw = bytearray(_fixed(0x6, 0x29, 0x00))
    raw[7] = 0
    sense = parse_sense(bytes(raw))
    assert sense is not None and (sense.asc, sense.ascq) == (0x29, 0x00)


def test_descriptor_cut_inside_a_descriptor() -> None:
    cc = CheckCondition(Condition.UNRECOVERED_READ_ERROR, information=77, ili=True)
    raw = build_sense(cc, descriptor=True)
    sense = parse_sense(raw[:14])  # information descriptor cut after 6 of its 12 bytes
    assert sense is not None
    assert sense.key == SenseKey.MEDIUM_ERROR and sense.information is None and not sense.ili


def test_descriptor_header_only() -> None:
    sense = parse_sense(bytes([0x72, 0x06, 0x28, 0x00]))
    assert sense is not None and sense.key == SenseKey.UNIT_ATTENTION and sense.asc == 0x28


@pytest.mark.parametrize(
    "raw", [b"", None, bytes([0x00] * 18), bytes([0x7F, 0, 3]), bytes([0x74] + [0] * 17)], ids=repr
)
def test_no_sense_or_unknown_format_is_none(raw: bytes | None) -> None:
    assert parse_sense(raw) is None


def test_progress_indication_and_retry_count() -> None:
    becoming = parse_sense(_fixed(0x2, 0x04, 0x01, sks=bytes([0x80, 0x80, 0x00])))
    assert becoming is not None and becoming.progress == 0.5
    assert "progress 50%" in becoming.describe()
    retries = parse_sense(_fixed(0x1, 0x17, 0x01, sks=bytes([0x80, 0x00, 0x03])))
    assert retries is not None and retries.retry_count == 3 and retries.progress is None
    unset = parse_sense(_fixed(0x2, 0x04, 0x01, sks=bytes([0x00, 0x80, 0x00])))
    assert unset is not None and unset.progress is None and unset.sense_key_specific is None


def test_block_commands_descriptor_ili() -> None:
    raw = bytes([0x72, 0x03, 0x11, 0x00, 0, 0, 0, 4, 0x05, 0x02, 0x00, 0x20])
    sense = parse_sense(raw)
    assert sense is not None and sense.ili and not sense.eom


def test_memoryview_and_bytearray_input() -> None:
    raw = build_sense(CheckCondition(Condition.WRITE_PROTECTED))
    for form in (bytearray(raw), memoryview(raw)):
        sense = parse_sense(form)
        assert sense is not None and sense.matches(SenseKey.DATA_PROTECT, 0x27, 0x00)


def test_sense_is_frozen() -> None:
    sense = parse_sense(build_sense(CheckCondition(Condition.POWER_ON_RESET)))
    assert isinstance(sense, Sense)
    with pytest.raises(AttributeError):
        sense.asc = 1  # type: ignore[misc]


# --- ASC/ASCQ names ----------------------------------------------------------------------------


def test_table_is_complete_and_well_formed() -> None:
    table = assignments()
    assert len(table) > 700
    for (asc, ascq), name in table.items():
        assert 0 <= asc < 0x80 and 0 <= ascq <= 0xFF
        assert name and name == name.upper() and name == name.strip()


@pytest.mark.parametrize(
    ("asc", "ascq", "name"),
    [
        (0x00, 0x00, "NO ADDITIONAL SENSE INFORMATION"),
        (0x00, 0x02, "END-OF-PARTITION/MEDIUM DETECTED"),
        (0x00, 0x07, "PROGRAMMABLE EARLY WARNING DETECTED"),
        (0x14, 0x03, "END-OF-DATA NOT FOUND"),
        (0x3A, 0x00, "MEDIUM NOT PRESENT"),
        (0x3B, 0x0E, "MEDIUM SOURCE ELEMENT EMPTY"),
        (0x40, 0x00, "RAM FAILURE (SHOULD USE 40 NN)"),
        (0x40, 0x91, "DIAGNOSTIC FAILURE ON COMPONENT 91h"),
        (0x4D, 0x05, "TAGGED OVERLAPPED COMMANDS (TASK TAG 05h)"),
        (0x70, 0x0A, "DECOMPRESSION EXCEPTION SHORT ALGORITHM ID OF 0Ah"),
        (0x83, 0x05, "ASC 0x83 ASCQ 0x05 (vendor specific)"),
        (0x04, 0x83, "ASC 0x04 ASCQ 0x83 (vendor specific qualifier)"),
        (0x7B, 0x05, "ASC 0x7B ASCQ 0x05"),
        (0x40, 0x05, "ASC 0x40 ASCQ 0x05"),
    ],
)
def test_names(asc: int, ascq: int, name: str) -> None:
    assert asc_name(asc, ascq) == name


def test_every_code_pair_has_a_name() -> None:
    for asc in range(256):
        for ascq in range(256):
            assert asc_name(asc, ascq)
    assert {r.asc for r in RANGES} == {0x40, 0x4D, 0x70}


def test_unknown_asc_in_sense_is_hex_not_a_crash() -> None:
    sense = parse_sense(_fixed(0x4, 0x83, 0x05))
    assert sense is not None
    assert sense.name.startswith("ASC 0x83 ASCQ 0x05")
    assert sense.describe().startswith("HARDWARE ERROR: ASC 0x83 ASCQ 0x05")


# --- never raises ------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    sense = parse_sense(raw)
    assert sense is None or isinstance(sense.describe(), str)


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from([0x70, 0x71, 0x72, 0x73, 0xF0, 0xF1]), st.binary(max_size=260))
def test_arbitrary_sense_bodies_never_raise(code: int, body: bytes) -> None:
    sense = parse_sense(bytes([code]) + body)
    assert sense is not None
    assert isinstance(sense.key, SenseKey)
    assert isinstance(sense.describe(), str) and isinstance(sense.name, str)


# --- cross-check with sg3_utils -----------------------------------------------------------------

SG_DECODE_SENSE = shutil.which("sg_decode_sense")


def _sg_decode(raw: bytes) -> dict[str, str]:
    out = subprocess.run(
        [SG_DECODE_SENSE, *raw.hex(" ").split()],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    fields = {}
    for line in out.splitlines():
        if "Sense key:" in line:
            fields["key"] = line.split("Sense key:")[1].strip()
        if line.startswith("Additional sense:"):
            fields["asc"] = line.split(":", 1)[1].strip()
    return fields


@pytest.mark.sg3
@pytest.mark.skipif(SG_DECODE_SENSE is None, reason="sg3-utils not installed")
@FORMATS
@pytest.mark.parametrize(
    "condition",
    [
        Condition.MEDIUM_NOT_PRESENT,
        Condition.END_OF_DATA_DETECTED,
        Condition.WRITE_PROTECTED,
        Condition.END_OF_DATA_NOT_FOUND,
        Condition.MEDIUM_SOURCE_ELEMENT_EMPTY,
        Condition.POWER_ON_RESET,
        Condition.PHYSICAL_END_OF_MEDIUM,
        Condition.CLEANING_REQUESTED,
    ],
    ids=lambda c: c.name,
)
def test_names_agree_with_sg_decode_sense(condition: Condition, descriptor: bool) -> None:
    raw = build_sense(CheckCondition(condition, information=3, eom=True), descriptor=descriptor)
    sense = parse_sense(raw)
    theirs = _sg_decode(raw)
    assert sense is not None
    assert theirs["key"].upper() == sense.key.label
    assert theirs["asc"].upper() == sense.name
