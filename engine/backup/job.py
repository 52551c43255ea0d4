"""``run_backup``: one backup run as a job in the catalog (issue 4 "Running it").

1. A job is created (type ``backup``, named ``<source> -> <target>`` unless the spec names it)
   and QUEUED. Bad input is refused here, before anything is written: a missing source
   (``SourceMissing``), a target that does not exist (``UnknownTarget``), a library without an
   appendable or scratch medium of the pool (``NoWritableMedia``), a disabled or full mount
   path (``TargetRefused``): the job ENDS as FAILED_TO_START with that sentence, which says
   what to do. The outcome carries it; nothing is raised.
2. The level: the previous runs of jobs with the same name are the history
   (levels.``choose_base``; an incremental with no usable base runs as full and says why).
3. RUNNING, a run opened, a session opened, then the pipeline (pipeline.py), with the
   catalog's ``BaseView`` as the level's lookup. Rows are committed only at checkpoints.
4. The run ends COMPLETED, COMPLETED_WITH_EXCEPTIONS (any file in use, skipped or corrupted),
   or FAILED with the device's sentence (a drive, library, mount path or catalog failure);
   CANCELED on KeyboardInterrupt. Detail: ``up_to_date`` when an incremental or differential
   found nothing added, changed or deleted, else ``modified``.
5. Checkpoint restart (resume.py): a run stopped at a checkpoint on request ends RESUMED and
   the job goes back to QUEUED/WAITING; with ``BackupSpec.restarts``, a run failing on a
   device ends RESUMED and the job continues at once as a new run. Either way the next run
   of the job continues from the last checkpoint instead of starting over.

Threads: call from one thread; ``progress`` and ``on_item_error`` are called from the
pipeline's threads (progress from the format thread, item errors from scan/reader threads).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from devices.disk import MountPathError
from devices.errors import DeviceError, describe
from devices.media import MediaModelError
from drivers.errors import ScsiError
from drivers.transport.contract import TransportError
from engine import child_process
from engine.backup.exceptions import ItemErrorHandler
from engine.backup.job_spec import BackupSpec, RunOutcome
from engine.backup.levels import Level, LevelFilter, choose_base
from engine.backup.pipeline import (
    Counters,
    Pipeline,
    PipelineOptions,
    Progress,
)
from engine.backup.resume import ResumePoint, resume_choice, resume_point, resume_sentence
from engine.backup.run_record import Exceptions, Parts, end_run, progress_reporter
from engine.backup.tape_loss import DriveTimedOut, MediumWriteFailed
from engine.backup.target_disk import DiskTarget, after_failure
from engine.backup.targets import BackupError, SourceMissing, Target, resolve_target
from engine.catalog.base_view import BaseView
from engine.catalog.files_staging import FileStaging
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_query import JobQuery
from engine.catalog.jobs_store import JobsStore
from engine.catalog.media_store import CatalogMediaStore
from engine.jobs.states import CompletionStatus, JobState
from engine.jobs.vocabulary import Detail

if TYPE_CHECKING:
    from engine.catalog.db import Catalog
    from engine.site import Site

JOB_TYPE = "backup"
MEDIUM_ERROR_CONTINUATIONS = 3
"""Runs a job continues after medium write errors beyond its checkpoint restarts: each error
closes one tape, so three in a row point at the drive (its down rule) more than the tapes."""
StopAs = Callable[[], tuple[CompletionStatus, JobState, str]]
"""How a run stopped on request ends: (completion status, the job's next state, reason)."""
DEVICE_FAILURES = (
    DeviceError,
    ScsiError,
    TransportError,
    MountPathError,
    MediaModelError,
    BackupError,
    OSError,
)
"""Job-level failures: the run ends FAILED with the sentence (never item exceptions)."""


def _history(jobs: JobsStore, files: FilesStore, name: str, job_id: int) -> list[Any]:
    """Run summaries of every earlier backup job with this name (the level's history)."""
    rows = jobs.list_jobs(JobQuery(types=frozenset({JOB_TYPE})))
    found = []
    for row in rows:
        if row.job.name == name and row.job.id != job_id:
            found += files.run_summaries(row.job.id)
    return found


@dataclass
class _Call:
    """What every run of one ``run_backup`` call shares."""

    spec: BackupSpec
    site: Site
    catalog: Catalog
    actor: str
    jobs: JobsStore
    files: FilesStore
    store: CatalogMediaStore
    source: str
    progress: Callable[[Progress], None] | None
    on_item_error: ItemErrorHandler | None
    should_stop: Callable[[], bool | str] | None
    stop_state: JobState
    avoid_drives: set[str] = field(default_factory=set)
    """Drives that failed this job (tape targets): its later runs use others."""
    avoid_paths: set[str] = field(default_factory=set)
    """Mount paths that failed this job (disk targets): its later runs use others."""
    stop_as: StopAs | None = None
    prepare_target: Callable[[Target], None] | None = None


def run_backup(
    spec: BackupSpec,
    site: Site,
    *,
    catalog: Catalog | None = None,
    actor: str = "tapir",
    progress: Callable[[Progress], None] | None = None,
    on_item_error: ItemErrorHandler | None = None,
    job_id: int | None = None,
    should_stop: Callable[[], bool | str] | None = None,
    stop_state: JobState = JobState.QUEUED,
    resume: bool = True,
    resume_from: int | None = None,
    stop_as: StopAs | None = None,
    prepare_target: Callable[[Target], None] | None = None,
) -> RunOutcome:
    """Run ``spec`` now, in this thread (module docstring). Returns the outcome; raises only
    for programming errors (and re-raises KeyboardInterrupt after recording CANCELED).

    ``job_id``: run this existing backup job (QUEUED, WAITING or NOT_SUBMITTED) instead of
    creating one; with ``resume`` its new run continues from its previous run's last
    checkpoint if that run did not complete (resume.py). ``should_stop`` is polled after each
    checkpoint (format thread, must not block): when it returns True (or a reason for the
    job's history, e.g. "Preempted by job 9.") the run ends cleanly
    there as RESUMED, the job goes to ``stop_state`` (QUEUED or WAITING) and the outcome has
    ``stopped``; the job's next run resumes from that checkpoint. ``resume_from``: continue
    the last run of that (ended) job instead, e.g. a new job retrying a FAILED one.
    ``stop_as`` (the job manager): called once a stop happened, returns the completion status,
    next state and reason (a cancel ends CANCELED/ENDED, a preemption RESUMED/WAITING).
    ``prepare_target`` (the job manager): called with the resolved target before it is
    checked, to hold it to the reserved drive and away from media other jobs reserved.
    Raises ``JobNotRunnable`` for a ``job_id`` that is not a backup job waiting to run."""
    started = time.monotonic()
    child_process.prestart()  # the helpers' fork server imports while the run is set up
    catalog = catalog if catalog is not None else site.catalog()
    jobs = JobsStore(catalog)
    call = _Call(
        spec,
        site,
        catalog,
        actor,
        jobs,
        FilesStore(catalog),
        CatalogMediaStore(catalog),
        os.path.abspath(os.path.expanduser(spec.source)),
        progress,
        on_item_error,
        should_stop,
        stop_state,
        stop_as=stop_as,
        prepare_target=prepare_target,
    )
    if job_id is None:
        job_id = jobs.create_job(JOB_TYPE, spec.job_name(), spec.to_dict(), actor=actor)
    _claim(jobs, job_id, actor)
    requested = Level(spec.level)
    history: list[tuple[int, CompletionStatus]] = []
    restarts = spec.restarts
    while True:
        point = resume_point(jobs, call.files, resume_from or job_id) if resume else None
        resume_from = None  # a restart continues this job's own run
        outcome = _one_run(
            call, job_id, requested, point, started, restarted=bool(history), restarts=restarts
        )
        started = time.monotonic()  # each run's seconds and rate are its own
        if outcome.run_id is not None:
            history.append((jobs.get_run(outcome.run_id).number, outcome.status))
        outcome.history = history
        if outcome.status is not CompletionStatus.RESUMED or outcome.stopped:
            return outcome
        restarts -= 1
        resume = True


class JobNotRunnable(BackupError):
    """``run_backup(job_id=...)`` of a job that is not a backup waiting to run."""

    code = "backup.job_not_runnable"


RUNNABLE = frozenset({JobState.QUEUED, JobState.WAITING})


def _claim(jobs: JobsStore, job_id: int, actor: str) -> None:
    """Check that the job may start a run now; submit it if it was only defined."""
    job = jobs.get_job(job_id)
    if job.type != JOB_TYPE:
        raise JobNotRunnable(f"Job {job_id} is a {job.type} job, not a backup.")
    if job.state is JobState.NOT_SUBMITTED:
        jobs.transition(job_id, JobState.QUEUED, actor=actor, reason=f"Submitted by {actor}.")
    elif job.state not in RUNNABLE:
        open_run = jobs.open_run(job_id)
        held = f" with run {open_run.number} open" if open_run is not None else ""
        raise JobNotRunnable(
            f"Job {job_id} is {job.state.value}{held}; only a queued or waiting job can run "
            "(a run whose process died is ended by the job manager's sweeper)."
        )


def _one_run(
    call: _Call,
    job_id: int,
    requested: Level,
    point: ResumePoint | None,
    started: float,
    *,
    restarted: bool,
    restarts: int,
) -> RunOutcome:
    """One run of the job (module docstring, steps 1-4). A device failure with restarts left
    ends it RESUMED (the caller starts the next run); a refusal of a restarted run ends the job
    FAILED, since the job did start."""
    spec, jobs, files, actor = call.spec, call.jobs, call.files, call.actor
    outcome = RunOutcome(
        job_id, None, CompletionStatus.FAILED_TO_START, requested, requested, Counters()
    )
    refused = CompletionStatus.FAILED if restarted or point else CompletionStatus.FAILED_TO_START
    try:
        if not os.path.lexists(call.source):
            raise SourceMissing(
                f"Source {call.source} does not exist; check the path (and that its disk is "
                "mounted)."
            )
        target = resolve_target(spec.target, call.site, call.store, pool=spec.pool)
        if isinstance(target, DiskTarget):
            target = after_failure(call.site, call.store, target, call.avoid_paths)
        if spec.volume_size is not None and hasattr(target, "volume_size"):
            target.volume_size = spec.volume_size  # type: ignore[attr-defined]
        if call.prepare_target is not None:
            call.prepare_target(target)
        target.check()
    except DEVICE_FAILURES as exc:
        if refused is CompletionStatus.FAILED:  # the job did run: this run records why
            jobs.transition(job_id, JobState.RUNNING, actor=actor, reason="Restarted.")
            outcome.run_id = jobs.start_run(job_id).id
        return end_run(jobs, outcome, actor, started, exc, status=refused)
    if point is not None:
        choice = resume_choice(point)
        outcome.resumed_from = point.run_number
        why = resume_sentence(point)
    else:
        choice = choose_base(requested, _history(jobs, files, spec.job_name(), job_id))
        why = choice.promoted or "Started."
    outcome.level, outcome.promoted = choice.level, choice.promoted
    base = choice.base
    jobs.transition(job_id, JobState.RUNNING, actor=actor, reason=why)
    run = jobs.start_run(
        job_id,
        level=choice.level.value,
        base_run_id=base.run_id if base else None,
        started_ns=time.time_ns(),
    )
    outcome.run_id = run.id
    session_id = files.open_session(run.id, target.name, call.source, record_size=spec.record_size)
    outcome.session_id = session_id
    parts = Parts(files, session_id)
    view = BaseView(files, base.run_id, call.source) if base is not None else None
    level = LevelFilter(choice, view) if base is not None else None
    kept = Exceptions(call.on_item_error)
    outcome.exceptions = kept.kept
    tuning = spec.tuning or PipelineOptions()
    options = dataclasses.replace(
        tuning,
        record_size=spec.record_size,
        includes=tuple(spec.includes),
        excludes=tuple(spec.excludes),
        one_file_system=spec.one_file_system,
        in_use_policy=spec.in_use_policy,
        checkpoint_bytes=spec.checkpoint_bytes,
        checkpoint_seconds=spec.checkpoint_seconds,
        should_stop=_polled_both(tuning.should_stop, call.should_stop),
    )
    session = {
        "job": job_id,
        "job_name": spec.job_name(),
        "run": run.id,
        "run_number": run.number,
        "base_run": base.run_id if base is not None else None,
        "session": session_id,
        "level": choice.level.value,
        "source": call.source,
        "target": target.name,
        "started": datetime.now(UTC).isoformat(),
        "started_ns": run.started_ns,  # the racy-file threshold (levels.py): kept by a rebuild
        # The same list object the parts recorder fills as the session spans: the trailer,
        # serialized last, names every part's volume in order (catalog rebuild reads it).
        "volumes": parts.volumes,
    }
    label = f"tapir-j{job_id}-r{run.number}-s{session_id}"
    if hasattr(target, "note"):  # tape targets: named in the media history if a write fails
        target.note = f"job {job_id}, run {run.number}"  # type: ignore[attr-defined]
        target.drive_wait_s = spec.drive_wait_s  # type: ignore[attr-defined]
        target.failed_drives = call.avoid_drives  # type: ignore[attr-defined]
    report = progress_reporter(jobs, run.id, call.progress)
    try:
        volumes = target.open(spec.record_size, parts, label)
        staging = FileStaging.deferred(files, session_id)  # rows inserted as they come
        try:
            pipeline = Pipeline(
                call.source,
                volumes,
                options,
                on_item_error=kept,
                commit=lambda rows: files.add_files(session_id, rows),
                commit_tuples=True,  # FilesStore.add_files takes FileRow field tuples
                staging=staging,
                session=session,
                level=level,
                view=view,
                progress=report,
            )
        except BaseException:
            if staging is not None:
                staging.close()
            raise
        result = pipeline.run()
    except KeyboardInterrupt:
        outcome.volumes = parts.volumes
        end_run(jobs, outcome, actor, started, None, status=CompletionStatus.CANCELED)
        raise
    except DEVICE_FAILURES as exc:
        outcome.volumes = parts.volumes
        if isinstance(target, DiskTarget):
            call.avoid_paths.add(target.name)
        if _restartable(exc, restarts):
            return _end_restarting(call, outcome, started, exc)
        # a drive that stopped answering beyond the job's drive wait: TIMED_OUT (tape_loss.py)
        timed_out = isinstance(exc, DriveTimedOut)
        status = CompletionStatus.TIMED_OUT if timed_out else CompletionStatus.FAILED
        return end_run(jobs, outcome, actor, started, exc, status=status)
    except Exception as exc:  # a bug: the run is recorded as failed, then it is raised
        outcome.volumes = parts.volumes
        end_run(jobs, outcome, actor, started, exc, status=CompletionStatus.FAILED)
        raise
    counters = outcome.counters = result.counters
    outcome.volumes = parts.volumes
    outcome.warnings = list(getattr(volumes, "notes", []))
    files.end_session(session_id, files=counters.files, bytes=counters.bytes)
    if result.stopped:
        outcome.stopped = True
        why = (result.stop_reason or "on request").rstrip(".")
        reason = (
            f"Stopped at checkpoint {counters.checkpoints - 1} ({why}); the next run resumes "
            "from it."  # counters.checkpoints counts the session's end too
        )
        status, then = CompletionStatus.RESUMED, call.stop_state
        if call.stop_as is not None:
            status, then, reason = call.stop_as()
        return end_run(jobs, outcome, actor, started, None, status=status, then=then, reason=reason)
    outcome.status = (
        CompletionStatus.COMPLETED_WITH_EXCEPTIONS
        if counters.with_exceptions
        else CompletionStatus.COMPLETED
    )
    changes = counters.added + counters.changed + counters.deleted
    detail = Detail.UP_TO_DATE if base is not None and not changes else Detail.MODIFIED
    outcome.detail = Detail.MODIFIED if point is not None else detail
    return end_run(jobs, outcome, actor, started, None, status=outcome.status)


def _polled_both(
    first: Callable[[], bool | str] | None, second: Callable[[], bool | str] | None
) -> Callable[[], bool | str] | None:
    """The spec's own ``should_stop`` (a test's fault hook at a checkpoint) and the caller's
    (the job manager's stop protocol), both polled at each checkpoint, the first one first."""
    if first is None or second is None:
        return first or second

    def both() -> bool | str:
        return first() or second()

    return both


def _restartable(exc: BaseException, restarts: int) -> bool:
    """Continue as a new run from the checkpoint? A device lost mid-run (power loss, a drive
    or mount path gone) with checkpoint restarts left; a medium write error always (up to
    ``MEDIUM_ERROR_CONTINUATIONS`` in a row): closing a bad tape and going on to the next one
    is what spanning does, so it needs no permission."""
    if isinstance(exc, MediumWriteFailed):
        return restarts > -MEDIUM_ERROR_CONTINUATIONS
    return restarts > 0 and not isinstance(exc, SourceMissing)


def _end_restarting(
    call: _Call, outcome: RunOutcome, started: float, exc: BaseException
) -> RunOutcome:
    """The run ends RESUMED with the failure's sentence; the job goes back to QUEUED and the
    caller starts its next run from the last checkpoint."""
    sentence = describe(exc)
    return end_run(
        call.jobs,
        outcome,
        call.actor,
        started,
        exc,
        status=CompletionStatus.RESUMED,
        then=JobState.QUEUED,
        reason=f"{sentence.rstrip('.')}; resuming from the last checkpoint.",
    )
