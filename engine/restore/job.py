"""``run_restore``: one restore as a job in the catalog (type ``restore``), like backups.

1. A job is created and QUEUED; the selection (select.py) and the media plan (plan.py) are
   made; nothing to restore, an unknown job or a volume no library holds ends the job
   FAILED_TO_START with the sentence.
2. RUNNING, a run opened; the plan is executed (execute.py) into ``spec.root``.
3. The run ends COMPLETED; COMPLETED_WITH_EXCEPTIONS when files were restored with a warning
   (in use or corrupted at backup), kept by the overwrite policy, or selected but never stored
   (skipped at backup: each listed with the backup's reason); COMPLETED_WITH_ERRORS when
   some files failed (checksum mismatch, refused path, a file system error) while the rest
   were restored; FAILED on a device, medium or catalog failure; CANCELED on KeyboardInterrupt.
   A cancel requested while it runs (``should_stop``, polled between members: execute.py
   ``StopRequested``) ends it with the cancel's status and reason, the files restored so far
   counted and said; every file is whole or absent (extract.py renames only complete files).

``plan_restore`` gives the plan alone, for ``tapir restore --plan``: no job, nothing moves.
Threads: call from one thread.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devices.errors import describe
from engine.backup.job import DEVICE_FAILURES
from engine.catalog.files_model import FileRow, shown
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.format.index import IndexError_
from engine.format.reader import FormatError
from engine.jobs.states import CompletionStatus, JobState
from engine.restore.asof import LATEST, AsOf, NoSuchPoint
from engine.restore.copies import CopyFallback, Instead, plan_with_copies
from engine.restore.execute import PlanRunner, StopRequested
from engine.restore.extract import Extractor, FileResult, Outcome, Overwrite
from engine.restore.plan import Plan, PlanError, check_reachable
from engine.restore.select import Selection, SelectionError, select

if TYPE_CHECKING:
    from engine.catalog.db import Catalog
    from engine.site import Site

JOB_TYPE = "restore"
FAILURES = (*DEVICE_FAILURES, FormatError, IndexError_, PlanError)
EXIT_CODES = {CompletionStatus.COMPLETED: 0}
PARTIAL_EXIT = 1
FAILURE_EXIT = 2
PARTIAL = frozenset(
    {CompletionStatus.COMPLETED_WITH_EXCEPTIONS, CompletionStatus.COMPLETED_WITH_ERRORS}
)


@dataclass(frozen=True)
class RestoreSpec:
    paths: tuple[str, ...]
    root: str = "/"
    """Members are written at ``root`` + their absolute path as backed up."""
    as_of: AsOf = LATEST
    """The point in time (asof.py ``parse_as_of``): latest, a job, a run or a date."""
    overwrite: Overwrite = Overwrite.NEVER
    copy: int | None = None
    """Read copy N of every session (engine/restore/copies.py); None: copy 1, another copy
    for what copy 1 cannot give."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "copy": self.copy,
            "paths": [shown(p) for p in self.paths],
            "root": shown(os.path.abspath(self.root)),
            "as_of": self.as_of.to_dict(),
            "overwrite": Overwrite(self.overwrite).value,
            # the exact bytes, for a queued job run later (shown() escapes are for people)
            "raw": [base64.b64encode(os.fsencode(p)).decode() for p in (*self.paths, self.root)],
        }

    def job_name(self) -> str:
        root = os.path.abspath(os.path.expanduser(self.root))
        return f"{', '.join(shown(p) for p in self.paths)} -> {shown(root)}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RestoreSpec:
        """Back from ``to_dict``: the spec a queued restore job keeps in the catalog."""
        if "raw" in d:
            *paths, root = (os.fsdecode(base64.b64decode(p)) for p in d["raw"])
        else:
            paths, root = d["paths"], d.get("root", "/")
        return cls(
            tuple(paths),
            root=root,
            as_of=AsOf.from_dict(d.get("as_of")),
            overwrite=Overwrite(d.get("overwrite", Overwrite.NEVER.value)),
            copy=d.get("copy"),
        )


