"""``run_copy``: one copy of a backup run as a job of type ``copy`` with its own run and history.

1. The run to copy: job J's newest successful run (the one a restore reads), or run N. An
   unknown job, a job that is not a backup, a run that stored nothing, or a copy-1 volume no
   library holds ends the copy job FAILED_TO_START with the sentence.
2. RUNNING, a run opened; each session of the run is copied record for record to the target
   (stream.py), from copy 1's volumes, onto media that are not copy 1's (on a library: media of
   the backup job's pool, spanning to more tapes as a backup does).
3. COMPLETED, and only then are the copy's parts marked usable (copies_store.py); FAILED with
   the reason otherwise (its parts stay unusable: restore never reads a half copy); CANCELED on
   a cancel or Ctrl-C.

Threads: call from one thread.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devices.errors import describe
from engine.backup.job import DEVICE_FAILURES
from engine.backup.target_disk import DiskTarget
from engine.backup.target_tape import LibraryTarget
from engine.backup.targets import TargetError, resolve_target
from engine.catalog.copies_store import CopiesStore
from engine.catalog.files_model import SessionPart
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.copy.stream import CopyCounts, CopyFailed, PartLog, PartSource, copy_session
from engine.format.reader import FormatError
from engine.jobs.states import CompletionStatus, JobState
from engine.restore.execute import StopRequested, TapeMounts
from engine.restore.plan import (
    DISK,
    Plan,
    PlanError,
    SessionInfo,
    VolumePlan,
    check_reachable,
    disk_volume_path,
    locate_volumes,
    session_info,
)
from engine.restore.sources import DiskSource, TapeSource
from engine.verify.job import VerifyRefused, VerifySpec, backup_run

if TYPE_CHECKING:
    from engine.catalog.db import Catalog
    from engine.site import Site

JOB_TYPE = "copy"
ACTOR = "tapir-copy"
FAILURES = (*DEVICE_FAILURES, FormatError, PlanError, CopyFailed, TargetError)
EXIT_CODES = {CompletionStatus.COMPLETED: 0}
FAILURE_EXIT = 2


class CopyRefused(LookupError):
    code = "copy.refused"


@dataclass(frozen=True)
class CopySpec:
    job: int
    target: str
    run_number: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job, "run": self.run_number, "target": self.target}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CopySpec:
        return cls(int(d["job"]), str(d["target"]), d.get("run"))

    def job_name(self) -> str:
        run = f" run {self.run_number}" if self.run_number else ""
        return f"copy job {self.job}{run} to {self.target}"


@dataclass
class CopyOutcome:
    job_id: int
    run_id: int | None = None
    copied_run: int | None = None
    copy: int | None = None
    status: CompletionStatus = CompletionStatus.FAILED_TO_START
    error: str | None = None
    error_code: str | None = None
    counts: CopyCounts = field(default_factory=CopyCounts)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.status, FAILURE_EXIT)

    def to_dict(self) -> dict[str, Any]:
        c = self.counts
        return {
            "job": self.job_id,
            "run": self.run_id,
            "copied_run": self.copied_run,
            "copy": self.copy,
            "status": self.status.value,
            "error": self.error,
            "error_code": self.error_code,
            "records": c.records,
            "bytes": c.bytes,
            "files": c.files,
            "volumes": list(c.volumes),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class CopySource:
    """What a copy reads: the backup run, its sessions, and copy 1's volumes (a plan with
    where each volume is, which the job manager reserves from)."""

    run_id: int
    sessions: list[SessionInfo]
    plan: Plan
    pool: str | None

    @property
    def volumes(self) -> set[str]:
        return {p.volume for s in self.sessions for p in s.parts}


def plan_copy(spec: CopySpec, site: Site, catalog: Catalog) -> CopySource:
    """The run ``spec`` names, its sessions and volumes. Raises ``CopyRefused``."""
    files, jobs = FilesStore(catalog), JobsStore(catalog)
    try:
        run_id = backup_run(files, jobs, VerifySpec(spec.job, spec.run_number))
    except VerifyRefused as exc:
        raise CopyRefused(str(exc).replace("verify", "copy")) from exc
    infos = [session_info(files, int(s.id)) for s in files.sessions(run_id)]
    infos = [i for i in infos if i.parts]
    if not infos:
        raise CopyRefused(f"Job {spec.job}'s run stored nothing; nothing to copy.")
    volumes: dict[str, VolumePlan] = {}
    for info in infos:
        for part in info.parts:
            if part.volume not in volumes:
                v = volumes[part.volume] = VolumePlan(part.volume, info.kind)
                v.session = info
    plan = Plan(list(volumes.values()))
    locate_volumes(plan, site)
    pool = jobs.get_job(spec.job).spec.get("pool")
    return CopySource(run_id, infos, plan, pool)


def run_copy(
    spec: CopySpec,
    site: Site,
    *,
    catalog: Catalog | None = None,
    actor: str = "tapir",
    job_id: int | None = None,
    drives: dict[str, str] | None = None,
    prepare_target: Callable[[Any, set[str]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    stop_as: Callable[[], tuple[CompletionStatus, str]] | None = None,
) -> CopyOutcome:
    """Run ``spec`` now (module docstring). ``drives``: library -> the drive copy 1 is read
    in (the job manager's reservation); ``prepare_target(target, copy1_volumes)``: holds a
    library target to its reserved drive and media. Raises only for programming errors (and
    re-raises KeyboardInterrupt after recording CANCELED)."""
    started = time.monotonic()
    catalog = catalog if catalog is not None else site.catalog()
    jobs = JobsStore(catalog)
    if job_id is None:
        job_id = jobs.create_job(JOB_TYPE, spec.job_name(), spec.to_dict(), actor=actor)
        jobs.transition(job_id, JobState.QUEUED, actor=actor, reason=f"Submitted by {actor}.")
    out = CopyOutcome(job_id)
    store = site.media_store()
    copies = CopiesStore(catalog)
    try:
        source = plan_copy(spec, site, catalog)
        out.copied_run = source.run_id
        check_reachable(source.plan)
        target = resolve_target(spec.target, site, store, pool=source.pool)
        target.check()
    except (CopyRefused, *FAILURES) as exc:
        return _end(jobs, out, actor, started, exc)
    if isinstance(target, LibraryTarget):
        avoid = source.volumes
        target.reserved_elsewhere = lambda: set(avoid)
        if prepare_target is not None:
            prepare_target(target, avoid)
    out.copy = copies.next_copy(s.session_id for s in source.sessions)
    jobs.transition(job_id, JobState.RUNNING, actor=actor, reason="Started.")
    out.run_id = jobs.start_run(job_id).id
    mounts = TapeMounts(site, store)
    mounts.drives = dict(drives or {})
    files = FilesStore(catalog)
    where = str(target.mount.path) if isinstance(target, DiskTarget) else target.name
    try:
        for info in source.sessions:
            _one_session(info, files, copies, out, mounts, target, where, source, should_stop)
    except StopRequested:
        status, why = stop_as() if stop_as is not None else (CompletionStatus.CANCELED, "")
        mounts.release_all()
        return _end(jobs, out, actor, started, None, status, why or None)
    except KeyboardInterrupt:
        mounts.release_all()
        _end(jobs, out, actor, started, None, CompletionStatus.CANCELED)
        raise
    except FAILURES as exc:
        mounts.release_all()
        return _end(jobs, out, actor, started, exc, CompletionStatus.FAILED)
    mounts.release_all()
    copies.mark_usable(job_id)
    return _end(jobs, out, actor, started, None, CompletionStatus.COMPLETED)


def _one_session(
    info: SessionInfo,
    files: FilesStore,
    copies: CopiesStore,
    out: CopyOutcome,
    mounts: TapeMounts,
    target: Any,
    where: str,
    source: CopySource,
    should_stop: Callable[[], bool] | None,
) -> None:
    assert out.copy is not None
    log = PartLog(copies, info.session_id, out.copy, where, out.job_id)

    def open_part(part: SessionPart) -> PartSource:
        if info.kind == DISK:
            path = disk_volume_path(info, part.volume)
            return DiskSource(path, part.volume, info.record_size, lambda _s: None)
        return TapeSource(mounts.tape(part.volume), part.volume, info.record_size, lambda _s: None)

    name = f"tapir-copy{out.copy}-s{info.session_id}"
    dest = target.open(info.record_size, log, name)
    try:
        if log.started and log.started[-1].volume in source.volumes:
            raise CopyFailed(
                f"{log.started[-1].volume} holds copy 1 of this run; a copy must go to other "
                "media: load another tape or name a library or mount path."
            )
        copy_session(
            info.parts,
            files.stored(info.session_id),
            open_part,
            dest,
            log,
            out.counts,
            should_stop,
        )
    except BaseException:
        with contextlib.suppress(Exception):
            dest.abort()
        raise
    for part in log.started:
        if part.volume not in out.counts.volumes:
            out.counts.volumes.append(part.volume)


def _end(
    jobs: JobsStore,
    out: CopyOutcome,
    actor: str,
    started: float,
    exc: BaseException | None,
    status: CompletionStatus = CompletionStatus.FAILED_TO_START,
    reason: str | None = None,
) -> CopyOutcome:
    out.status = status
    out.seconds = time.monotonic() - started
    if exc is not None:
        out.error = describe(exc) if not isinstance(exc, LookupError) else str(exc)
        if isinstance(exc, CopyFailed):
            out.error = str(exc)
        out.error_code = getattr(exc, "code", type(exc).__name__)
    c = out.counts
    if out.run_id is not None:
        jobs.end_run(
            out.run_id,
            status,
            error=out.error,
            counters={
                "files": c.files,
                "bytes": c.bytes,
                "records": c.records,
                "rate": c.bytes / max(out.seconds, 1e-9),
                "copied_run": out.copied_run,
                "copy": out.copy,
                "volumes": list(c.volumes),
            },
        )
    done = (
        f"Completed; copy {out.copy} of {c.files} files ({c.records} records) is on "
        f"{', '.join(c.volumes)}."
    )
    reason = (
        reason
        or out.error
        or {
            CompletionStatus.COMPLETED: done,
            CompletionStatus.CANCELED: "Canceled by the user; the partial copy is not used.",
        }.get(status, status.value)
    )
    jobs.transition(out.job_id, JobState.ENDED, actor=actor, reason=reason, status=status)
    return out
