"""Choosing what to restore from the catalog (issue 5 "Select by path, glob or directory, at
the latest version or as of a job / point in time").

A request names absolute paths as backed up; a path with ``*``, ``?`` or ``[`` is a glob,
matched component by component as a shell does (``/srv/*/logs``: ``*`` never crosses a ``/``)
below its longest literal directory. A directory, named or matched, brings everything below
it; where two requests overlap, the more specific one (deeper base) gives the version of what
both hold. Each path (a glob: its base directory) is taken from the run ``asof.PointInTime``
finds for it (the latest backups, a job, a run or a date), with that run's incremental chain
resolved (``FilesStore.descendants``): a file deleted by then is not restored, an unchanged
file comes from the older run of the chain that stored it.
Rows never stored (skipped files, deletions) are left out and counted in ``not_stored``.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from engine.catalog.files_model import Change, FileRow, join_path, normalize, shown
from engine.catalog.files_store import FilesStore
from engine.catalog.schema import LISTED_FILES
from engine.catalog.schema import files as files_table
from engine.restore.asof import LATEST, AsOf, PointInTime

GLOB_CHARS = frozenset(b"*?[")


class SelectionError(LookupError):
    """Nothing in the catalog matches; the message says what to try."""

    code = "restore.nothing_selected"


@dataclass(slots=True)
class Chosen:
    """One catalog row to restore and the session holding it."""

    row: FileRow
    session_id: int
    data_from: FileRow | None = None
    """A hard link whose first path is not selected: the row whose member holds the data."""

    @property
    def source(self) -> FileRow:
        """The row whose member is read (the data's, for a hard link)."""
        return self.data_from or self.row


@dataclass
class Selection:
    chosen: list[Chosen] = field(default_factory=list)
    not_stored: list[FileRow] = field(default_factory=list)
    runs: set[int] = field(default_factory=set)


def is_glob(path: bytes) -> bool:
    return any(c in GLOB_CHARS for c in path)


def matches(path: bytes, pattern: list[bytes]) -> bool:
    """Shell-like: each component of the pattern matches one component of the path (``*``
    does not cross ``/``), and whatever lies below a matching path goes with it."""
    parts = path.split(b"/")
    if len(parts) < len(pattern):
        return False
    return all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern, strict=False))


def _literal_base(pattern: bytes) -> bytes:
    """``/srv/a/*.txt`` -> ``/srv/a``: the directory above the first glob component."""
    parts = pattern.split(b"/")
    literal: list[bytes] = []
    for part in parts:
        if is_glob(part):
            break
        literal.append(part)
    return normalize(b"/".join(literal) or b"/")


def _sessions_of(files: FilesStore, run_ids: set[int]) -> dict[int, list[Any]]:
    return {run_id: files.sessions(run_id) for run_id in run_ids}


def _session_for(row: FileRow, sessions: dict[int, list[Any]]) -> int:
    """The session of ``row``'s run whose source holds the path (one per run today)."""
    found = sessions[row.run_id or 0]
    for s in found:
        source = bytes(s.source)
        if row.path == source or row.path.startswith(source.rstrip(b"/") + b"/"):
            return int(s.id)
    return int(found[0].id)


def select(files: FilesStore, paths: list[str | bytes], *, as_of: AsOf = LATEST) -> Selection:
    """The rows to restore for ``paths`` as of ``as_of`` (module docstring). Raises
    ``SelectionError``, ``asof.NoSuchPoint``."""
    point = PointInTime(files, as_of)
    rows: dict[bytes, FileRow] = {}
    requests = [os.fsencode(p) if isinstance(p, str) else p for p in paths]
    bases = {p: _literal_base(p) if is_glob(p) else normalize(p) for p in requests}
    # Overlapping requests: the most specific (deepest base) is taken last and wins a path
    # both hold, whatever order they were given in.
    for path in sorted(requests, key=lambda p: bases[p].count(b"/")):
        glob = is_glob(path)
        base = bases[path]
        found_at = point.find(base)
        if found_at is None or found_at.deleted:
            raise SelectionError(point.missing(base))
        run_id = found_at.run_id
        top = found_at.row
        below = []
        if top.kind == "directory":
            below = files.descendants(run_id, base, chain=point.chain(run_id))
        found = [top, *below]
        if glob:
            pattern = path.split(b"/")
            found = [r for r in found if matches(r.path, pattern)]
        if not found:
            raise SelectionError(
                f"Nothing matches {shown(path)} as of {as_of.describe()} (run {run_id}); "
                f"tapir ls {shown(base)} lists what is there."
            )
        for r in found:
            rows[r.path] = r
    selection = Selection()
    stored = []
    for r in sorted(rows.values(), key=lambda r: r.path):
        if r.change is Change.DELETED:
            continue
        (stored if r.stored else selection.not_stored).append(r)
    selection.runs = {r.run_id for r in stored if r.run_id is not None}
    sessions = _sessions_of(files, selection.runs)
    selection.chosen = [Chosen(r, _session_for(r, sessions)) for r in stored]
    _link_leaders(files, point, selection.chosen)
    return selection


def is_link_member(row: FileRow) -> bool:
    """Stored as a tar hard link (no data of its own): a link group and no checksum."""
    return row.kind == "file" and row.link_group is not None and row.checksum is None


def _link_leaders(files: FilesStore, point: PointInTime, chosen: list[Chosen]) -> None:
    """Hard links whose group has no data member selected read the group's data member."""
    have = {
        (c.session_id, c.row.link_group)
        for c in chosen
        if c.row.link_group is not None and not is_link_member(c.row)
    }
    t = files_table
    for c in chosen:
        key = (c.session_id, c.row.link_group)
        if not is_link_member(c.row) or key in have:
            continue
        query = (
            sa.select(t.c.parent, t.c.name)
            .select_from(LISTED_FILES)
            .where(
                t.c.session_id == c.session_id,
                t.c.link_group == c.row.link_group,
                t.c.checksum.is_not(None),
            )
            .limit(1)
        )
        with files.catalog.read() as conn:
            found = conn.execute(query).first()
        if found is not None and c.row.run_id is not None:
            path = join_path(found.parent, found.name)
            c.data_from = files.lookup(path, c.row.run_id, chain=point.chain(c.row.run_id))
