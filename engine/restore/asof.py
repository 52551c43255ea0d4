"""Points in time (``--as-of``) and which run's tree a path is taken from (issue 5 "at the
latest version or as of a job / point in time").

``--as-of`` takes a job id (``7`` or ``job:7``: that backup job's newest successful run, else
its newest ended run, which holds what it flushed before it stopped), a run
id (``run:12``, as ``tapir browse`` and ``--json`` outputs show it), or an ISO 8601 date or
date-time (``2026-11-22``, ``2026-11-22T14:30``, ``2026-11-22T14:30:00+01:00``): the backups
that had ended by then. A date alone means the end of that day; a time without a zone is local
time.

For a path, the run is the newest *candidate* whose incremental chain (the run, its base, its
base's base, ... down to a full) recorded the path: the path's row in the newest run of that
chain is its version at that point (a deletion row, or no row while the lineage's tree holds
the parent: the path was gone). Candidates, newest first: the one run named (job, run), else
per lineage (backups of the same job name, engine/backup/job.py) its newest successful run that
had ended by the date (none given: by now). So two backups of different trees do not hide each
other, and an older chain of a lineage (before its last full, or before a differential) never
brings back a path its newer runs no longer hold. With no ``--as-of`` (the latest version), a
path the lineages no longer hold is taken from the newest run of any chain that still held it:
"restore my deleted file" works.

Cost: one query for the runs (chains are followed in memory) and one indexed query
(``ix_files_parent_name``) for the path's versions; nothing grows with the number of files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from engine.catalog.files_model import BackupRun, Change, FileRow, normalize
from engine.catalog.files_model import shown as shown_path
from engine.catalog.files_read import FileReads

_JOB = re.compile(r"(?:job:)?(\d+)")
_RUN = re.compile(r"run:(\d+)")


class AsOfError(ValueError):
    """A ``--as-of`` value that names no point in time; the message says what is accepted."""

    code = "restore.bad_as_of"


class NoSuchPoint(LookupError):
    """The job or run named has no ended backup run; the message says what to try."""

    code = "restore.no_such_point"


@dataclass(frozen=True, slots=True)
class AsOf:
    """One point in time: a job, a run, a moment, or (all None) the latest backups."""

    job: int | None = None
    run: int | None = None
    at: datetime | None = None
    """Timezone-aware."""

    @property
    def latest(self) -> bool:
        return self.job is None and self.run is None and self.at is None

    def describe(self) -> str:
        if self.job is not None:
            return f"job {self.job}"
        if self.run is not None:
            return f"run {self.run}"
        if self.at is not None:
            return self.at.isoformat(sep=" ", timespec="seconds")
        return "the latest backups"

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "run": self.run,
            "at": self.at.isoformat() if self.at is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> AsOf:
        """Back from ``to_dict`` (a job's stored spec); None or empty: the latest."""
        if not d:
            return cls()
        at = d.get("at")
        return cls(d.get("job"), d.get("run"), datetime.fromisoformat(at) if at else None)


LATEST = AsOf()


def parse_as_of(text: str | None) -> AsOf:
    """``7``/``job:7``, ``run:12``, or an ISO date/date-time (module docstring); None: latest.
    Raises ``AsOfError``."""
    if text is None or not text.strip():
        return LATEST
    text = text.strip()
    if m := _JOB.fullmatch(text):
        return AsOf(job=int(m.group(1)))
    if m := _RUN.fullmatch(text):
        return AsOf(run=int(m.group(1)))
    try:
        if len(text) == len("2026-11-22"):
            day = date.fromisoformat(text)
            return AsOf(at=datetime.combine(day, time.max).astimezone())
        at = datetime.fromisoformat(text)
    except ValueError:
        raise AsOfError(
            f"--as-of {text!r} is not a job id (7 or job:7), a run id (run:12) or an ISO date "
            "or date-time (2026-11-22, 2026-11-22T14:30, 2026-11-22T14:30:00+01:00)."
        ) from None
    return AsOf(at=at if at.tzinfo is not None else at.astimezone())


@dataclass(frozen=True, slots=True)
class Found:
    """Where a path stands at a point in time."""

    run_id: int
    """The candidate run whose tree holds the path (list and restore ``as of`` this run)."""
    row: FileRow
    """The path's row in that tree (``change`` deleted: the path was gone then)."""

    @property
    def deleted(self) -> bool:
        return self.row.change is Change.DELETED


class PointInTime:
    """Resolves paths for one ``AsOf`` (module docstring). Read-only; one thread."""

    def __init__(self, files: FileReads, as_of: AsOf = LATEST) -> None:
        self.files = files
        self.as_of = as_of
        runs = files.backup_runs()
        self._runs = {r.id: r for r in runs}
        self.candidates = self._candidates(runs)
        """Run ids, newest first."""

    def _candidates(self, runs: list[BackupRun]) -> list[int]:
        as_of = self.as_of
        ok = [r for r in runs if r.succeeded]
        # a run that ended otherwise (failed, resumed, canceled) still holds what it flushed
        # before it stopped: never a head (its partial tree would read as deletions), but a
        # source for a path no head holds, and the point of a job that has nothing better
        ended = [r for r in runs if r.ended_at is not None]
        self._all = [r.id for r in ok] + [r.id for r in ended if not r.succeeded]
        if as_of.job is not None:
            mine = [r for r in ok if r.job_id == as_of.job][:1]
            mine = mine or [r for r in ended if r.job_id == as_of.job][:1]
            if not mine:
                raise NoSuchPoint(f"Job {as_of.job} has no ended backup run; see tapir jobs list.")
            return [mine[0].id]
        if as_of.run is not None:
            mine = [r for r in ended if r.id == as_of.run]
            if not mine:
                raise NoSuchPoint(
                    f"Run {as_of.run} is not an ended backup run; tapir browse PATH lists "
                    "the runs that hold a path."
                )
            return [mine[0].id]
        if as_of.at is not None:
            at = as_of.at
            ok = [r for r in ok if r.ended_at is not None and r.ended_at <= at]
        heads: dict[str, int] = {}
        for r in ok:  # newest first: the first of each lineage is its head
            heads.setdefault(r.job_name, r.id)
        return list(heads.values())

    def chain(self, run_id: int) -> list[int]:
        """``run_id``, its base, its base's base, ... (newest first), from memory."""
        found: list[int] = []
        current: int | None = run_id
        while current is not None and current not in found:
            found.append(current)
            run = self._runs.get(current)
            current = run.base_run_id if run is not None else None
        return found

    def run(self, run_id: int) -> BackupRun | None:
        return self._runs.get(run_id)

    def find(self, path: bytes | str) -> Found | None:
        """Where ``path`` stands at this point, or None when no candidate's chain recorded it.
        With no ``--as-of``, a deletion (or a lineage that no longer holds the path) is passed
        over for the newest chain of any run that still held it."""
        recorded: dict[int, FileRow] = {}
        for v in self.files.versions(normalize(path)):
            if v.row.run_id is not None:
                recorded[v.row.run_id] = v.row
        if not recorded:
            return None
        gone: Found | None = None
        for candidate in self.candidates:
            found = self._in_chain(candidate, recorded)
            if found is None:
                continue
            if not (found.deleted and self.as_of.latest):
                return found
            gone = gone or found
        if self.as_of.latest:
            for run_id in self._all:
                found = self._in_chain(run_id, recorded)
                if found is not None and not found.deleted:
                    return found
        return gone

    def _in_chain(self, run_id: int, recorded: dict[int, FileRow]) -> Found | None:
        row = next((recorded[r] for r in self.chain(run_id) if r in recorded), None)
        return Found(run_id, row) if row is not None else None

    def sources_below(self, path: bytes | str) -> list[FileRow]:
        """The next component towards each backed-up source below ``path`` at this point:
        the source's own row when it is that component, else a directory standing for the
        way down (mode 0: not backed up itself). By name; the newest candidate wins a name."""
        directory = normalize(path)
        prefix = directory if directory.endswith(b"/") else directory + b"/"
        entries: dict[bytes, FileRow] = {}
        rank = {run_id: n for n, run_id in enumerate(self.candidates)}
        sources = sorted(self.files.session_sources(self.candidates), key=lambda s: rank[s[0]])
        for run_id, source in sources:
            if not source.startswith(prefix) or source == prefix:
                continue
            child = prefix + source[len(prefix) :].split(b"/")[0]
            if child in entries:
                continue
            found = self.find(child) if child == source else None
            row = found.row if found is not None and not found.deleted else None
            entries[child] = row or FileRow(path=child, kind="directory", run_id=run_id)
        return [entries[k] for k in sorted(entries)]

    def held_before(self, path: bytes | str) -> bool:
        """Some successful backup run before this point recorded ``path`` (as existing)."""
        limit = self.as_of.at
        for v in self.files.versions(normalize(path)):
            run = self._runs.get(v.row.run_id or 0)
            if run is None or not run.succeeded or v.row.change is Change.DELETED:
                continue
            if limit is None or (run.ended_at is not None and run.ended_at <= limit):
                return True
        return False

    def missing(self, path: bytes | str) -> str:
        """Why ``path`` has nothing at this point: the sentence for the user."""
        shown = shown_path(normalize(path))
        found = self.find(path)
        if (found is not None and found.deleted) or self.held_before(path):
            by = ""
            if found is not None and found.deleted:
                run = self.run(found.row.run_id or 0)
                by = f" (deleted as of run {run.id}, job {run.job_id})" if run else ""
            return (
                f"{shown} did not exist as of {self.as_of.describe()}{by}; "
                f"tapir browse {shown} lists its versions."
            )
        if self.as_of.latest:
            return (
                f"{shown} is in no backup of the catalog; check the path (absolute, as "
                "backed up) or tapir jobs list."
            )
        return (
            f"{shown} is in no backup as of {self.as_of.describe()}; tapir browse {shown} lists "
            "its versions."
        )


def list_as_of(
    files: FileReads, path: bytes | str, as_of: AsOf = LATEST
) -> tuple[PointInTime, Found | None, list[FileRow]]:
    """``tapir ls``: the entries of directory ``path`` at ``as_of`` (a file: itself), with the
    run they are taken from. A directory no backup recorded but above backed-up sources
    (``/``, ``/srv``) lists the way down to them, with no ``Found``. Raises ``NoSuchPoint``
    (the sentence says why)."""
    point = PointInTime(files, as_of)
    found = point.find(path)
    if found is None:
        below = point.sources_below(path)
        if below:
            return point, None, below
    if found is None or found.deleted:
        raise NoSuchPoint(point.missing(path))
    if found.row.kind != "directory":
        return point, found, [found.row]
    chain = point.chain(found.run_id)
    return point, found, files.list_directory(path, found.run_id, chain=chain)
