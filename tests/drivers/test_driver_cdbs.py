"""Every CDB layout the drivers use, ours and PYSCSI's: encode -> decode -> same bytes,
for field values drawn by Hypothesis, plus strictness (unknown fields, overflow)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import pyscsi_cdb, spc_cdbs, ssc_cdbs
from drivers.cdb import CdbError, CdbLayout
from drivers.pyscsi_cdb import PyscsiLayout, _width

OUR_LAYOUTS = [*spc_cdbs.LAYOUTS, *ssc_cdbs.LAYOUTS]
ALL_LAYOUTS = [*OUR_LAYOUTS, *pyscsi_cdb.ALL_LAYOUTS]


def _field_values(layout: CdbLayout | PyscsiLayout) -> st.SearchStrategy[dict[str, int]]:
    strategies = {}
    if isinstance(layout, CdbLayout):
        for name, f in layout.fields.items():
            low, high = f.limits()
            strategies[name] = st.integers(low, high)
    else:
        for name in layout.fields:
            _, width = _width(layout.table[name][0])
            strategies[name] = st.integers(0, (1 << width) - 1)
    return st.fixed_dictionaries(strategies)


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_round_trip(layout: CdbLayout | PyscsiLayout) -> None:
    @settings(max_examples=60, deadline=None)
    @given(_field_values(layout))
    def check(values: dict[str, int]) -> None:
        cdb = layout.encode(**values)
        assert len(cdb) == layout.length and cdb[0] == layout.opcode
        decoded = layout.decode(cdb)
        assert {k: int(v) for k, v in decoded.items()} == values
        assert layout.encode(**decoded) == cdb

    check()


@pytest.mark.parametrize("layout", pyscsi_cdb.ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_pyscsi_layouts_are_strict(layout: PyscsiLayout) -> None:
    with pytest.raises(CdbError, match="unknown field"):
        layout.encode(no_such_field=1)
    for name in layout.fields:
        _, width = _width(layout.table[name][0])
        with pytest.raises(CdbError, match="does not fit"):
            layout.encode(**{name: 1 << width})
    with pytest.raises(CdbError):
        layout.decode(bytes(layout.length + 1))


def test_exact_bytes_of_a_few_commands() -> None:
    assert pyscsi_cdb.READ_ELEMENT_STATUS.encode(
        voltag=1,
        element_type=4,
        starting_element_address=0x100,
        num_elements=2,
        dvcid=1,
        alloc_len=0x1234,
    ) == bytes.fromhex("b814 0100 0002 01 001234 0000")
    assert pyscsi_cdb.MOVE_MEDIUM.encode(source_address=0x1000, destination_address=0x100) == (
        bytes.fromhex("a500 0000 1000 0100 0000 0000")
    )
    assert ssc_cdbs.SPACE_6.encode(code=1, count=-2) == bytes.fromhex("1101 fffffe 00")
    assert ssc_cdbs.WRITE_6.encode(fixed=True, transfer_length=3) == bytes.fromhex("0a01 000003 00")
    assert ssc_cdbs.LOAD_UNLOAD.encode(load=True) == bytes.fromhex("1b00 0000 0100")
    assert spc_cdbs.LOG_SENSE.encode(pc=1, page_code=0x2E, allocation_length=0x200) == (
        bytes.fromhex("4d00 6e00 0000 0002 0000")
    )
