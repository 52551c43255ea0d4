"""Per-file problems of a backup: item exceptions, the one callback, and the in-use policy.

A file that cannot be taken cleanly is an *item exception*: the job records it (category and
reason), keeps going, and ends COMPLETED_WITH_EXCEPTIONS (issue 4, "Files that do not back up
cleanly"). A tape or device failure is never an item exception: it is a job-level event and goes
through the job layer, not through ``on_item_error`` (STYLE.md, borgbackup's BackupOSError vs
repository errors). Cancellation never goes through it either.

Every stage that meets a per-file problem calls ``on_item_error(path, exc)`` with an
:class:`ItemException`, then continues with the next item. Codes (:class:`Reason`) are stable
strings: the catalog stores them and scripts match on them; the sentence is for people.
"""

from __future__ import annotations

import errno as errno_mod
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    """What the administrator is told about a file (issue 4)."""

    IN_USE = "in_use"
    """Another process was writing it, or it changed while tapir read it."""
    SKIPPED = "skipped"
    """Not backed up: permission denied, vanished, unsupported type, unreadable directory."""
    CORRUPTED = "corrupted"
    """A read error mid-file: stored up to the offset, the rest padded with zeros."""


class Reason(StrEnum):
    """Stable reason codes. Never rename one: catalogs and scripts keep them."""

    OPEN_FOR_WRITING = "open_for_writing"
    CHANGED_SINCE_SCAN = "changed_since_scan"
    CHANGED_WHILE_READING = "changed_while_reading"
    PERMISSION_DENIED = "permission_denied"
    VANISHED = "vanished"
    REPLACED = "replaced"
    UNSUPPORTED_TYPE = "unsupported_type"
    DIRECTORY_UNREADABLE = "directory_unreadable"
    OS_ERROR = "os_error"
    READ_ERROR = "read_error"


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    category: Category
    template: str
    """``str.format`` template over ``path``, ``offset`` and the exception's fields."""


REASONS: dict[Reason, ReasonInfo] = {
    Reason.OPEN_FOR_WRITING: ReasonInfo(Category.IN_USE, "{path}: open for writing by {holders}"),
    Reason.CHANGED_SINCE_SCAN: ReasonInfo(
        Category.IN_USE, "{path}: changed between scan and read ({moved} moved)"
    ),
    Reason.CHANGED_WHILE_READING: ReasonInfo(
        Category.IN_USE, "{path}: changed while being read ({moved} moved)"
    ),
    Reason.PERMISSION_DENIED: ReasonInfo(Category.SKIPPED, "{path}: permission denied"),
    Reason.VANISHED: ReasonInfo(Category.SKIPPED, "{path}: vanished before it could be read"),
    Reason.REPLACED: ReasonInfo(
        Category.SKIPPED, "{path}: replaced by a {now} between scan and read"
    ),
    Reason.UNSUPPORTED_TYPE: ReasonInfo(
        Category.SKIPPED, "{path}: {kind} files cannot be backed up"
    ),
    Reason.DIRECTORY_UNREADABLE: ReasonInfo(
        Category.SKIPPED,
        "{path}: directory cannot be listed ({error}); its contents are not backed up",
    ),
    Reason.OS_ERROR: ReasonInfo(Category.SKIPPED, "{path}: {error}"),
    Reason.READ_ERROR: ReasonInfo(
        Category.CORRUPTED,
        "{path}: read error ({error}) at offset {offset}; the rest of the file is stored as zeros",
    ),
}
"""One row per reason: its category and its sentence. Tests check every Reason has a row."""