@dataclass
class RestoreOutcome:
    job_id: int
    run_id: int | None = None
    status: CompletionStatus = CompletionStatus.FAILED_TO_START
    error: str | None = None
    error_code: str | None = None
    results: list[FileResult] = field(default_factory=list)
    plan: Plan | None = None
    located: list[tuple[str, int, int]] = field(default_factory=list)
    as_of: AsOf = LATEST
    runs: list[int] = field(default_factory=list)
    """The backup runs the restored versions come from (chains resolved)."""
    records_read: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def exit_code(self) -> int:
        if self.status in EXIT_CODES:
            return EXIT_CODES[self.status]
        return PARTIAL_EXIT if self.status in PARTIAL else FAILURE_EXIT

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "run": self.run_id,
            "status": self.status.value,
            "error": self.error,
            "error_code": self.error_code,
            "restored": self.count(Outcome.RESTORED) + self.count(Outcome.WARNING),
            "warnings": self.count(Outcome.WARNING),
            "kept": self.count(Outcome.KEPT),
            "not_stored": self.count(Outcome.NOT_STORED),
            "failed": self.count(Outcome.FAILED),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "as_of": self.as_of.to_dict(),
            "from_runs": self.runs,
            "volumes": self.plan.to_dict() if self.plan else [],
            "files": [r.to_dict() for r in self.results if r.outcome is not Outcome.RESTORED],
        }


def plan_restore(spec: RestoreSpec, site: Site, *, catalog: Catalog | None = None) -> Plan:
    """The media plan for ``spec`` with where each volume is; raises ``SelectionError``,
    ``asof.NoSuchPoint``."""
    return _prepare(spec, site, catalog)[1]


def _prepare(spec: RestoreSpec, site: Site, catalog: Catalog | None) -> tuple[Selection, Plan]:
    files = FilesStore(catalog if catalog is not None else site.catalog())
    selection = select(files, list(spec.paths), as_of=spec.as_of)
    plan = plan_with_copies(files, selection.chosen, site, spec.copy)
    return selection, plan


def not_stored(row: FileRow) -> FileResult:
    """A selected file whose data the backup never stored (skipped): said, not hidden."""
    why = row.exception_sentence or "its data is on no medium"
    category = row.exception_category or "skipped"
    return FileResult(
        shown(row.path),
        Outcome.NOT_STORED,
        f"not restored: it was {category.replace('_', ' ')} at backup: {why}",
        f"restore.{category}",
    )


