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

Threads: call from one thread; ``progress`` and ``on_item_error`` are called from the
pipeline's threads (progress from the format thread, item errors from scan/reader threads).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devices.disk import MountPathError
from devices.errors import DeviceError, describe
from devices.media import MediaModelError
from drivers.errors import ScsiError
from drivers.transport.contract import TransportError
from engine.backup.exceptions import InUsePolicy, ItemErrorHandler, ItemException
from engine.backup.levels import Level, LevelFilter, choose_base
from engine.backup.pipeline import (
    DEFAULT_CHECKPOINT_BYTES,
    DEFAULT_CHECKPOINT_SECONDS,
    Counters,
    Pipeline,
    PipelineOptions,
    Progress,
)
from engine.backup.targets import BackupError, SourceMissing, resolve_target
from engine.catalog.base_view import BaseView
from engine.catalog.files_model import SessionPart
from engine.catalog.files_staging import FileStaging
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_query import JobQuery
from engine.catalog.jobs_store import JobsStore
from engine.catalog.media_store import CatalogMediaStore
from engine.format.records import DEFAULT_RECORD_SIZE
from engine.jobs.states import CompletionStatus, JobState
from engine.jobs.vocabulary import Detail

if TYPE_CHECKING:
    from engine.catalog.db import Catalog
    from engine.site import Site

JOB_TYPE = "backup"
PROGRESS_DB_S = 5.0
"""How often the run's progress (and heartbeat) is written to the catalog."""
KEPT_EXCEPTIONS = 1000
"""Item exceptions kept in the outcome (all of them are in the catalog)."""
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
EXIT_CODES = {
    CompletionStatus.COMPLETED: 0,
    CompletionStatus.COMPLETED_WITH_EXCEPTIONS: 1,
}
FAILURE_EXIT = 2


@dataclass(frozen=True)
class BackupSpec:
    source: str
    target: str
    level: Level = Level.FULL
    pool: str | None = None
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    one_file_system: bool = False
    in_use_policy: InUsePolicy = field(default_factory=InUsePolicy)
    record_size: int = DEFAULT_RECORD_SIZE
    checkpoint_bytes: int = DEFAULT_CHECKPOINT_BYTES
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    name: str | None = None
    """Job name; runs of jobs with the same name form the incremental history."""
    volume_size: int | None = None
    """Disk targets: start a new volume file once a file passes this size, at the next split
    point (None: one file per session)."""
    tuning: PipelineOptions | None = None
    """Pipeline tuning and test seams; the fields above override its own."""

    def job_name(self) -> str:
        return self.name or f"{os.path.abspath(os.path.expanduser(self.source))} -> {self.target}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": os.path.abspath(os.path.expanduser(self.source)),
            "target": self.target,
            "level": Level(self.level).value,
            "pool": self.pool,
            "includes": list(self.includes),
            "excludes": list(self.excludes),
            "one_file_system": self.one_file_system,
            "in_use_policy": {
                "action": self.in_use_policy.action.value,
                "retries": self.in_use_policy.retries,
                "retry_delay_s": self.in_use_policy.retry_delay_s,
            },
            "record_size": self.record_size,
        }


@dataclass
class RunOutcome:
    job_id: int
    run_id: int | None
    status: CompletionStatus
    level: Level
    requested_level: Level
    counters: Counters
    promoted: str | None = None
    detail: Detail | None = None
    error: str | None = None
    error_code: str | None = None
    volumes: list[str] = field(default_factory=list)
    session_id: int | None = None
    exceptions: list[ItemException] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.status, FAILURE_EXIT)

    @property
    def up_to_date(self) -> bool:
        return self.detail is Detail.UP_TO_DATE

    @property
    def modified(self) -> bool:
        return self.detail is Detail.MODIFIED

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "run": self.run_id,
            "status": self.status.value,
            "detail": self.detail.value if self.detail else None,
            "level": self.level.value,
            "requested_level": self.requested_level.value,
            "promoted": self.promoted,
            "error": self.error,
            "error_code": self.error_code,
            "volumes": self.volumes,
            "session": self.session_id,
            "seconds": round(self.seconds, 3),
            "counters": self.counters.to_dict(),
            "exceptions": [e.to_dict() for e in self.exceptions],
        }