class ItemException(Exception):
    """One file's problem: a stable code, its category, and structured fields.

    ``stored`` says whether the file's data is in the archive anyway (an in-use file backed up
    and flagged, a corrupted file padded) or not (skipped). ``offset`` is the byte offset of a
    read error, else ``None``. Extra ``fields`` fill the sentence template and go to the catalog.
    """

    def __init__(
        self,
        code: Reason,
        path: str,
        *,
        offset: int | None = None,
        stored: bool = False,
        **fields: Any,
    ) -> None:
        self.code = code
        self.path = path
        self.offset = offset
        self.stored = stored
        self.fields = fields
        super().__init__(self.sentence)

    @property
    def category(self) -> Category:
        return REASONS[self.code].category

    @property
    def sentence(self) -> str:
        """The human-readable line for ``tapir jobs show N --exceptions``."""
        return REASONS[self.code].template.format(path=self.path, offset=self.offset, **self.fields)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json`` output and the catalog."""
        return {
            "path": self.path,
            "category": self.category.value,
            "code": self.code.value,
            "offset": self.offset,
            "stored": self.stored,
            "sentence": self.sentence,
            "fields": dict(self.fields),
        }

    def __repr__(self) -> str:
        return f"ItemException({self.code.value!r}, {self.path!r}, stored={self.stored})"


def from_os_error(path: str, exc: OSError, *, stored: bool = False) -> ItemException:
    """Turn an ``OSError`` met while scanning or opening into the matching item exception."""
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return ItemException(Reason.VANISHED, path, stored=stored)
    if isinstance(exc, PermissionError):
        return ItemException(Reason.PERMISSION_DENIED, path, stored=stored)
    return ItemException(Reason.OS_ERROR, path, stored=stored, error=describe_errno(exc))


def describe_errno(exc: OSError) -> str:
    """``EIO: Input/output error`` — the symbolic name first, since people search for it."""
    if exc.errno is None:
        return str(exc)
    name = errno_mod.errorcode.get(exc.errno, f"errno {exc.errno}")
    return f"{name}: {exc.strerror or 'error'}"


ItemErrorHandler = Callable[[str, ItemException], None]
"""``on_item_error(path, exc)``: called by the scanner (scan thread) and the readers (reader
threads); must be thread-safe, must not block for long, must not raise."""


class ItemErrors:
    """A thread-safe ``on_item_error`` that keeps every exception (tests, small jobs).

    The job layer will write to the catalog instead; this keeps the same interface.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[ItemException] = []

    def __call__(self, path: str, exc: ItemException) -> None:
        with self._lock:
            self.items.append(exc)

    def codes(self) -> list[tuple[str, Reason]]:
        """``(path, code)`` pairs in report order."""
        with self._lock:
            return [(e.path, e.code) for e in self.items]

    def by_category(self) -> dict[Category, int]:
        counts = dict.fromkeys(Category, 0)
        with self._lock:
            for e in self.items:
                counts[e.category] += 1
        return counts


class InUseAction(StrEnum):
    FLAG = "flag"
    """Back the file up and flag it in use."""
    SKIP = "skip"
    """Leave it out and record it skipped-because-in-use."""


DEFAULT_RETRY_DELAY_S = 2.0
"""Long enough for a short write burst (an editor's save) to finish, short enough not to stall
a reader thread for long."""


@dataclass(frozen=True, slots=True)
class InUsePolicy:
    """Per-job policy for files in use (issue 4: flag, retry N times, or skip).

    Retries come first: up to ``retries`` times, wait ``retry_delay_s`` and look again; if the
    file is still in use, ``action`` decides. So "flag" is ``InUsePolicy()``, "skip" is
    ``InUsePolicy(InUseAction.SKIP)``, and "retry 3 times, then skip" is
    ``InUsePolicy(InUseAction.SKIP, retries=3)``.

    Retries and SKIP apply to what is known before any byte is streamed (open for writing,
    changed since the scan). A file that changes *while* it is read has already gone into the
    archive, so it is always stored and flagged.
    """

    action: InUseAction = InUseAction.FLAG
    retries: int = 0
    retry_delay_s: float = DEFAULT_RETRY_DELAY_S

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, not {self.retries}")
        if self.retry_delay_s < 0:
            raise ValueError(f"retry_delay_s must be >= 0, not {self.retry_delay_s}")
