"""The automatic media and drive rules, each in one place, applied when an error is recorded.

- Freeze: a medium that fails ``medium_failures`` times (default 3) within ``medium_window``
  (default 24 h) becomes frozen, so no backup chooses it again until it is erased.
- Drive down: a drive on which ``drive_distinct_media`` DIFFERENT media (default 3) fail within
  ``drive_window`` is marked down: one bad tape failing three times blames the tape, three tapes
  failing in one drive blame the drive.
- Power loss is recorded in the history but counts for neither rule (it is not the medium's or
  the drive's fault); it makes a medium that was being written suspect instead.

Windows end at the time of the error being recorded and include both ends. Errors before a
medium's last erase (``Medium.errors_cleared_at``) or before a drive was last brought up
(``DriveStatus.since`` while up) do not count.

``record_error`` is called by the device layer (TapeDrive/TapeLibrary) from the thread that saw
the error; it blocks on the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.media import (
    ALLOWED,
    DriveStatus,
    ErrorKind,
    MediaError,
    MediaState,
    MediaStore,
    Medium,
    StaleMedium,
    StateChange,
    UnknownMedium,
    transition,
    utc_now,
)

RULES_ACTOR = "tapir-rules"
"""The actor recorded on state changes the rules make."""

STALE_RETRIES = 3
"""Re-reads of a medium another process changed while a rule was being applied."""

NOT_COUNTED: frozenset[ErrorKind] = frozenset({ErrorKind.POWER_LOSS})


@dataclass(frozen=True)
class ErrorRules:
    """Thresholds of the rules; the defaults follow issue 3 ("3 times within a window")."""

    medium_failures: int = 3
    medium_window: timedelta = timedelta(hours=24)
    drive_distinct_media: int = 3
    drive_window: timedelta = timedelta(hours=24)


DEFAULT_RULES = ErrorRules()


@dataclass(frozen=True)
class ErrorOutcome:
    """What recording one error caused: the medium frozen or made suspect, the drive down."""

    error: MediaError
    medium_change: StateChange | None = None
    drive_down: DriveStatus | None = None


def _counted(
    errors: Sequence[MediaError], start: datetime, end: datetime, after: datetime | None
) -> list[MediaError]:
    return [
        e
        for e in errors
        if e.kind not in NOT_COUNTED and start <= e.at <= end and (after is None or e.at >= after)
    ]


def medium_should_freeze(
    errors: Sequence[MediaError],
    *,
    now: datetime,
    rules: ErrorRules = DEFAULT_RULES,
    cleared_at: datetime | None = None,
) -> bool:
    """True if a medium's errors reach the freeze threshold within the window ending at ``now``."""
    counted = _counted(errors, now - rules.medium_window, now, cleared_at)
    return len(counted) >= rules.medium_failures


def drive_failing_media(
    errors: Sequence[MediaError],
    *,
    now: datetime,
    rules: ErrorRules = DEFAULT_RULES,
    up_since: datetime | None = None,
) -> list[str]:
    """The distinct barcodes that failed on a drive within the window if they reach the
    drive-down threshold, else an empty list. ``errors`` are one drive's errors."""
    counted = _counted(errors, now - rules.drive_window, now, up_since)
    barcodes = sorted({e.barcode for e in counted})
    return barcodes if len(barcodes) >= rules.drive_distinct_media else []


def record_error(
    store: MediaStore, error: MediaError, *, rules: ErrorRules = DEFAULT_RULES
) -> ErrorOutcome:
    """Append ``error`` to the history, then apply every rule. Raises ``UnknownMedium``."""
    medium = store.get_medium(error.barcode)
    if medium is None:
        raise UnknownMedium(f"Medium {error.barcode} is not in the catalog.")
    store.add_error(error)
    change = None
    for _attempt in range(STALE_RETRIES):
        try:
            change = _medium_rule(store, medium, error, rules)
            break
        except StaleMedium:  # another process moved it meanwhile: judge the new state
            medium = store.get_medium(error.barcode) or medium
    down = _drive_rule(store, error, rules)
    return ErrorOutcome(error, change, down)


