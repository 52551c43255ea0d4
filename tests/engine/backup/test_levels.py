"""Levels: base run selection and the per-file decision, on real scanned files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.backup.levels import (
    BaseChoice,
    ChangeReason,
    Criteria,
    Level,
    LevelFilter,
    PreviousRecord,
    RunSummary,
    choose_base,
)
from engine.backup.scan import FileEntry, Kind, scan

FULL1 = RunSummary(1, Level.FULL, 100, usable=True)
INCR2 = RunSummary(2, Level.INCREMENTAL, 200, usable=True)
FULL3_FAILED = RunSummary(3, Level.FULL, 300, usable=False)
DIFF4 = RunSummary(4, Level.DIFFERENTIAL, 400, usable=True)


def test_full_needs_no_base() -> None:
    assert choose_base(Level.FULL, [FULL1, INCR2]) == BaseChoice(Level.FULL, None, None)


def test_incremental_uses_the_latest_usable_run_of_any_level() -> None:
    assert choose_base(Level.INCREMENTAL, [DIFF4, FULL1, FULL3_FAILED, INCR2]).base == DIFF4
    assert choose_base(Level.INCREMENTAL, [FULL1, INCR2, FULL3_FAILED]).base == INCR2


def test_differential_uses_the_latest_usable_full() -> None:
    choice = choose_base(Level.DIFFERENTIAL, [FULL1, INCR2, FULL3_FAILED, DIFF4])
    assert choice == BaseChoice(Level.DIFFERENTIAL, FULL1, None)


@pytest.mark.parametrize(
    ("requested", "history", "why"),
    [
        (Level.INCREMENTAL, [], "no usable backup"),
        (Level.INCREMENTAL, [FULL3_FAILED], "no usable backup"),
        (Level.DIFFERENTIAL, [INCR2, FULL3_FAILED], "no usable full backup"),
    ],
)
def test_promoted_to_full_without_a_base(
    requested: Level, history: list[RunSummary], why: str
) -> None:
    choice = choose_base(requested, history)
    assert (choice.level, choice.base) == (Level.FULL, None)
    assert choice.promoted is not None and choice.promoted.startswith(why)
    assert requested.value in choice.promoted


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, FileEntry]:
    (tmp_path / "f").write_bytes(b"12345")
    (tmp_path / "d").mkdir()
    (tmp_path / "l").symlink_to("f")
    return {e.relpath: e for e in scan(tmp_path)}


def record(entry: FileEntry, **changes: object) -> PreviousRecord:
    fields = dict(
        kind=entry.kind,
        size=entry.size,
        mtime_ns=entry.mtime_ns,
        ctime_ns=entry.ctime_ns,
        ino=entry.ino,
        clean=True,
    )
    fields.update(changes)
    return PreviousRecord(**fields)  # type: ignore[arg-type]


AFTER_ALL_WRITES = 2**62
"""A base run that started after every file's last change: nothing is racy."""


def decide(entry: FileEntry, previous: PreviousRecord | None, started_ns: int = AFTER_ALL_WRITES):
    base = RunSummary(9, Level.FULL, started_ns, usable=True)
    choice = BaseChoice(Level.INCREMENTAL, base, None)
    return LevelFilter(choice, {entry.relpath: previous}.get).decide(entry)


def test_full_stores_everything(tree: dict[str, FileEntry]) -> None:
    f = LevelFilter(choose_base(Level.FULL, []))
    assert all(f.decide(e).reasons == (ChangeReason.FULL,) for e in tree.values())


def test_unchanged_file_is_not_stored(tree: dict[str, FileEntry]) -> None:
    decision = decide(tree["f"], record(tree["f"]))
    assert (decision.store, decision.reasons) == (False, ())


def test_new_file_is_stored(tree: dict[str, FileEntry]) -> None:
    assert decide(tree["f"], None).reasons == (ChangeReason.NEW,)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"size": 4}, ChangeReason.SIZE),
        ({"mtime_ns": 1}, ChangeReason.MTIME),
        ({"ctime_ns": 1}, ChangeReason.CTIME),
        ({"ino": 1}, ChangeReason.INODE),
        ({"clean": False}, ChangeReason.PREVIOUS_EXCEPTION),
    ],
)
def test_each_field_counts(tree: dict[str, FileEntry], change: dict, reason: ChangeReason) -> None:
    decision = decide(tree["f"], record(tree["f"], **change))
    assert (decision.store, decision.reasons) == (True, (reason,))


def test_all_reasons_are_listed(tree: dict[str, FileEntry]) -> None:
    previous = record(tree["f"], size=1, mtime_ns=1, ctime_ns=1, ino=1, clean=False)
    assert decide(tree["f"], previous).reasons == (
        ChangeReason.SIZE,
        ChangeReason.MTIME,
        ChangeReason.CTIME,
        ChangeReason.INODE,
        ChangeReason.PREVIOUS_EXCEPTION,
    )


def test_kind_change_is_stored(tree: dict[str, FileEntry]) -> None:
    assert decide(tree["f"], record(tree["f"], kind=Kind.SYMLINK)).reasons == (ChangeReason.KIND,)


def test_non_regular_items_are_always_stored(tree: dict[str, FileEntry]) -> None:
    for name in ("d", "l", "."):
        assert decide(tree[name], record(tree[name])).reasons == (ChangeReason.ALWAYS,)


def test_racy_file_is_stored_again(tree: dict[str, FileEntry]) -> None:
    entry = tree["f"]
    at_the_same_tick = entry.mtime_ns
    assert decide(entry, record(entry), started_ns=at_the_same_tick).reasons == (ChangeReason.RACY,)
    assert not decide(entry, record(entry), started_ns=entry.ctime_ns + 1).store


def test_criteria_can_ignore_ctime_and_inode(tree: dict[str, FileEntry]) -> None:
    entry = tree["f"]
    base = RunSummary(9, Level.FULL, AFTER_ALL_WRITES, usable=True)
    lenient = LevelFilter(
        BaseChoice(Level.INCREMENTAL, base, None),
        {"f": record(entry, ctime_ns=1, ino=1)}.get,
        Criteria(ctime=False, inode=False),
    )
    assert not lenient.decide(entry).store


def test_real_modification_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"before")
    (before,) = [e for e in scan(tmp_path) if e.relpath == "f"]
    previous = record(before)
    started = time.time_ns()
    os.utime(path, ns=(before.atime_ns, before.mtime_ns + 1_000_000_000))
    (after,) = [e for e in scan(tmp_path) if e.relpath == "f"]
    reasons = decide(after, previous, started_ns=started).reasons
    assert reasons == (ChangeReason.MTIME, ChangeReason.CTIME)


def test_incremental_without_lookup_is_refused() -> None:
    with pytest.raises(ValueError, match="lookup"):
        LevelFilter(BaseChoice(Level.INCREMENTAL, FULL1, None))