def run_restore(
    spec: RestoreSpec,
    site: Site,
    *,
    catalog: Catalog | None = None,
    actor: str = "tapir",
    job_id: int | None = None,
    drives: dict[str, str] | None = None,
    claim_medium: Callable[[str, str], bool] | None = None,
    should_stop: Callable[[], bool] | None = None,
    stop_as: Callable[[], tuple[CompletionStatus, str]] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> RestoreOutcome:
    """Run ``spec`` now (module docstring). Returns the outcome; raises only for programming
    errors (and re-raises KeyboardInterrupt after recording CANCELED). ``job_id``: run this
    existing restore job (QUEUED or WAITING: the job manager reserved its media) instead of
    creating one; ``drives``: library -> the drive reserved for it there. ``should_stop``:
    polled between members; ``stop_as``: then the cancel's status and reason. ``on_file``:
    called with each file's result as it comes (progress). ``claim_medium(barcode, library)``:
    reserves a copy's tape before a file copy 1 could not give is read from it
    (engine/restore/copies.py)."""
    started = time.monotonic()
    catalog = catalog if catalog is not None else site.catalog()
    jobs = JobsStore(catalog)
    root = os.path.abspath(os.path.expanduser(spec.root))
    name = spec.job_name()
    if job_id is None:
        job_id = jobs.create_job(JOB_TYPE, name, spec.to_dict(), actor=actor)
        jobs.transition(job_id, JobState.QUEUED, actor=actor, reason=f"Submitted by {actor}.")
    out = RestoreOutcome(job_id, as_of=spec.as_of)
    try:
        selection, out.plan = _prepare(spec, site, catalog)
        out.results += [not_stored(row) for row in selection.not_stored]
        out.runs = sorted(selection.runs)
        check_reachable(out.plan)
    except (SelectionError, NoSuchPoint, *FAILURES) as exc:
        return _end(jobs, out, actor, started, exc)
    jobs.transition(job_id, JobState.RUNNING, actor=actor, reason="Started.")
    out.run_id = jobs.start_run(job_id).id
    extractor = Extractor(os.fsencode(root), Overwrite(spec.overwrite))

    instead = Instead(out.plan)

    def report(result: FileResult) -> None:
        result = instead(result)
        out.results.append(result)
        if on_file is not None:
            on_file(result)

    runner = PlanRunner(site, site.media_store(), extractor, report)
    runner.copies = CopyFallback(
        FilesStore(catalog if catalog is not None else site.catalog()), claim_medium
    )
    runner.mounts.drives = dict(drives or {})
    runner.should_stop = should_stop
    try:
        runner.run(out.plan)
        _finish_dirs(extractor, out)
    except StopRequested:
        _finish_dirs(extractor, out)
        status, why = stop_as() if stop_as is not None else (CompletionStatus.CANCELED, "")
        restored = out.count(Outcome.RESTORED) + out.count(Outcome.WARNING)
        why = f"{why} Stopped while running: {restored} files restored before it stopped."
        return _end(jobs, out, actor, started, None, status, runner, why.strip())
    except KeyboardInterrupt:
        _end(jobs, out, actor, started, None, CompletionStatus.CANCELED, runner)
        raise
    except FAILURES as exc:
        return _end(jobs, out, actor, started, exc, CompletionStatus.FAILED, runner)
    finally:
        extractor.close()
    return _end(jobs, out, actor, started, None, completion(out), runner)


def _finish_dirs(extractor: Extractor, out: RestoreOutcome) -> None:
    """Directories restored get their attributes (also when the restore stops early)."""
    for path, exc in extractor.finish():
        why = getattr(exc, "strerror", None) or str(exc)
        out.results.append(FileResult(shown(path), Outcome.FAILED, why, "restore.dir"))


def completion(out: RestoreOutcome) -> CompletionStatus:
    """How a restore that ran to the end completed (module docstring, step 3)."""
    if out.count(Outcome.FAILED):
        return CompletionStatus.COMPLETED_WITH_ERRORS
    if out.count(Outcome.WARNING) or out.count(Outcome.KEPT) or out.count(Outcome.NOT_STORED):
        return CompletionStatus.COMPLETED_WITH_EXCEPTIONS
    return CompletionStatus.COMPLETED


def _end(
    jobs: JobsStore,
    out: RestoreOutcome,
    actor: str,
    started: float,
    exc: BaseException | None,
    status: CompletionStatus = CompletionStatus.FAILED_TO_START,
    runner: PlanRunner | None = None,
    reason: str | None = None,
) -> RestoreOutcome:
    out.status = status
    out.seconds = time.monotonic() - started
    if runner is not None:
        out.located, out.records_read, out.bytes = runner.located, runner.records_read, runner.bytes
    if exc is not None:
        out.error = describe(exc) if not isinstance(exc, LookupError) else str(exc)
        out.error_code = getattr(exc, "code", type(exc).__name__)
    failed = out.count(Outcome.FAILED)
    if out.run_id is not None:
        jobs.end_run(
            out.run_id,
            status,
            error=out.error,
            counters={
                "files": out.count(Outcome.RESTORED) + out.count(Outcome.WARNING),
                "bytes": out.bytes,
                "exceptions": len(out.results) - out.count(Outcome.RESTORED),
                "rate": out.bytes / max(out.seconds, 1e-9),
            },
        )
    reason = (
        reason
        or out.error
        or {
            CompletionStatus.COMPLETED: "Completed.",
            CompletionStatus.COMPLETED_WITH_ERRORS: f"Completed; {failed} files failed.",
            CompletionStatus.COMPLETED_WITH_EXCEPTIONS: "Completed with warnings.",
            CompletionStatus.CANCELED: "Canceled by the user.",
        }.get(status, status.value)
    )
    jobs.transition(out.job_id, JobState.ENDED, actor=actor, reason=reason, status=status)
    return out
