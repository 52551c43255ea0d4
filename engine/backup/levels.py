"""Backup levels: which previous run a backup compares against, and which files it stores.

Pure logic; the catalog supplies the history and a lookup, this module decides.

- FULL stores everything.
- INCREMENTAL compares against the most recent usable run of *any* level: it stores what
  changed since the last backup.
- DIFFERENTIAL compares against the most recent usable *full* run: it stores what changed since
  the last full, so a restore needs the full plus one differential.
A run is usable as a base if it completed (with or without exceptions) — a failed or cancelled
run's records may be partial. With no usable base, the run is promoted to FULL (and says why).

Per file, against the base run's record for the same relative path (issue 4: by size, mtime,
ctime, inode):
- no record: NEW;
- different type, size, mtime, ctime or inode: stored, with every reason that applies;
- the base copy was not clean (skipped, corrupted, in use, or changed while read): stored again,
  so an exception is retried by the next backup instead of being inherited silently;
- "racy": the record's mtime or ctime is not older than the base run's start. A write in the
  same timestamp tick as the base read can leave all four fields equal while the content
  differs (coarse file system clocks; git calls these "racily clean"), so such a file is
  stored again. It costs one extra copy of files touched during a backup, never a missed change;
- otherwise unchanged: not stored (the catalog points to the base copy).
Directories, symlinks and special files are always stored: they are one header each and their
metadata (ctime) is what a restore needs; this matches GNU tar's incremental dumps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from engine.backup.scan import FileEntry, Kind


class Level(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"
    DIFFERENTIAL = "differential"


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A previous run of the same job, as the catalog knows it."""

    run_id: int
    level: Level
    started_ns: int
    """Start of the run's scan (``time.time_ns``): the racy-file threshold."""
    usable: bool
    """Completed, with or without exceptions (not failed, not cancelled)."""


@dataclass(frozen=True, slots=True)
class BaseChoice:
    level: Level
    """The level this run will actually have (FULL when promoted)."""
    base: RunSummary | None
    promoted: str | None
    """Why a requested INCREMENTAL/DIFFERENTIAL runs as FULL, else ``None``."""


def choose_base(requested: Level, history: Sequence[RunSummary]) -> BaseChoice:
    """Pick the base run for ``requested`` from the job's previous runs (any order)."""
    if requested is Level.FULL:
        return BaseChoice(Level.FULL, None, None)
    usable = sorted((r for r in history if r.usable), key=lambda r: r.started_ns)
    if requested is Level.DIFFERENTIAL:
        usable = [r for r in usable if r.level is Level.FULL]
    if not usable:
        why = "no usable full backup" if requested is Level.DIFFERENTIAL else "no usable backup"
        return BaseChoice(Level.FULL, None, f"{why}: running {requested.value} as full")
    return BaseChoice(requested, usable[-1], None)


@dataclass(frozen=True, slots=True)
class PreviousRecord:
    """The base run's record of one path (catalog row)."""

    kind: Kind
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    clean: bool = True
    """False if that copy had an item exception (or was not stored at all)."""


Lookup = Callable[[str], PreviousRecord | None]
"""``relpath -> record`` in the base run; the catalog provides it (batched behind the call)."""


class ChangeReason(StrEnum):
    FULL = "full"
    NEW = "new"
    ALWAYS = "always"
    """Directories, symlinks and special files."""
    KIND = "kind"
    SIZE = "size"
    MTIME = "mtime"
    CTIME = "ctime"
    INODE = "inode"
    PREVIOUS_EXCEPTION = "previous_exception"
    RACY = "racy"


@dataclass(frozen=True, slots=True)
class Criteria:
    """Which fields count as a change. All by default; a job may drop ``ctime`` or ``inode``
    for file systems where they move without content changes (some network file systems,
    restores into a new file system)."""

    size: bool = True
    mtime: bool = True
    ctime: bool = True
    inode: bool = True


@dataclass(frozen=True, slots=True)
class Decision:
    store: bool
    reasons: tuple[ChangeReason, ...]
    """Empty when unchanged."""


UNCHANGED = Decision(False, ())
STORE_FULL = Decision(True, (ChangeReason.FULL,))
STORE_NEW = Decision(True, (ChangeReason.NEW,))
STORE_ALWAYS = Decision(True, (ChangeReason.ALWAYS,))


class LevelFilter:
    """Decides per scanned entry whether this run stores it (module docstring)."""

    def __init__(
        self, choice: BaseChoice, lookup: Lookup | None = None, criteria: Criteria | None = None
    ) -> None:
        if choice.base is not None and lookup is None:
            raise ValueError("an incremental or differential run needs the base run's lookup")
        self.choice = choice
        self.lookup = lookup
        self.criteria = criteria or Criteria()

    def decide(self, entry: FileEntry) -> Decision:
        base = self.choice.base
        if base is None or self.lookup is None:
            return STORE_FULL
        if entry.kind is not Kind.FILE:
            return STORE_ALWAYS
        previous = self.lookup(entry.relpath)
        if previous is None:
            return STORE_NEW
        return compare(entry, previous, base.started_ns, self.criteria)


def compare(
    entry: FileEntry, previous: PreviousRecord, base_started_ns: int, criteria: Criteria
) -> Decision:
    """Compare one scanned file with its record in the base run."""
    if previous.kind is not entry.kind:
        return Decision(True, (ChangeReason.KIND,))
    reasons: list[ChangeReason] = []
    if criteria.size and previous.size != entry.size:
        reasons.append(ChangeReason.SIZE)
    if criteria.mtime and previous.mtime_ns != entry.mtime_ns:
        reasons.append(ChangeReason.MTIME)
    if criteria.ctime and previous.ctime_ns != entry.ctime_ns:
        reasons.append(ChangeReason.CTIME)
    if criteria.inode and previous.ino != entry.ino:
        reasons.append(ChangeReason.INODE)
    if not previous.clean:
        reasons.append(ChangeReason.PREVIOUS_EXCEPTION)
    if not reasons and _racy(previous, base_started_ns, criteria):
        reasons.append(ChangeReason.RACY)
    return Decision(True, tuple(reasons)) if reasons else UNCHANGED


def _racy(previous: PreviousRecord, base_started_ns: int, criteria: Criteria) -> bool:
    if criteria.mtime and previous.mtime_ns >= base_started_ns:
        return True
    return criteria.ctime and previous.ctime_ns >= base_started_ns
