"""The media model: transition table, derived state sets, the freeze and drive-down rules,
selection for writing, and erase back to scratch. Rules run against MemoryMediaStore here and
against the SQLite catalog in tests/engine/test_catalog.py."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from devices.media import (
    ALLOWED,
    CLOSED,
    ERASE_REQUIRED,
    INITIAL_STATES,
    OUT_OF_SERVICE,
    QUARANTINED,
    TERMINAL,
    WRITABLE,
    ErrorKind,
    IllegalTransition,
    MediaError,
    MediaState,
    Medium,
    StaleMedium,
    UnknownMedium,
    choose_for_writing,
    erase_to_scratch,
    new_medium,
    transition,
)
from devices.media_memory import MemoryMediaStore
from devices.media_rules import (
    RULES_ACTOR,
    ErrorRules,
    change_state,
    drive_is_up,
    record_error,
    set_drive_state,
)

S = MediaState
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def medium(barcode: str = "A00001L8", state: MediaState = S.SCRATCH, pool: str = "daily") -> Medium:
    m, _ = new_medium(barcode, pool, "LTO-8", actor="test", now=T0)
    return Medium(**{**m.__dict__, "state": state})


def store_with(*barcodes: str) -> MemoryMediaStore:
    store = MemoryMediaStore()
    for barcode in barcodes:
        store.add_medium(*new_medium(barcode, "daily", "LTO-8", actor="test", now=T0))
    return store


def err(barcode: str, drive: str, at: datetime, kind: ErrorKind = ErrorKind.WRITE) -> MediaError:
    return MediaError(barcode, drive, kind, at, block=812, detail="MEDIUM ERROR 03/0C00")


# -- the table ---------------------------------------------------------------------------


def test_derived_sets_partition_the_states() -> None:
    groups = [WRITABLE, CLOSED, QUARANTINED, OUT_OF_SERVICE]
    assert set().union(*groups) == set(MediaState)
    for a, b in itertools.combinations(groups, 2):
        assert not a & b
    assert set(ALLOWED) == set(MediaState)
    assert {S.RETIRED} == TERMINAL


def test_every_pair_follows_the_table() -> None:
    for old, new in itertools.product(MediaState, repeat=2):
        m = medium(state=old)
        if new in ALLOWED[old]:
            moved, change = transition(m, new, reason="r", actor="op", now=T0 + HOUR, erased=True)
            assert moved.state is new and change.old is old and change.new is new
            assert (change.reason, change.actor, change.at) == ("r", "op", T0 + HOUR)
            assert moved.state_since == T0 + HOUR
        else:
            with pytest.raises(IllegalTransition, match=f"from {old.value} to {new.value}"):
                transition(m, new, reason="r", actor="op", erased=True)


def test_suspect_and_frozen_return_to_scratch_only_by_erase() -> None:
    assert {(S.SUSPECT, S.SCRATCH), (S.FROZEN, S.SCRATCH)} == ERASE_REQUIRED
    for state in (S.SUSPECT, S.FROZEN):
        with pytest.raises(IllegalTransition, match="only an erase or relabel"):
            transition(medium(state=state), S.SCRATCH, reason="recycle", actor="op")
        back, change = erase_to_scratch(
            medium(state=state), actor="op", reason="Relabeled.", now=T0 + HOUR
        )
        assert back.state is S.SCRATCH and change.old is state
        assert back.errors_cleared_at == T0 + HOUR
    # An appendable tape recycles to scratch without an erase (its retention expired).
    recycled, _ = transition(medium(state=S.APPENDABLE), S.SCRATCH, reason="expired", actor="op")
    assert recycled.errors_cleared_at is None


def test_registration_only_in_initial_states() -> None:
    for state in MediaState:
        if state in INITIAL_STATES:
            m, change = new_medium("B1", "p", "LTO-8", actor="op", state=state)
            assert change.old is None and m.state is state
        else:
            with pytest.raises(IllegalTransition, match="cannot be registered"):
                new_medium("B1", "p", "LTO-8", actor="op", state=state)


def test_store_refuses_stale_and_unknown() -> None:
    store = store_with("A1")
    m = store.get_medium("A1")
    assert m is not None
    full, change = transition(m, S.APPENDABLE, reason="first session", actor="engine")
    store.record_state_change(full, change)
    with pytest.raises(StaleMedium, match="another process"):
        store.record_state_change(*transition(m, S.FROZEN, reason="x", actor="y"))
    with pytest.raises(UnknownMedium):
        change_state(store, "NOPE", S.FULL, reason="x", actor="y")
    assert [c.new for c in store.state_history("A1")] == [S.SCRATCH, S.APPENDABLE]


# -- freeze rule -------------------------------------------------------------------------


def test_three_failures_within_window_freeze() -> None:
    store = store_with("A1")
    outcomes = [record_error(store, err("A1", f"d{i}", T0 + i * HOUR)) for i in range(3)]
    assert [o.medium_change for o in outcomes[:2]] == [None, None]
    frozen = outcomes[2].medium_change
    assert frozen is not None and frozen.new is S.FROZEN and frozen.actor == RULES_ACTOR
    assert frozen.reason == "3 errors within 24 h; last: write error in drive d2 at block 812."
    assert store.get_medium("A1").state is S.FROZEN  # type: ignore[union-attr]
    assert len(store.list_errors(barcode="A1")) == 3


def test_two_failures_do_not_freeze() -> None:
    store = store_with("A1")
    for i in range(2):
        assert record_error(store, err("A1", "d0", T0 + i * HOUR)).medium_change is None
    assert store.get_medium("A1").state is S.SCRATCH  # type: ignore[union-attr]


def test_three_failures_spread_beyond_window_do_not_freeze() -> None:
    store = store_with("A1")
    for at in (T0, T0 + 13 * HOUR, T0 + 26 * HOUR):  # any 24 h window holds only two
        assert record_error(store, err("A1", "d0", at)).medium_change is None
    # The window includes its ends: exactly 24 h after the second error still counts it.
    assert record_error(store, err("A1", "d0", T0 + 37 * HOUR)).medium_change is not None


def test_window_and_count_are_configurable() -> None:
    rules = ErrorRules(medium_failures=2, medium_window=timedelta(hours=1))
    store = store_with("A1")
    record_error(store, err("A1", "d0", T0), rules=rules)
    assert record_error(store, err("A1", "d0", T0 + 2 * HOUR), rules=rules).medium_change is None
    frozen = record_error(store, err("A1", "d0", T0 + 2.5 * HOUR), rules=rules).medium_change
    assert frozen is not None and "2 errors within 1 h" in frozen.reason


def test_errors_before_an_erase_no_longer_count() -> None:
    store = store_with("A1")
    for i in range(3):
        record_error(store, err("A1", "d0", T0 + i * HOUR))
    change_state(
        store, "A1", S.SCRATCH, reason="Erased.", actor="op", erased=True, now=T0 + 3 * HOUR
    )
    assert record_error(store, err("A1", "d0", T0 + 4 * HOUR)).medium_change is None
    assert store.get_medium("A1").state is S.SCRATCH  # type: ignore[union-attr]


def test_power_loss_makes_suspect_and_is_not_a_failure() -> None:
    store = store_with("A1")
    change_state(store, "A1", S.APPENDABLE, reason="first session", actor="engine", now=T0)
    for i in range(3):
        out = record_error(store, err("A1", "d0", T0 + i * HOUR, ErrorKind.POWER_LOSS))
        assert (out.medium_change is not None) == (i == 0)
    assert store.get_medium("A1").state is S.SUSPECT  # type: ignore[union-attr]
    assert out.drive_down is None


# -- drive rule --------------------------------------------------------------------------


def test_three_different_tapes_failing_mark_the_drive_down() -> None:
    store = store_with("A1", "A2", "A3")
    outs = [
        record_error(store, err(b, "drive0", T0 + i * HOUR))
        for i, b in enumerate(["A1", "A2", "A3"])
    ]
    assert [o.drive_down for o in outs[:2]] == [None, None]
    down = outs[2].drive_down
    assert down is not None and not down.up
    assert down.reason == "3 different media failed in it within 24 h (A1, A2, A3)."
    assert not drive_is_up(store, "drive0")
    assert drive_is_up(store, "drive1")
    # No tape failed 3 times: none is frozen.
    assert all(m.state is S.SCRATCH for m in store.list_media())


def test_same_tape_failing_three_times_does_not_mark_the_drive_down() -> None:
    store = store_with("A1", "A2")
    for i in range(3):
        assert record_error(store, err("A1", "drive0", T0 + i * HOUR)).drive_down is None
    assert record_error(store, err("A2", "drive0", T0 + 4 * HOUR)).drive_down is None
    assert drive_is_up(store, "drive0")


def test_different_tapes_outside_the_window_or_before_service_do_not_count() -> None:
    store = store_with("A1", "A2", "A3", "A4")
    record_error(store, err("A1", "drive0", T0))
    record_error(store, err("A2", "drive0", T0 + 20 * HOUR))
    assert record_error(store, err("A3", "drive0", T0 + 25 * HOUR)).drive_down is None
    set_drive_state(store, "drive0", up=True, reason="Serviced.", actor="op", now=T0 + 26 * HOUR)
    assert record_error(store, err("A4", "drive0", T0 + 27 * HOUR)).drive_down is None


# -- selection ---------------------------------------------------------------------------


def test_never_selects_unwritable_media() -> None:
    candidates = [medium(f"X{i}", state) for i, state in enumerate(MediaState)]
    chosen = choose_for_writing(candidates, "daily")
    assert chosen is not None and chosen.state is S.APPENDABLE
    only_bad = [m for m in candidates if m.state not in WRITABLE]
    assert choose_for_writing(only_bad, "daily") is None


def test_suspect_is_never_chosen_even_when_alone() -> None:
    store = store_with("A1")
    record_error(store, err("A1", "d0", T0, ErrorKind.POWER_LOSS))
    assert choose_for_writing(store.list_media(pool="daily"), "daily") is None


def test_selection_prefers_appendable_then_scratch_by_barcode() -> None:
    a_late = Medium(**{**medium("B2", S.APPENDABLE).__dict__, "state_since": T0 + HOUR})
    a_early = medium("B9", S.APPENDABLE)
    scratch = [medium("C3"), medium("C1")]
    other_pool = medium("A0", S.APPENDABLE, pool="weekly")
    pool = [a_late, a_early, *scratch, other_pool]
    assert choose_for_writing(pool, "daily").barcode == "B9"  # type: ignore[union-attr]
    assert choose_for_writing(pool, "daily", exclude=["B9", "B2"]).barcode == "C1"  # type: ignore[union-attr]
    assert choose_for_writing(pool, "daily", media_type="LTO-9") is None
    assert choose_for_writing(pool, "weekly").barcode == "A0"  # type: ignore[union-attr]
