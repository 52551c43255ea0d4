"""``run_verify``: one verify as a job of type ``verify`` with its own run and history.

1. A job is created and QUEUED. The backup run to read: job J's newest successful run, or its
   run number N. An unknown job, a job that is not a backup, a run that stored nothing, or a
   volume no library holds ends the verify job FAILED_TO_START with the sentence.
2. RUNNING, a run opened; every member the run stored is read back in media order
   (engine/restore/execute.py ``PlanRunner`` with check.py's ``Checker``).
3. COMPLETED when every file matched; COMPLETED_WITH_EXCEPTIONS when every file matched but
   some only on another copy (copy 1 could not be read there: each a warning naming the
   volume and block, engine/restore/copies.py); COMPLETED_WITH_ERRORS when some did not (checksum
   mismatch, member missing at its position, MEDIUM ERROR), the rest read on; FAILED when a
   device failed for the whole job; CANCELED on KeyboardInterrupt. The differing files are the
   outcome's ``differ`` and the run's ``counters["differ"]`` (the first ``KEPT_DIFFER``).

Threads: call from one thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from devices.errors import describe
from engine.backup.job import DEVICE_FAILURES
from engine.backup.job import JOB_TYPE as BACKUP
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_model import JobsError
from engine.catalog.jobs_store import JobsStore
from engine.catalog.schema import runs
from engine.format.index import IndexError_
from engine.format.reader import FormatError
from engine.jobs.states import CompletionStatus, JobState
from engine.restore.asof import AsOf, NoSuchPoint, PointInTime
from engine.restore.copies import CopyFallback, Instead, plan_with_copies
from engine.restore.execute import PlanRunner, StopRequested
from engine.restore.extract import FileResult, Outcome
from engine.restore.plan import Plan, PlanError, check_reachable
from engine.restore.select import Chosen
from engine.verify.check import Checker

if TYPE_CHECKING:
    from engine.catalog.db import Catalog
    from engine.site import Site

JOB_TYPE = "verify"
FAILURES = (*DEVICE_FAILURES, FormatError, IndexError_, PlanError)
KEPT_DIFFER = 1000
"""Differing files kept in the run's counters (the outcome has them all)."""
EXIT_CODES = {
    CompletionStatus.COMPLETED: 0,
    CompletionStatus.COMPLETED_WITH_EXCEPTIONS: 1,
    CompletionStatus.COMPLETED_WITH_ERRORS: 1,
}
FAILURE_EXIT = 2


class VerifyRefused(LookupError):
    """Nothing to verify for this job or run (the message says why and what to try)."""

    code = "verify.refused"


@dataclass(frozen=True)
class VerifySpec:
    job: int
    run_number: int | None = None
    """Run N of the job (None: its newest successful run)."""
    copy: int | None = None
    """Read copy N (engine/restore/copies.py); None: copy 1, another copy where it fails."""

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job, "run": self.run_number, "copy": self.copy}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VerifySpec:
        """Back from ``to_dict``: the spec a queued verify job keeps in the catalog."""
        return cls(int(d["job"]), d.get("run"), d.get("copy"))

    def job_name(self) -> str:
        run = f" run {self.run_number}" if self.run_number else ""
        return f"verify job {self.job}{run}" + (f" copy {self.copy}" if self.copy else "")


@dataclass
class VerifyOutcome:
    job_id: int
    run_id: int | None = None
    verified_run: int | None = None
    status: CompletionStatus = CompletionStatus.FAILED_TO_START
    error: str | None = None
    error_code: str | None = None
    results: list[FileResult] = field(default_factory=list)
    plan: Plan | None = None
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0

    @property
    def differ(self) -> list[FileResult]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]

    @property
    def from_copies(self) -> list[FileResult]:
        """Files copy 1 could not give that another copy did (each a warning)."""
        return [r for r in self.results if r.outcome is Outcome.WARNING]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.status, FAILURE_EXIT)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "run": self.run_id,
            "verified_run": self.verified_run,
            "status": self.status.value,
            "error": self.error,
            "error_code": self.error_code,
            "files": self.files,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "volumes": self.plan.to_dict() if self.plan else [],
            "differ": [r.to_dict() for r in self.differ],
            "from_copies": [r.to_dict() for r in self.from_copies],
        }


def backup_run(files: FilesStore, jobs: JobsStore, spec: VerifySpec) -> int:
    """The catalog id of the backup run ``spec`` names. Raises ``VerifyRefused``."""
    try:
        job = jobs.get_job(spec.job)
    except JobsError as exc:
        raise VerifyRefused(f"{exc} See tapir jobs list.") from exc
    if job.type != BACKUP:
        raise VerifyRefused(f"Job {spec.job} is a {job.type} job; verify reads backup jobs.")
    if spec.run_number is None:
        try:  # the run a restore of the job would read (engine/restore/asof.py)
            return PointInTime(files, AsOf(job=spec.job)).candidates[0]
        except NoSuchPoint as exc:
            raise VerifyRefused(f"Job {spec.job} has no run to verify.") from exc
    query = sa.select(runs.c.id).where(runs.c.job_id == spec.job, runs.c.number == spec.run_number)
    with files.catalog.read() as conn:
        found = conn.execute(query).scalar()
    if found is None:
        raise VerifyRefused(f"Job {spec.job} has no run {spec.run_number}.")
    return int(found)


def stored_members(files: FilesStore, run_id: int) -> list[Chosen]:
    """Every member the run wrote (files skipped at backup and deletions have none)."""
    chosen = []
    for session in files.sessions(run_id):
        for row in files.stored(session.id):
            chosen.append(Chosen(row, int(session.id)))
    return chosen


