"""The shared mode-page machinery: MODE SELECT may change only changeable bits."""

from __future__ import annotations

import pytest

from hwsim.check import CheckCondition, Condition
from hwsim.spc import PAGE_CONTROL_CHANGEABLE, PAGE_CONTROL_CURRENT, PAGE_CONTROL_DEFAULT, ModePage


def _page(seen: list[bytes]) -> ModePage:
    return ModePage.build(0x0F, bytes([0x80, 0x00]), bytes([0x80, 0x00]), seen.append)


def test_changeable_bit_is_applied_and_reported() -> None:
    seen: list[bytes] = []
    page = _page(seen)
    page.select(bytes([0x0F, 2, 0x00, 0x00]), offset=4)
    assert page.image(PAGE_CONTROL_CURRENT) == bytes([0x0F, 2, 0x00, 0x00])
    assert page.image(PAGE_CONTROL_DEFAULT) == bytes([0x0F, 2, 0x80, 0x00])
    assert page.image(PAGE_CONTROL_CHANGEABLE) == bytes([0x0F, 2, 0x80, 0x00])
    assert seen == [bytes([0x0F, 2, 0x00, 0x00])]


def test_unchangeable_bit_is_refused_with_pointer_into_parameter_list() -> None:
    page = _page([])
    with pytest.raises(CheckCondition) as err:
        page.select(bytes([0x0F, 2, 0x80, 0x01]), offset=12)
    assert err.value.condition is Condition.INVALID_FIELD_IN_PARAMETER_LIST
    assert err.value.field is not None
    assert (err.value.field.byte, err.value.field.in_cdb) == (15, False)
    assert page.image(PAGE_CONTROL_CURRENT)[3] == 0


def test_wrong_page_length_is_refused() -> None:
    with pytest.raises(CheckCondition) as err:
        _page([]).select(bytes([0x0F, 3, 0, 0, 0]), offset=4)
    assert err.value.field is not None and err.value.field.byte == 5
