"""What each job type does once its resources are reserved (runner.py calls these).

backup: ``run_backup`` on the existing job, held to the reserved drive and away from media
other jobs reserved, stopping at checkpoints on request (preemption, suspend, cancel) and
resuming from the last checkpoint on its next run (engine/backup/resume.py).
A restarted run (BackupSpec.restarts) reserves the drive it moves to first (``restart_drive``).
restore: ``run_restore`` on the existing job (not preemptable: it runs to its end unless
canceled, which it polls between members).
copy: ``run_copy`` on the existing job (engine/copy/job.py), canceled like a restore.
A type without an executor ends FAILED_TO_START: this tapir cannot run it yet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from engine.backup.exceptions import InUseAction, InUsePolicy
from engine.backup.job import DEVICE_FAILURES, JobNotRunnable, run_backup
from engine.backup.job_spec import BackupSpec
from engine.backup.levels import Level
from engine.backup.targets import Target
from engine.catalog.jobs_model import StaleJob
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager import reasons
from engine.manager.resources import Kind
from engine.manager.runner import Executor, JobContext
from engine.site_config import SiteError
from hwsim.library import StateError


def backup_spec_from_dict(d: Mapping[str, Any], *, name: str | None = None) -> BackupSpec:
    """The ``BackupSpec`` a job's ``spec`` (``BackupSpec.to_dict``) describes."""
    policy = d.get("in_use_policy") or {}
    known = {f.name for f in dataclasses.fields(BackupSpec)}
    plain = {
        k: d[k]
        for k in ("pool", "one_file_system", "record_size", "checkpoint_bytes", "restarts")
        if k in d and k in known and d[k] is not None
    }
    if "checkpoint_seconds" in d:
        plain["checkpoint_seconds"] = float(d["checkpoint_seconds"])
    return BackupSpec(
        source=d["source"],
        target=d["target"],
        level=Level(d.get("level", Level.FULL.value)),
        includes=tuple(d.get("includes", ())),
        excludes=tuple(d.get("excludes", ())),
        in_use_policy=InUsePolicy(
            InUseAction(policy.get("action", InUseAction.FLAG.value)),
            retries=int(policy.get("retries", 0)),
            **({"retry_delay_s": policy["retry_delay_s"]} if "retry_delay_s" in policy else {}),
        ),
        name=name,
        **plain,
    )


def refresh_inventories(site: Any) -> None:
    """Re-read every library's inventory: the Site may have cached one from before another
    process (or Site) moved cartridges (the job that held the drive before this one)."""
    for spec in site.config.libraries:
        with contextlib.suppress(*DEVICE_FAILURES, SiteError, StateError):
            site.library(spec.name).inventory(refresh=True)


def backup(ctx: JobContext) -> None:
    from engine.backup.target_tape import LibraryTarget

    refresh_inventories(ctx.site)
    spec = ctx.extras.get("spec") or backup_spec_from_dict(ctx.job.spec, name=ctx.job.name)
    drives = [(key, grp) for kind, key, grp in ctx.grant.keys if kind is Kind.DRIVE]
    runs: list[LibraryTarget] = []

    def hold_to_reservation(target: Target) -> None:
        """The first run uses the reserved drive; a run restarted after a device failure
        (BackupSpec.restarts) moves to another drive, away from the one that failed
        (engine/backup/job.py), once it has reserved it (``restart_drive``)."""
        if isinstance(target, LibraryTarget):
            if drives and not runs:
                target.drive = drives[0][0].rpartition(":")[2]
            elif drives:
                failed = runs[-1].failed_drives  # the set job.py fills as drives fail it
                target.drive = restart_drive(ctx, target.library_name, drives, failed)
            runs.append(target)
            target.reserved_elsewhere = ctx.others_media
            pool = target.pool
            target.claim_medium = lambda barcode: ctx.claim(Kind.MEDIUM, barcode, pool)

    try:
        ctx.outcome = run_backup(
            spec,
            ctx.site,
            catalog=ctx.catalog,
            actor=ctx.actor,
            progress=ctx.extras.get("progress"),
            on_item_error=ctx.extras.get("on_item_error"),
            job_id=ctx.job.id,
            should_stop=ctx.should_stop,
            stop_state=JobState.WAITING,
            stop_as=ctx.stop_as,
            prepare_target=hold_to_reservation,
            resume_from=ctx.extras.pop("resume_from", None),
        )
    except (JobNotRunnable, EndedMeanwhile):
        return  # canceled or suspended between the reservation and the start (or a restart)


class EndedMeanwhile(Exception):
    """The job was canceled while its restarted run waited for a drive: nothing more to do."""


