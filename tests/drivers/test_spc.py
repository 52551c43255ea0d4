"""SpcDriver (the commands both device types share) against hwsim, and the SPC decoders on
the odd data real devices return (short, truncated, over-long)."""

from __future__ import annotations

import pytest

from drivers.errors import IllegalRequest, UnitAttention
from drivers.spc import PageControl, SpcDriver
from drivers.spc_data import (
    BlockDescriptor,
    MamAttribute,
    parse_attributes,
    parse_device_identification,
    parse_log_page,
    parse_mode_parameters,
    parse_standard_inquiry,
    parse_unit_serial,
)
from drivers.ssc import SscDriver
from tests.hwsim.conftest import Tape


def test_mode_sense_6_and_10_agree(ssc: SscDriver) -> None:
    six = ssc.mode_sense()
    ten = ssc.mode_sense(ten=True)
    assert six == ten
    assert set(six.pages) == {0x0A, 0x0F, 0x10}
    assert six.block_descriptors == (BlockDescriptor(0x5E, 0, 0),)
    assert ssc.mode_sense(0x0F, dbd=True).block_descriptors == ()
    changeable = ssc.mode_sense(0x0F, page_control=PageControl.CHANGEABLE).page(0x0F)
    assert changeable is not None and changeable.body[0] == 0x80  # only DCE may change
    with pytest.raises(IllegalRequest) as err:
        ssc.mode_sense(0x0F, page_control=PageControl.SAVED)
    assert err.value.sense.code == "39/00"


def test_mode_select_10_block_descriptor(ssc: SscDriver, tape: Tape) -> None:
    ssc.mode_select(descriptor=BlockDescriptor(0x7F, 0, 1024), device_specific=0x10, ten=True)
    assert tape.drive.block_size == 1024
    with pytest.raises(IllegalRequest) as err:
        ssc.mode_select(descriptor=BlockDescriptor(0x7F, 0, (1 << 23) + 1), device_specific=0x10)
    assert (err.value.sense.code, err.value.sense.field_pointer.in_cdb) == ("26/00", False)


def test_request_sense_reports_a_pending_unit_attention(empty_tape: Tape) -> None:
    spc = SpcDriver(empty_tape.transport)
    sense = spc.request_sense()
    assert sense is not None and sense.code == "29/00"
    descriptor = spc.request_sense(descriptor=True)
    assert descriptor is None  # the attention was consumed by the first REQUEST SENSE


def test_drain_unit_attentions_and_log_pages(empty_tape: Tape) -> None:
    spc = SpcDriver(empty_tape.transport)
    assert [s.code for s in spc.drain_unit_attentions()] == ["29/00"]
    assert spc.drain_unit_attentions() == []
    assert spc.supported_log_pages() == [0x00, 0x0C, 0x2E, 0x31]
    tapealert = spc.log_sense(0x2E)
    assert [p.code for p in tapealert.parameters] == list(range(1, 65))
    with pytest.raises(IllegalRequest):
        spc.log_sense(0x17)


def test_changer_has_no_log_pages_but_answers_spc(smc) -> None:
    assert smc.supported_log_pages() == [0x00]
    assert smc.report_luns() == [0]
    assert smc.mode_sense(0x1D).page(0x1D) is not None


def test_unit_attention_is_raised_by_commands_that_report_it(empty_tape: Tape) -> None:
    spc = SpcDriver(empty_tape.transport)
    assert spc.inquiry().vendor == "HWSIM"  # INQUIRY does not report unit attention
    with pytest.raises(UnitAttention):
        spc.mode_sense()


def test_read_attributes_reads_twice_when_the_list_is_long(ssc: SscDriver) -> None:
    attrs = ssc.read_attributes()
    assert attrs[MamAttribute.BARCODE].value == "000001L8"
    assert attrs[MamAttribute.LOAD_COUNT].value == 1
    assert attrs[MamAttribute.BARCODE].name == "BARCODE"
    assert not attrs[MamAttribute.BARCODE].read_only
    assert attrs[MamAttribute.MEDIUM_SERIAL_NUMBER].read_only
    later = ssc.read_attributes(first=0x0800)
    assert min(later) >= 0x0800


# --- decoders on odd data -----------------------------------------------------------------


def test_decoders_tolerate_short_and_truncated_data() -> None:
    inq = parse_standard_inquiry(b"\x01\x80\x06\x02\x1fIBM")
    assert (inq.peripheral_type, inq.removable, inq.vendor) == (1, True, "")
    assert parse_unit_serial(b"\x01\x80\x00\x0a  ABC123  ") == "ABC123"
    assert parse_unit_serial(b"\x01\x83\x00\x02ab") == ""  # wrong page
    cut = b"\x01\x83\x00\x20" + bytes([2, 1, 0, 30]) + b"IBM     ULT"
    ids = parse_device_identification(cut)
    assert ids[0].value == b"IBM     ULT"
    assert parse_mode_parameters(b"\x03", ten=False).pages == {}
    params = parse_mode_parameters(
        bytes([0x0B, 0, 0x10, 8, 0x5E, 0, 0, 0, 0, 0, 2, 0, 0xFF]), ten=False
    )
    assert (params.block_descriptors[0].block_length, params.device_specific) == (512, 0x10)
    page = parse_log_page(bytes([0x0C, 0, 0, 20]) + bytes([0, 1, 2, 8]) + b"\x00\x01")
    assert page.parameters[0].value == b"\x00\x01"
    assert parse_log_page(b"\x2e").parameters == ()
    attrs = parse_attributes(b"\x00\x00\x00\x40" + b"\x08\x06\x01\x00\x04AB  " + b"\x00")
    assert attrs[0x0806].value == "AB"