def _medium_rule(
    store: MediaStore, medium: Medium, error: MediaError, rules: ErrorRules
) -> StateChange | None:
    if error.kind is ErrorKind.POWER_LOSS:
        if medium.state is MediaState.SUSPECT or MediaState.SUSPECT not in ALLOWED[medium.state]:
            return None
        reason = (
            f"Power lost while writing in drive {error.drive} at "
            f"{error.at:%Y-%m-%d %H:%M:%S} UTC{_context(error)}{_flushed(error)}; the end of "
            "data is not trustworthy: never appended to again, but what was flushed before "
            "the loss may still be restored from it; erase or relabel it to reuse it."
        )
        return _apply(store, medium, MediaState.SUSPECT, reason, error.at)
    if medium.state is MediaState.FROZEN or MediaState.FROZEN not in ALLOWED[medium.state]:
        return None
    since = error.at - rules.medium_window
    errors = store.list_errors(barcode=medium.barcode, since=since)
    if not medium_should_freeze(
        errors, now=error.at, rules=rules, cleared_at=medium.errors_cleared_at
    ):
        return None
    count = len(_counted(errors, since, error.at, medium.errors_cleared_at))
    reason = (
        f"{count} errors within {_hours(rules.medium_window)}; last: {error.kind.value} error "
        f"in drive {error.drive}{_at_block(error)}."
    )
    return _apply(store, medium, MediaState.FROZEN, reason, error.at)


def _drive_rule(store: MediaStore, error: MediaError, rules: ErrorRules) -> DriveStatus | None:
    status = store.get_drive(error.drive)
    if status is not None and not status.up:
        return None
    up_since = status.since if status is not None else None
    errors = store.list_errors(drive=error.drive, since=error.at - rules.drive_window)
    failing = drive_failing_media(errors, now=error.at, rules=rules, up_since=up_since)
    if not failing:
        return None
    reason = (
        f"{len(failing)} different media failed in it within {_hours(rules.drive_window)} "
        f"({', '.join(failing)})."
    )
    down = DriveStatus(error.drive, False, reason, RULES_ACTOR, error.at)
    store.set_drive(down)
    return down


def _apply(
    store: MediaStore, medium: Medium, target: MediaState, reason: str, at: datetime
) -> StateChange:
    new, change = transition(medium, target, reason=reason, actor=RULES_ACTOR, now=at)
    store.record_state_change(new, change)
    return change


def set_drive_state(
    store: MediaStore, name: str, *, up: bool, reason: str, actor: str, now: datetime | None = None
) -> DriveStatus:
    """Mark a drive up or down by hand (an operator after service, or the device layer)."""
    status = DriveStatus(name, up, reason, actor, now or utc_now())
    store.set_drive(status)
    return status


def drive_is_up(store: MediaStore, name: str) -> bool:
    status = store.get_drive(name)
    return status is None or status.up


def change_state(
    store: MediaStore,
    barcode: str,
    target: MediaState,
    *,
    reason: str,
    actor: str,
    erased: bool = False,
    now: datetime | None = None,
) -> Medium:
    """Load, transition and persist in one call. Raises ``UnknownMedium``,
    ``IllegalTransition`` or ``StaleMedium``."""
    medium = store.get_medium(barcode)
    if medium is None:
        raise UnknownMedium(f"Medium {barcode} is not in the catalog.")
    new, change = transition(medium, target, reason=reason, actor=actor, now=now, erased=erased)
    store.record_state_change(new, change)
    return new


def _hours(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} h"


def _context(error: MediaError) -> str:
    """``(job 3, session ...)`` from the drive's detail, if the writer named itself."""
    detail = error.detail or ""
    start = detail.find("(")
    return f" {detail[start:]}" if start >= 0 and detail.endswith(")") else ""


def _flushed(error: MediaError) -> str:
    return f"; last flushed block {error.block}" if error.block is not None else ""


def _at_block(error: MediaError) -> str:
    return f" at block {error.block}" if error.block is not None else ""