def restart_drive(
    ctx: JobContext, library: str, drives: list[tuple[str, str]], failed: set[str]
) -> str:
    """The drive a restarted run uses: the one it holds if that did not fail it, else another
    of the library's drives it reserves first (giving back the failed one). With none free the
    job is WAITING with the reason for delay until one is released (the job is QUEUED between
    runs, so a cancel meanwhile ends it: ``EndedMeanwhile``)."""
    key, grp = drives[0]
    name = key.rpartition(":")[2]
    if name not in failed:
        return name
    jobs = JobsStore(ctx.catalog)
    names = list(ctx.site.endpoints(library).drives)
    waiting = False
    while True:
        for other in names:
            if other in failed or not ctx.claim(Kind.DRIVE, f"{library}:{other}", grp):
                continue
            ctx.reservations.unclaim(ctx.holder, Kind.DRIVE.value, key)
            drives[0] = (f"{library}:{other}", grp)
            return other
        state = jobs.get_job(ctx.job.id).state
        if state is JobState.ENDED or ctx.lost.is_set():
            raise EndedMeanwhile
        if not waiting and state is JobState.QUEUED:
            why = f"{reasons.NO_DRIVES} Drive {name} failed it; it waits for another drive."
            with contextlib.suppress(StaleJob):
                jobs.transition(
                    ctx.job.id, JobState.WAITING, actor=ctx.actor, reason=why,
                    expected=JobState.QUEUED,
                )  # fmt: skip
            waiting = True
        time.sleep(ctx.config.heartbeat_s)


def restore(ctx: JobContext) -> None:
    from engine.restore.job import RestoreSpec, run_restore

    refresh_inventories(ctx.site)
    d = ctx.job.spec
    spec = ctx.extras.get("spec") or RestoreSpec.from_dict(d)
    job = JobsStore(ctx.catalog).get_job(ctx.job.id)
    if job.state not in (JobState.QUEUED, JobState.WAITING):
        return
    drives = dict(key.split(":", 1) for key in ctx.grant.of(Kind.DRIVE) if ":" in key)
    ctx.outcome = run_restore(
        spec,
        ctx.site,
        catalog=ctx.catalog,
        actor=ctx.actor,
        job_id=job.id,
        drives=drives,
        should_stop=ctx.cancel_requested,
        stop_as=ctx.cancel_as,
        on_file=ctx.extras.get("on_file"),
        claim_medium=lambda barcode, library: ctx.claim(Kind.MEDIUM, barcode, library),
    )


def verify(ctx: JobContext) -> None:
    from engine.verify.job import VerifySpec, run_verify

    refresh_inventories(ctx.site)
    spec = ctx.extras.get("spec") or VerifySpec.from_dict(ctx.job.spec)
    job = JobsStore(ctx.catalog).get_job(ctx.job.id)
    if job.state not in (JobState.QUEUED, JobState.WAITING):
        return
    drives = dict(key.split(":", 1) for key in ctx.grant.of(Kind.DRIVE) if ":" in key)
    ctx.outcome = run_verify(
        spec,
        ctx.site,
        catalog=ctx.catalog,
        actor=ctx.actor,
        job_id=job.id,
        drives=drives,
        should_stop=ctx.cancel_requested,
        stop_as=ctx.cancel_as,
        claim_medium=lambda barcode, library: ctx.claim(Kind.MEDIUM, barcode, library),
    )


def copy(ctx: JobContext) -> None:
    """A copy: copy 1 read in the reserved drive of its library, the copy written with the
    other reserved drive (or to the reserved mount path), onto the reserved medium of the
    pool and, when it spans, others it claims as a backup does."""
    from engine.copy.job import CopySpec, run_copy

    refresh_inventories(ctx.site)
    spec = ctx.extras.get("spec") or CopySpec.from_dict(ctx.job.spec)
    job = JobsStore(ctx.catalog).get_job(ctx.job.id)
    if job.state not in (JobState.QUEUED, JobState.WAITING):
        return
    keys = [key for key in ctx.grant.of(Kind.DRIVE) if ":" in key]
    source = ctx.extras.get("copy_source_library")
    read = next((k for k in keys if source is None or k.startswith(f"{source}:")), None)
    drives = dict([read.split(":", 1)]) if read else {}
    rest = [k for k in keys if k != read]

    def hold(target: Any, avoid: set[str]) -> None:
        if rest and target.drive is None:
            mine = next((k for k in rest if k.startswith(f"{target.library_name}:")), None)
            if mine is not None:
                target.drive = mine.rpartition(":")[2]
        target.reserved_elsewhere = lambda: ctx.others_media() | avoid
        pool = target.pool
        target.claim_medium = lambda barcode: ctx.claim(Kind.MEDIUM, barcode, pool)

    ctx.outcome = run_copy(
        spec,
        ctx.site,
        catalog=ctx.catalog,
        actor=ctx.actor,
        job_id=job.id,
        drives=drives,
        prepare_target=hold,
        should_stop=ctx.cancel_requested,
        stop_as=ctx.cancel_as,
    )


def unsupported(ctx: JobContext) -> None:
    JobsStore(ctx.catalog).transition(
        ctx.job.id,
        JobState.ENDED,
        actor=ctx.actor,
        reason=f"This tapir cannot run {ctx.job.type} jobs yet.",
        status=CompletionStatus.FAILED_TO_START,
    )


EXECUTORS: dict[str, Executor] = {
    "backup": backup,
    "restore": restore,
    "verify": verify,
    "copy": copy,
}


def executor_for(job_type: str) -> Executor:
    return EXECUTORS.get(job_type, unsupported)
