"""The media/volume model: what a tape (or disk volume) is to the engine, and how its state moves.

A medium has a barcode, a pool, a media type and one ``MediaState``. Every state change goes
through ``transition()``, which checks the one ``ALLOWED`` map and returns the new value plus a
``StateChange`` (reason, time, actor) that the store writes in the same transaction, so a state
never changes without a history entry. Returning a suspect or frozen medium to scratch needs an
explicit erase or relabel (``erased=True``): the data on it may be damaged, so the only way back
into service is to overwrite it.

The automatic rules (freeze after repeated errors, drive down after several distinct media fail)
live in ``devices/media_rules.py``; persistence is behind the ``MediaStore`` Protocol here, so
devices/ never imports engine/ (the catalog implements it in engine/catalog/media_store.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol


class MediaState(StrEnum):
    """Lifecycle state of a medium (shared/DESIGN.md "Devices", issue 3 "Media")."""

    SCRATCH = "scratch"  # labeled or blank, holds no data we keep: may be written from BOT
    APPENDABLE = "appendable"  # holds sessions, more may be appended after the last one
    FULL = "full"  # reached early warning: no more sessions, still readable
    READ_ONLY = "read-only"  # write-protected, WORM closed, or set so by an operator
    SUSPECT = "suspect"  # power loss while writing: end of data not trustworthy
    FROZEN = "frozen"  # failed repeatedly: kept out of writing until erased
    RETIRED = "retired"  # out of service for good
    CLEANING = "cleaning"  # a cleaning cartridge


S = MediaState

ALLOWED: dict[MediaState, frozenset[MediaState]] = {
    S.SCRATCH: frozenset({S.APPENDABLE, S.FULL, S.READ_ONLY, S.SUSPECT, S.FROZEN, S.RETIRED}),
    S.APPENDABLE: frozenset({S.FULL, S.READ_ONLY, S.SUSPECT, S.FROZEN, S.RETIRED, S.SCRATCH}),
    S.FULL: frozenset({S.READ_ONLY, S.FROZEN, S.RETIRED, S.SCRATCH}),
    S.READ_ONLY: frozenset({S.APPENDABLE, S.FULL, S.FROZEN, S.RETIRED, S.SCRATCH}),
    S.SUSPECT: frozenset({S.READ_ONLY, S.FROZEN, S.RETIRED, S.SCRATCH}),
    S.FROZEN: frozenset({S.RETIRED, S.SCRATCH}),
    S.RETIRED: frozenset(),
    S.CLEANING: frozenset({S.RETIRED}),
}
"""Every legal state change. Anything not listed raises ``IllegalTransition``."""

ERASE_REQUIRED: frozenset[tuple[MediaState, MediaState]] = frozenset(
    {(S.SUSPECT, S.SCRATCH), (S.FROZEN, S.SCRATCH)}
)
"""Transitions legal only after an explicit erase or relabel of the medium."""

INITIAL_STATES: frozenset[MediaState] = frozenset({S.SCRATCH, S.READ_ONLY, S.CLEANING})
"""States a medium may be registered in (new tape, write-protected tape, cleaning cartridge)."""

# Derived sets; tests check that they partition MediaState.
WRITABLE: frozenset[MediaState] = frozenset({S.SCRATCH, S.APPENDABLE})
CLOSED: frozenset[MediaState] = frozenset({S.FULL, S.READ_ONLY})
QUARANTINED: frozenset[MediaState] = frozenset({S.SUSPECT, S.FROZEN})
OUT_OF_SERVICE: frozenset[MediaState] = frozenset({S.RETIRED, S.CLEANING})
TERMINAL: frozenset[MediaState] = frozenset(s for s, targets in ALLOWED.items() if not targets)


class ErrorKind(StrEnum):
    """What failed, as recorded in a medium's error history."""

    READ = "read"
    WRITE = "write"
    POSITION = "position"  # SPACE / LOCATE / REWIND failed
    LOAD = "load"  # load, unload or thread failure
    MEDIUM = "medium"  # TapeAlert "media" flags, cartridge memory errors
    POWER_LOSS = "power-loss"


class MediaModelError(Exception):
    """Base of the media model's refusals; the message is one sentence for the user."""

    code = "media.error"


class IllegalTransition(MediaModelError):
    code = "media.illegal_transition"


class UnknownMedium(MediaModelError):
    code = "media.unknown"


class MediumExists(MediaModelError):
    code = "media.exists"


class StaleMedium(MediaModelError):
    """The stored state is not the one the change started from (another process moved it)."""

    code = "media.stale"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Medium:
    """One tape cartridge or disk volume. Immutable: changes produce a new value.

    ``errors_cleared_at`` is set by an erase back to scratch; errors before it no longer count
    towards the freeze rule (the medium was overwritten and starts afresh).
    """

    barcode: str
    pool: str
    media_type: str
    state: MediaState
    state_reason: str
    state_actor: str
    state_since: datetime
    volume_uuid: str | None = None
    files_written: int = 0
    bytes_written: int = 0
    errors_cleared_at: datetime | None = None

    @property
    def writable(self) -> bool:
        return self.state in WRITABLE


@dataclass(frozen=True)
class StateChange:
    """One entry of a medium's state history. ``old`` is None when the medium was registered."""

    barcode: str
    old: MediaState | None
    new: MediaState
    reason: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class MediaError:
    """One entry of a medium's error history; ``drive`` names the drive it happened in."""

    barcode: str
    drive: str
    kind: ErrorKind
    at: datetime
    block: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class DriveStatus:
    """Whether a drive may be used, and why not. Drives never seen are up."""

    name: str
    up: bool
    reason: str
    actor: str
    since: datetime