class _Parts:
    """The catalog's ``session_parts`` as the target reports them (targets.PartRecorder)."""

    def __init__(self, files: FilesStore, session_id: int) -> None:
        self.files, self.session_id = files, session_id
        self.volumes: list[str] = []

    def part_started(self, part: SessionPart) -> None:
        self.volumes.append(part.volume)
        self.files.add_part(self.session_id, part)

    def part_ended(self, seq: int, record_count: int) -> None:
        self.files.close_part(self.session_id, seq, record_count)


class _Exceptions:
    def __init__(self, forward: ItemErrorHandler | None) -> None:
        self.kept: list[ItemException] = []
        self.forward = forward
        self._lock = threading.Lock()

    def __call__(self, path: str, exc: ItemException) -> None:
        with self._lock:
            if len(self.kept) < KEPT_EXCEPTIONS:
                self.kept.append(exc)
        if self.forward is not None:
            self.forward(path, exc)


def _history(jobs: JobsStore, files: FilesStore, name: str, job_id: int) -> list[Any]:
    """Run summaries of every earlier backup job with this name (the level's history)."""
    rows = jobs.list_jobs(JobQuery(types=frozenset({JOB_TYPE})))
    found = []
    for row in rows:
        if row.job.name == name and row.job.id != job_id:
            found += files.run_summaries(row.job.id)
    return found


