"""``allocate`` (pure): every key of every need or none, never a key someone holds, never one
key twice; the shortfall names the first need it could not meet and who holds its keys."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.manager import reasons
from engine.manager.resources import (
    Grant,
    Kind,
    Need,
    Request,
    Shortfall,
    allocate,
    drives,
    medium,
    streams,
)

KEYS = [f"k{i}" for i in range(6)]
needs = st.builds(
    Need,
    st.sampled_from(list(Kind)),
    st.just("g"),
    st.integers(1, 3),
    st.lists(st.sampled_from(KEYS), max_size=6, unique=True).map(tuple),
)
taken = st.dictionaries(
    st.tuples(st.sampled_from([k.value for k in Kind]), st.sampled_from(KEYS)), st.integers(1, 9)
)


@given(st.lists(needs, max_size=4), taken)
def test_all_or_nothing(ns: list[Need], held: dict[tuple[str, str], int]) -> None:
    request = Request(tuple(ns))
    result = allocate(request, held)
    if isinstance(result, Grant):
        chosen = [(k.value, key) for k, key, _ in result.keys]
        assert len(chosen) == len(set(chosen)) == sum(n.count for n in ns)
        assert not set(chosen) & set(held)
        for need in ns:
            mine = [key for k, key, _ in result.keys if k is need.kind]
            assert set(mine) <= set(c for n in ns if n.kind is need.kind for c in n.candidates)
    else:
        assert isinstance(result, Shortfall) and result.need in ns
        assert result.holders <= set(held.values())
        for key in result.need.candidates:
            if (result.need.kind.value, key) in held:
                assert held[(result.need.kind.value, key)] in result.holders


def test_reasons_name_the_resource() -> None:
    held = {("drive", "lib1:drive0"): 3, ("medium", "TAP001L8"): 4, ("stream", "P#0"): 5}
    short = allocate(Request((drives("lib1", ["lib1:drive0"]),)), held)
    assert isinstance(short, Shortfall) and short.reason == reasons.NO_DRIVES
    assert short.holders == {3}
    short = allocate(Request((medium("TAP001L8", "lib1"),)), held)
    assert isinstance(short, Shortfall) and short.reason == reasons.MEDIA_RESERVED
    short = allocate(Request((streams("P", 2, 2),)), held)
    assert isinstance(short, Shortfall) and short.reason == (
        "Not enough streams available for storage policy [P]. "
        "Need 2 stream(s) and 1 stream(s) are available."
    )
    short = allocate(Request((drives("lib1", [], unavailable=reasons.LIBRARY_OFFLINE),)), {})
    assert isinstance(short, Shortfall) and short.reason == "The library is offline."
