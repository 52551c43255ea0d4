"""Checkpoint restart: a new run of a backup job continues where its previous run stopped.

A run that did not complete (stopped at a checkpoint, preempted, failed on a device, killed and
ended by the sweeper) leaves in the catalog exactly the rows of its last checkpoint: files whose
records the drive had flushed (checkpoint.py). The next run of the same job resumes from it:

- its base run is the stopped run, so the catalog's chain resolution (``FilesStore.chain``)
  gives every restore the union of both sessions, newest first, and deletions since then;
- its level filter compares each scanned file with the stopped run's view (``BaseView`` over
  that run's chain): a regular file already committed and unchanged since is not read nor
  written again; a file changed since, or not reached, is stored as by the original level
  (whose base is reached through the chain: the stopped run's own base);
- directories, symlinks and special files are stored again (one header each), so the resumed
  run records the source's root and is the one a "latest" restore finds.

Nothing here writes: ``resume_point`` reads the job's history, ``resume_choice`` builds the
level choice the pipeline is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.backup.levels import BaseChoice, Level, RunSummary
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import SUCCESS_STATUSES, CompletionStatus


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """The run a new run continues from."""

    run_id: int
    run_number: int
    level: Level
    started_ns: int
    rows: int
    """Rows the stopped run committed (its own; earlier stopped runs are in its chain)."""
    status: CompletionStatus


def resume_point(jobs: JobsStore, files: FilesStore, job_id: int) -> ResumePoint | None:
    """The run of the job the next run should continue from (module docstring), else None:
    no run yet, the last one completed, or is still open (the caller's ``start_run`` refuses
    an open run with ``RunConflict``). Runs that wrote nothing (refused before writing, a
    full run failing before its first checkpoint) are passed over: the run before them holds
    the checkpoint."""
    for run in reversed(jobs.runs(job_id)):
        if run.ended_at is None or run.status is None or run.status in SUCCESS_STATUSES:
            return None
        if run.status is CompletionStatus.FAILED_TO_START or run.level is None:
            continue
        if run.started_ns is None:
            continue
        rows = files.count(run.id)
        if rows == 0 and run.base_run_id is None:
            continue  # a full run that committed nothing: a fresh full is the same thing
        return ResumePoint(run.id, run.number, Level(run.level), run.started_ns, rows, run.status)
    return None


def resume_choice(point: ResumePoint) -> BaseChoice:
    """The level choice of the resumed run: the stopped run's level, with that run as base."""
    base = RunSummary(point.run_id, point.level, point.started_ns, usable=True)
    return BaseChoice(point.level, base, None)


def resume_sentence(point: ResumePoint) -> str:
    return (
        f"Resuming from the last checkpoint of run {point.run_number} "
        f"({point.rows} entries already on media)."
    )
