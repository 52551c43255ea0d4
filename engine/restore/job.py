"""``run_restore``: one restore as a job in the catalog (type ``restore``), like backups.

1. A job is created and QUEUED; the selection (select.py) and the media plan (plan.py) are
   made; nothing to restore, an unknown job or a volume no library holds ends the job
   FAILED_TO_START with the sentence.
2. RUNNING, a run opened; the plan is executed (execute.py) into ``spec.root``.
3. The run ends COMPLETED; COMPLETED_WITH_EXCEPTIONS when files were restored with a warning
   (in use or corrupted at backup) or kept by the overwrite policy; COMPLETED_WITH_ERRORS when
   some files failed (checksum mismatch, refused path, a file system error) while the rest
   were restored; FAILED on a device, medium or catalog failure; CANCELED on KeyboardInterrupt.

``plan_restore`` gives the plan alone, for ``tapir restore --plan``: no job, nothing moves.
Threads: call from one thread.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devices.errors import describe
from engine.backup.job import DEVICE_FAILURES
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.format.index import IndexError_
from engine.format.reader import FormatError
from engine.jobs.states import CompletionStatus, JobState
from engine.restore.execute import PlanRunner
from engine.restore.extract import Extractor, FileResult, Outcome, Overwrite
from engine.restore.plan import Plan, PlanError, build_plan, locate_volumes
from engine.restore.select import SelectionError, select

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
    as_of_job: int | None = None
    overwrite: Overwrite = Overwrite.NEVER

    def to_dict(self) -> dict[str, Any]:
        return {
            "paths": list(self.paths),
            "root": os.path.abspath(self.root),
            "as_of_job": self.as_of_job,
            "overwrite": Overwrite(self.overwrite).value,
        }


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
            "failed": self.count(Outcome.FAILED),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "volumes": self.plan.to_dict() if self.plan else [],
            "files": [r.to_dict() for r in self.results if r.outcome is not Outcome.RESTORED],
        }


def plan_restore(spec: RestoreSpec, site: Site, *, catalog: Catalog | None = None) -> Plan:
    """The media plan for ``spec`` with where each volume is; raises ``SelectionError``."""
    files = FilesStore(catalog if catalog is not None else site.catalog())
    selection = select(files, list(spec.paths), as_of_job=spec.as_of_job)
    plan = build_plan(files, selection.chosen)
    locate_volumes(plan, site)
    return plan


def run_restore(
    spec: RestoreSpec,
    site: Site,
    *,
    catalog: Catalog | None = None,
    actor: str = "tapir",
    job_id: int | None = None,
    drives: dict[str, str] | None = None,
) -> RestoreOutcome:
    """Run ``spec`` now (module docstring). Returns the outcome; raises only for programming
    errors (and re-raises KeyboardInterrupt after recording CANCELED). ``job_id``: run this
    existing restore job (QUEUED or WAITING: the job manager reserved its media) instead of
    creating one; ``drives``: library -> the drive reserved for it there."""
    started = time.monotonic()
    catalog = catalog if catalog is not None else site.catalog()
    jobs = JobsStore(catalog)
    root = os.path.abspath(os.path.expanduser(spec.root))
    name = f"{', '.join(spec.paths)} -> {root}"
    if job_id is None:
        job_id = jobs.create_job(JOB_TYPE, name, spec.to_dict(), actor=actor)
        jobs.transition(job_id, JobState.QUEUED, actor=actor, reason=f"Submitted by {actor}.")
    out = RestoreOutcome(job_id)
    try:
        out.plan = plan_restore(spec, site, catalog=catalog)
    except (SelectionError, *FAILURES) as exc:
        return _end(jobs, out, actor, started, exc)
    jobs.transition(job_id, JobState.RUNNING, actor=actor, reason="Started.")
    out.run_id = jobs.start_run(job_id).id
    extractor = Extractor(os.fsencode(root), Overwrite(spec.overwrite))
    runner = PlanRunner(site, site.media_store(), extractor, out.results.append)
    runner.mounts.drives = dict(drives or {})
    try:
        runner.run(out.plan)
        for path, exc in extractor.finish():
            why = getattr(exc, "strerror", None) or str(exc)
            out.results.append(FileResult(os.fsdecode(path), Outcome.FAILED, why, "restore.dir"))
    except KeyboardInterrupt:
        _end(jobs, out, actor, started, None, CompletionStatus.CANCELED, runner)
        raise
    except FAILURES as exc:
        return _end(jobs, out, actor, started, exc, CompletionStatus.FAILED, runner)
    finally:
        extractor.close()
    if out.count(Outcome.FAILED):
        status = CompletionStatus.COMPLETED_WITH_ERRORS
    elif out.count(Outcome.WARNING) or out.count(Outcome.KEPT):
        status = CompletionStatus.COMPLETED_WITH_EXCEPTIONS
    else:
        status = CompletionStatus.COMPLETED
    return _end(jobs, out, actor, started, None, status, runner)


def _end(
    jobs: JobsStore,
    out: RestoreOutcome,
    actor: str,
    started: float,
    exc: BaseException | None,
    status: CompletionStatus = CompletionStatus.FAILED_TO_START,
    runner: PlanRunner | None = None,
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
                "exceptions": failed + out.count(Outcome.WARNING) + out.count(Outcome.KEPT),
                "rate": out.bytes / max(out.seconds, 1e-9),
            },
        )
    reason = out.error or {
        CompletionStatus.COMPLETED: "Completed.",
        CompletionStatus.COMPLETED_WITH_ERRORS: f"Completed; {failed} files failed.",
        CompletionStatus.COMPLETED_WITH_EXCEPTIONS: "Completed with warnings.",
        CompletionStatus.CANCELED: "Canceled by the user.",
    }.get(status, status.value)
    jobs.transition(out.job_id, JobState.ENDED, actor=actor, reason=reason, status=status)
    return out
