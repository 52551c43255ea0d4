"""File records as the catalog stores them: the row type, change kinds, session parts, and
how a path is split into ``parent`` and ``name`` (engine/catalog/files_store.py).

Paths are raw bytes (``os.fsencode``), absolute as backed up (``b"/srv/data/a"``), so a name
that is not UTF-8 survives exactly. A path is stored split at its last ``/``: ``parent`` is
the directory (``b"/srv/data"``), ``name`` the last component (``b"a"``); the root ``/`` is
``(b"", b"/")``. Listing a directory is then one index range, ``(run_id, parent) = (?, ?)``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from operator import itemgetter
from typing import Any

SEP = b"/"
ROOT = b"/"


class Change(StrEnum):
    """A file's change against the previous run (issue 5: ``jobs show N --changes``).

    Unchanged files of an incremental or differential are not stored (the older run's row
    stands for them); deleted files are rows of their own with ``change = deleted``, no
    position, and the kind they had, recorded by the run that found them gone.
    """

    ADDED = "added"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    """Stored again though unchanged (directories, symlinks, special files, a full backup)."""
    DELETED = "deleted"


def normalize(path: bytes | str) -> bytes:
    """Bytes, without trailing slashes (except the root itself)."""
    raw = path if isinstance(path, bytes) else os.fsencode(path)
    stripped = raw.rstrip(SEP)
    return stripped if stripped else (ROOT if raw.startswith(SEP) else raw)


def shown(path: bytes | str) -> str:
    """A path for people and JSON: undecodable bytes as ``\\xNN`` escapes (never surrogates,
    which neither a terminal nor the catalog's text columns take)."""
    raw = path if isinstance(path, bytes) else os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


def row_params(
    row: tuple[Any, ...], tuple_at: tuple[int, ...], change_at: int, run_id: int, session_id: int
) -> tuple[Any, ...]:
    """The INSERT parameters of a row given as the tuple of ``FileRow``'s fields:
    (session, run, parent, name) and the fields at ``tuple_at``, the change as its text
    (``change_at`` among them)."""
    parent, name = split_path(normalize(row[0]))
    values = _picker(tuple_at)(row)
    change = values[change_at]
    if change is not None:
        values = (*values[:change_at], change.value, *values[change_at + 1 :])
    return (session_id, run_id, parent, name, *values)


@cache
def _picker(at: tuple[int, ...]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """``itemgetter`` of the positions (in C: the per-row reordering of a staged row),
    always giving a tuple."""
    if len(at) == 1:
        return lambda row: (row[at[0]],)
    return itemgetter(*at)


def split_path(path: bytes) -> tuple[bytes, bytes]:
    """``b"/srv/a"`` -> ``(b"/srv", b"a")``; ``b"/srv"`` -> ``(b"/", b"srv")``; ``b"/"`` ->
    ``(b"", b"/")``; relative ``b"a"`` -> ``(b"", b"a")``."""
    if path == ROOT:
        return b"", ROOT
    head, sep, name = path.rpartition(SEP)
    if not sep:
        return b"", name
    return (head or ROOT), name


def join_path(parent: bytes, name: bytes) -> bytes:
    if not parent:
        return name
    return parent + name if parent.endswith(SEP) else parent + SEP + name


def child_range(directory: bytes) -> tuple[bytes, bytes]:
    """``[low, high)`` of the ``parent`` values of every descendant below ``directory``'s
    children: ``dir/`` up to ``dir0`` (``0`` is the byte after ``/``)."""
    base = directory if directory.endswith(SEP) else directory + SEP
    return base, base[:-1] + b"0"


@dataclass(slots=True)
class FileRow:
    """One file of one run: what the backup pipeline gives ``add_files``, what lookups return.

    ``part``/``record``/``offset``: where the member's first header is (session part sequence
    number, record within that part, byte offset in the record); all ``None`` for a file that
    was never archived (skipped) or a deletion. ``exception_*`` are ``None`` when it went in
    clean (engine/backup/exceptions.py: category, reason code, sentence, read-error offset).
    """

    path: bytes
    kind: str
    size: int = 0
    mode: int = 0
    uid: int = 0
    gid: int = 0
    uname: str | None = None
    gname: str | None = None
    mtime_ns: int = 0
    ctime_ns: int = 0
    inode: int = 0
    dev: int = 0
    nlink: int = 1
    link_target: bytes | None = None
    link_group: int | None = None
    checksum: bytes | None = None
    part: int | None = None
    record: int | None = None
    offset: int | None = None
    exception_category: str | None = None
    exception_code: str | None = None
    exception_sentence: str | None = None
    exception_offset: int | None = None
    change: Change | None = None
    run_id: int | None = None
    """Set by the catalog on rows it returns."""

    @property
    def stored(self) -> bool:
        """Its data is on media (it may still carry an exception: in use, corrupted)."""
        return self.record is not None

    @property
    def clean(self) -> bool:
        return self.stored and self.exception_category is None

    @property
    def name(self) -> bytes:
        return split_path(self.path)[1]


ROW_FIELDS = tuple(f.name for f in dataclasses.fields(FileRow) if f.name not in ("path", "run_id"))
"""Stored as columns of the same names (``path`` is split into parent and name), in the
dataclass's order: ``path``, these, ``run_id`` (files_store.py builds rows positionally)."""


@dataclass(frozen=True, slots=True)
class SessionPart:
    """One volume's share of a session: the tape file (or disk volume file) holding it."""

    seq: int
    """1 on the first volume, 2 on the next after spanning, ..."""
    volume: str
    """Barcode, or the disk volume's id."""
    tape_file: int
    """Tape file number on that volume (label is 0)."""
    first_record: int
    record_count: int | None = None
    """Set when the part is closed (spanned or session ended)."""


@dataclass(frozen=True, slots=True)
class FileVersion:
    """A path as one run recorded it (``versions``)."""

    row: FileRow
    job_id: int
    run_number: int
    run_ended_at: datetime | None
    session_id: int


@dataclass(frozen=True, slots=True)
class BackupRun:
    """A backup run as points in time see it (``FilesStore.backup_runs``)."""

    id: int
    job_id: int
    job_name: str
    """Backups of the same name are one history (engine/backup/job.py): one lineage."""
    number: int
    base_run_id: int | None
    """The run an incremental or differential compared against (its chain's next link)."""
    ended_at: datetime | None
    succeeded: bool
    """Ended COMPLETED or COMPLETED_WITH_EXCEPTIONS: its files can be restored."""