def plan_verify(spec: VerifySpec, site: Site, catalog: Catalog) -> tuple[int, Plan]:
    """The backup run ``spec`` names and the media plan that reads every member it stored,
    with where each volume is now (the job manager reserves from it). Raises
    ``VerifyRefused``."""
    files, jobs = FilesStore(catalog), JobsStore(catalog)
    run_id = backup_run(files, jobs, spec)
    chosen = stored_members(files, run_id)
    if not chosen:
        raise VerifyRefused(f"Job {spec.job}'s run stored no files; nothing to verify.")
    return run_id, plan_with_copies(files, chosen, site, spec.copy)


def run_verify(
    spec: VerifySpec,
    site: Site,
    *,
    catalog: Catalog | None = None,
    actor: str = "tapir",
    should_stop: Callable[[], bool] | None = None,
    stop_as: Callable[[], tuple[CompletionStatus, str]] | None = None,
    job_id: int | None = None,
    drives: dict[str, str] | None = None,
    claim_medium: Callable[[str, str], bool] | None = None,
) -> VerifyOutcome:
    """Run ``spec`` now (module docstring). Returns the outcome; raises only for programming
    errors (and re-raises KeyboardInterrupt after recording CANCELED). ``job_id``/``drives``:
    an existing verify job the job manager reserved media and drives for (library -> drive),
    as ``run_restore`` takes them; ``claim_medium(barcode, library)`` reserves a copy's tape
    before a member copy 1 could not give is read from it (engine/restore/copies.py).
    ``should_stop``: polled between members (execute.py); True ends it with ``stop_as``'s
    status and reason (a cancel: verify is not preemptable, so it is never suspended), the
    files checked so far counted."""
    started = time.monotonic()
    catalog = catalog if catalog is not None else site.catalog()
    jobs = JobsStore(catalog)
    if job_id is None:
        job_id = jobs.create_job(JOB_TYPE, spec.job_name(), spec.to_dict(), actor=actor)
        jobs.transition(job_id, JobState.QUEUED, actor=actor, reason=f"Submitted by {actor}.")
    out = VerifyOutcome(job_id)
    try:
        out.verified_run, out.plan = plan_verify(spec, site, catalog)
        check_reachable(out.plan)
    except (VerifyRefused, *FAILURES) as exc:
        return _end(jobs, out, actor, started, exc)
    jobs.transition(job_id, JobState.RUNNING, actor=actor, reason="Started.")
    out.run_id = jobs.start_run(job_id).id
    checker = Checker()
    instead = Instead(out.plan)
    runner = PlanRunner(site, site.media_store(), checker, lambda r: out.results.append(instead(r)))
    runner.copies = CopyFallback(FilesStore(catalog), claim_medium)
    runner.mounts.drives = dict(drives or {})
    runner.should_stop = should_stop
    try:
        runner.run(out.plan)
    except StopRequested:
        status, why = stop_as() if stop_as is not None else (CompletionStatus.CANCELED, "")
        why = f"{why} Stopped while running: {checker.files} files checked before it stopped."
        return _end(jobs, out, actor, started, None, status, checker, why.strip())
    except KeyboardInterrupt:
        _end(jobs, out, actor, started, None, CompletionStatus.CANCELED, checker)
        raise
    except FAILURES as exc:
        return _end(jobs, out, actor, started, exc, CompletionStatus.FAILED, checker)
    status = CompletionStatus.COMPLETED_WITH_ERRORS if out.differ else CompletionStatus.COMPLETED
    if status is CompletionStatus.COMPLETED and out.from_copies:
        status = CompletionStatus.COMPLETED_WITH_EXCEPTIONS
    return _end(jobs, out, actor, started, None, status, checker)


def _end(
    jobs: JobsStore,
    out: VerifyOutcome,
    actor: str,
    started: float,
    exc: BaseException | None,
    status: CompletionStatus = CompletionStatus.FAILED_TO_START,
    checker: Checker | None = None,
    reason: str | None = None,
) -> VerifyOutcome:
    out.status = status
    out.seconds = time.monotonic() - started
    if checker is not None:
        out.files, out.bytes = checker.files, checker.bytes
    if exc is not None:
        out.error = describe(exc) if not isinstance(exc, LookupError) else str(exc)
        out.error_code = getattr(exc, "code", type(exc).__name__)
    differ = out.differ
    if out.run_id is not None:
        jobs.end_run(
            out.run_id,
            status,
            error=out.error,
            counters={
                "files": out.files,
                "bytes": out.bytes,
                "exceptions": len(differ),
                "rate": out.bytes / max(out.seconds, 1e-9),
                "verified_run": out.verified_run,
                "differ": [r.to_dict() for r in differ[:KEPT_DIFFER]],
            },
        )
    reason = (
        reason
        or out.error
        or {
            CompletionStatus.COMPLETED: "Completed; every file matches its checksum.",
            CompletionStatus.COMPLETED_WITH_ERRORS: (
                f"Completed; {len(differ)} files differ: "
                + ", ".join(os.fsdecode(r.path) for r in differ[:3])
                + (", ..." if len(differ) > 3 else "")
            ),
            CompletionStatus.COMPLETED_WITH_EXCEPTIONS: (
                f"Completed; every file matches, but {len(out.from_copies)} could only be read "
                "from another copy: "
                + ", ".join(os.fsdecode(r.path) for r in out.from_copies[:3])
                + (", ..." if len(out.from_copies) > 3 else "")
            ),
            CompletionStatus.CANCELED: "Canceled by the user.",
        }.get(status, status.value)
    )
    jobs.transition(out.job_id, JobState.ENDED, actor=actor, reason=reason, status=status)
    return out
