"""What a backup run records in the catalog besides its files: the session's volume parts, the
item exceptions it keeps for the outcome, its progress and heartbeat, and how it ends.

``end_run`` is the one place a backup run is closed: the run's completion status, counters and
error sentence, then the job's next state — ENDED with that status, or (a run stopped at a
checkpoint, or failed with checkpoint restart) back to QUEUED/WAITING with the reason, so the
job's next run continues from the checkpoint (resume.py).

Threads: ``Parts`` is called by the format stage's thread (through the target), ``Exceptions``
from the scan and reader threads, the progress reporter from the format thread; ``end_run``
from the caller's thread after the pipeline ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from devices.errors import describe
from engine.backup.exceptions import ItemErrorHandler, ItemException
from engine.backup.pipeline import Progress
from engine.catalog.files_model import SessionPart
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState

if TYPE_CHECKING:
    from engine.backup.job_spec import RunOutcome

PROGRESS_DB_S = 5.0
"""How often the run's progress (and heartbeat) is written to the catalog."""
KEPT_EXCEPTIONS = 1000
"""Item exceptions kept in the outcome (all of them are in the catalog)."""


class Parts:
    """The catalog's ``session_parts`` as the target reports them (targets.PartRecorder)."""

    def __init__(self, files: FilesStore, session_id: int) -> None:
        self.files, self.session_id = files, session_id
        self.volumes: list[str] = []

    def part_started(self, part: SessionPart) -> None:
        self.volumes.append(part.volume)
        self.files.add_part(self.session_id, part)

    def part_ended(self, seq: int, record_count: int) -> None:
        self.files.close_part(self.session_id, seq, record_count)


class Exceptions:
    """The ``on_item_error`` of a run: keeps the first ``KEPT_EXCEPTIONS``, forwards all."""

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


def progress_reporter(
    jobs: JobsStore, run_id: int, progress: Callable[[Progress], None] | None
) -> Callable[[Progress], None]:
    """The pipeline's progress callback: forwards to ``progress`` and, every
    ``PROGRESS_DB_S``, writes the run's progress and heartbeat."""
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


def end_run(
    jobs: JobsStore,
    outcome: RunOutcome,
    actor: str,
    started: float,
    exc: BaseException | None,
    *,
    status: CompletionStatus = CompletionStatus.FAILED_TO_START,
    then: JobState = JobState.ENDED,
    reason: str | None = None,
) -> RunOutcome:
    """Close ``outcome``'s run with ``status`` (and ``exc``'s sentence), then move the job to
    ``then``: ENDED, or QUEUED/WAITING when it continues as a new run (``reason`` says why)."""
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
    reason = reason or outcome.error or _REASONS.get(status, status.value)
    if status is CompletionStatus.COMPLETED_WITH_EXCEPTIONS and not outcome.error:
        reason = f"Completed; {outcome.counters.with_exceptions} files with exceptions."
    if then is JobState.ENDED:
        jobs.transition(
            outcome.job_id,
            JobState.ENDED,
            actor=actor,
            reason=reason,
            status=status,
            detail=outcome.detail,
        )
    else:
        jobs.transition(outcome.job_id, then, actor=actor, reason=reason)
    return outcome


_REASONS = {
    CompletionStatus.COMPLETED: "Completed.",
    CompletionStatus.CANCELED: "Canceled by the user.",
}