def new_medium(
    barcode: str,
    pool: str,
    media_type: str,
    *,
    actor: str,
    reason: str = "Registered.",
    state: MediaState = S.SCRATCH,
    now: datetime | None = None,
) -> tuple[Medium, StateChange]:
    """A medium entering the system, with the history entry that records it."""
    if state not in INITIAL_STATES:
        allowed = ", ".join(sorted(s.value for s in INITIAL_STATES))
        raise IllegalTransition(
            f"Medium {barcode} cannot be registered as {state.value}; use one of: {allowed}."
        )
    at = now or utc_now()
    medium = Medium(barcode, pool, media_type, state, reason, actor, at)
    return medium, StateChange(barcode, None, state, reason, actor, at)


def transition(
    medium: Medium,
    target: MediaState,
    *,
    reason: str,
    actor: str,
    now: datetime | None = None,
    erased: bool = False,
) -> tuple[Medium, StateChange]:
    """Validate ``medium.state -> target`` against ``ALLOWED`` and return the changed medium
    and its history entry; the caller persists both with ``MediaStore.record_state_change``.

    ``erased=True`` states that the medium was just erased or relabeled: required to return a
    suspect or frozen medium to scratch, and it resets the error count and written totals.
    Raises ``IllegalTransition``.
    """
    old = medium.state
    if target not in ALLOWED[old]:
        raise IllegalTransition(
            f"Medium {medium.barcode} cannot go from {old.value} to {target.value}."
        )
    if (old, target) in ERASE_REQUIRED and not erased:
        raise IllegalTransition(
            f"Medium {medium.barcode} is {old.value}; only an erase or relabel returns it "
            "to scratch."
        )
    at = now or utc_now()
    changes: dict[str, object] = {
        "state": target,
        "state_reason": reason,
        "state_actor": actor,
        "state_since": at,
    }
    if target is S.SCRATCH:
        changes.update(files_written=0, bytes_written=0)
        if erased:
            changes["errors_cleared_at"] = at
    new = dataclasses.replace(medium, **changes)
    return new, StateChange(medium.barcode, old, target, reason, actor, at)


def erase_to_scratch(
    medium: Medium, *, actor: str, reason: str, now: datetime | None = None
) -> tuple[Medium, StateChange]:
    """The transition an erase or relabel makes: back to scratch from any state that allows it."""
    return transition(medium, S.SCRATCH, reason=reason, actor=actor, now=now, erased=True)


def choose_for_writing(
    candidates: Iterable[Medium],
    pool: str,
    *,
    media_type: str | None = None,
    exclude: Iterable[str] = (),
) -> Medium | None:
    """Pick the medium a backup to ``pool`` should write to, or None if there is none.

    Only scratch and appendable media qualify (never suspect, frozen, full, read-only, retired
    or cleaning). Appendable media come first, the one appendable longest first, so tapes are
    filled before new ones are started; then scratch media by barcode (a stable order an
    operator can predict). ``exclude`` names media already in use elsewhere.
    """
    skip = set(exclude)
    eligible = [
        m
        for m in candidates
        if m.pool == pool
        and m.state in WRITABLE
        and m.barcode not in skip
        and (media_type is None or m.media_type == media_type)
    ]
    appendable = sorted(
        (m for m in eligible if m.state is S.APPENDABLE), key=lambda m: (m.state_since, m.barcode)
    )
    if appendable:
        return appendable[0]
    scratch = sorted((m for m in eligible if m.state is S.SCRATCH), key=lambda m: m.barcode)
    return scratch[0] if scratch else None


class MediaStore(Protocol):
    """Where media, their histories and drive up/down states are kept.

    Implemented by the catalog (engine/catalog/media_store.py) and by ``MemoryMediaStore``
    (devices/media_memory.py) for setups without a catalog. Methods may block on I/O and are
    safe to call from any one thread at a time per store object.
    """

    def get_medium(self, barcode: str) -> Medium | None:
        """The medium, or None if unknown."""
        ...

    def add_medium(self, medium: Medium, change: StateChange) -> None:
        """Register a new medium with its first history entry. Raises ``MediumExists``."""
        ...

    def update_medium(self, medium: Medium) -> None:
        """Store pool, media type, volume uuid and written totals. The state is not changed here
        (use ``record_state_change``); raises ``UnknownMedium`` or ``StaleMedium`` if the stored
        state differs from ``medium.state``."""
        ...

    def record_state_change(self, medium: Medium, change: StateChange) -> None:
        """Store ``medium`` (in state ``change.new``) and append ``change`` atomically. Raises
        ``StaleMedium`` if the stored state is not ``change.old``, ``UnknownMedium``."""
        ...

    def list_media(
        self, *, pool: str | None = None, states: Iterable[MediaState] | None = None
    ) -> list[Medium]:
        """Media filtered by pool and states, ordered by barcode."""
        ...

    def state_history(self, barcode: str) -> list[StateChange]:
        """A medium's state changes, oldest first."""
        ...

    def add_error(self, error: MediaError) -> None:
        """Append to the medium's error history. Raises ``UnknownMedium``."""
        ...

    def list_errors(
        self,
        *,
        barcode: str | None = None,
        drive: str | None = None,
        since: datetime | None = None,
    ) -> list[MediaError]:
        """Errors filtered by medium, drive and time (``at >= since``), oldest first."""
        ...

    def get_drive(self, name: str) -> DriveStatus | None:
        """The drive's recorded status, or None if never recorded (then it is up)."""
        ...

    def set_drive(self, status: DriveStatus) -> None:
        """Record a drive's up/down status (insert or replace)."""
        ...

    def list_drives(self) -> list[DriveStatus]:
        """Every recorded drive status, by name."""
        ...