def run_backup(
    spec: BackupSpec,
    site: Site,
    *,
    catalog: Catalog | None = None,
    actor: str = "tapir",
    progress: Callable[[Progress], None] | None = None,
    on_item_error: ItemErrorHandler | None = None,
) -> RunOutcome:
    """Run ``spec`` now, in this thread (module docstring). Returns the outcome; raises only
    for programming errors (and re-raises KeyboardInterrupt after recording CANCELED)."""
    started = time.monotonic()
    catalog = catalog if catalog is not None else site.catalog()
    jobs, files, store = JobsStore(catalog), FilesStore(catalog), CatalogMediaStore(catalog)
    requested = Level(spec.level)
    name = spec.job_name()
    source = os.path.abspath(os.path.expanduser(spec.source))
    job_id = jobs.create_job(JOB_TYPE, name, spec.to_dict(), actor=actor)
    jobs.transition(job_id, JobState.QUEUED, actor=actor, reason=f"Submitted by {actor}.")
    outcome = RunOutcome(
        job_id, None, CompletionStatus.FAILED_TO_START, requested, requested, Counters()
    )
    try:
        if not os.path.lexists(source):
            raise SourceMissing(
                f"Source {source} does not exist; check the path (and that its disk is mounted)."
            )
        target = resolve_target(spec.target, site, store, pool=spec.pool)
        if spec.volume_size is not None and hasattr(target, "volume_size"):
            target.volume_size = spec.volume_size  # type: ignore[attr-defined]
        target.check()
    except DEVICE_FAILURES as exc:
        return _end(jobs, outcome, actor, started, exc)
    choice = choose_base(requested, _history(jobs, files, name, job_id))
    outcome.level, outcome.promoted = choice.level, choice.promoted
    base = choice.base
    jobs.transition(job_id, JobState.RUNNING, actor=actor, reason=choice.promoted or "Started.")
    run = jobs.start_run(
        job_id,
        level=choice.level.value,
        base_run_id=base.run_id if base else None,
        started_ns=time.time_ns(),
    )
    outcome.run_id = run.id
    session_id = files.open_session(run.id, target.name, source, record_size=spec.record_size)
    outcome.session_id = session_id
    parts = _Parts(files, session_id)
    view = BaseView(files, base.run_id, source) if base is not None else None
    level = LevelFilter(choice, view) if base is not None else None
    kept = _Exceptions(on_item_error)
    outcome.exceptions = kept.kept
    options = dataclasses.replace(
        spec.tuning or PipelineOptions(),
        record_size=spec.record_size,
        includes=tuple(spec.includes),
        excludes=tuple(spec.excludes),
        one_file_system=spec.one_file_system,
        in_use_policy=spec.in_use_policy,
        checkpoint_bytes=spec.checkpoint_bytes,
        checkpoint_seconds=spec.checkpoint_seconds,
    )
    session = {
        "job": job_id,
        "run": run.id,
        "session": session_id,
        "level": choice.level.value,
        "source": source,
    }
    label = f"tapir-j{job_id}-r{run.number}-s{session_id}"
    report = _progress_reporter(jobs, run.id, progress)
    try:
        volumes = target.open(spec.record_size, parts, label)
        staging = FileStaging.deferred(files, session_id)  # rows inserted as they come
        try:
            pipeline = Pipeline(
                source,
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
        _end(jobs, outcome, actor, started, None, status=CompletionStatus.CANCELED)
        raise
    except DEVICE_FAILURES as exc:
        outcome.volumes = parts.volumes
        return _end(jobs, outcome, actor, started, exc, status=CompletionStatus.FAILED)
    except Exception as exc:  # a bug: the run is recorded as failed, then it is raised
        outcome.volumes = parts.volumes
        _end(jobs, outcome, actor, started, exc, status=CompletionStatus.FAILED)
        raise
    counters = outcome.counters = result.counters
    outcome.volumes = parts.volumes
    files.end_session(session_id, files=counters.files, bytes=counters.bytes)
    outcome.status = (
        CompletionStatus.COMPLETED_WITH_EXCEPTIONS
        if counters.with_exceptions
        else CompletionStatus.COMPLETED
    )
    changes = counters.added + counters.changed + counters.deleted
    outcome.detail = Detail.UP_TO_DATE if base is not None and not changes else Detail.MODIFIED
    return _end(jobs, outcome, actor, started, None, status=outcome.status)


def _progress_reporter(
    jobs: JobsStore, run_id: int, progress: Callable[[Progress], None] | None
) -> Callable[[Progress], None]:
    next_db = [0.0]

    def report(p: Progress) -> None:
        if progress is not None:
            progress(p)
        now = time.monotonic()
        if now >= next_db[0]:
            next_db[0] = now + PROGRESS_DB_S
            jobs.update_progress(
                run_id,
                phase="writing",
                files=p.files,
                bytes=p.bytes,
                rate=p.rate,
                volume=p.volume or None,
                drive=p.device or None,
                exceptions=p.exceptions,
            )

    return report


def _end(
    jobs: JobsStore,
    outcome: RunOutcome,
    actor: str,
    started: float,
    exc: BaseException | None,
    *,
    status: CompletionStatus = CompletionStatus.FAILED_TO_START,
) -> RunOutcome:
    outcome.status = status
    outcome.seconds = time.monotonic() - started
    if exc is not None:
        outcome.error = describe(exc)
        outcome.error_code = getattr(exc, "code", type(exc).__name__)
    counters = {
        **outcome.counters.to_dict(),
        "rate": outcome.counters.bytes / max(outcome.seconds, 1e-9),
    }
    if outcome.run_id is not None:
        jobs.end_run(
            outcome.run_id,
            status,
            detail=outcome.detail,
            error=outcome.error,
            counters={**counters, "exceptions": outcome.counters.with_exceptions},
        )
    reason = outcome.error or {
        CompletionStatus.COMPLETED: "Completed.",
        CompletionStatus.COMPLETED_WITH_EXCEPTIONS: (
            f"Completed; {outcome.counters.with_exceptions} files with exceptions."
        ),
        CompletionStatus.CANCELED: "Canceled by the user.",
    }.get(status, status.value)
    jobs.transition(
        outcome.job_id,
        JobState.ENDED,
        actor=actor,
        reason=reason,
        status=status,
        detail=outcome.detail,
    )
    return outcome
