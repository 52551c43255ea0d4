"""What a backup job is asked to do (``BackupSpec``, kept in the catalog's ``jobs.spec``) and
what one call of ``run_backup`` reports (``RunOutcome``); engine/backup/job.py runs it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from engine.backup.exceptions import InUsePolicy, ItemException
from engine.backup.format_stage import Counters
from engine.backup.levels import Level
from engine.backup.pipeline import (
    DEFAULT_CHECKPOINT_BYTES,
    DEFAULT_CHECKPOINT_SECONDS,
    PipelineOptions,
)
from engine.backup.tape_loss import DRIVE_WAIT_S
from engine.format.records import DEFAULT_RECORD_SIZE
from engine.jobs.states import CompletionStatus
from engine.jobs.vocabulary import Detail

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
    drive_wait_s: float = DRIVE_WAIT_S
    """How long a run waits for a drive that stopped answering mid-write (tape_loss.py)."""
    restarts: int = 0
    """Checkpoint restart: how many times a run that fails on a device (power loss, a drive
    or mount path lost) ends RESUMED and the job continues at once as a new run from its last
    checkpoint, on other media (0: the run ends FAILED)."""

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
            "checkpoint_bytes": self.checkpoint_bytes,
            "checkpoint_seconds": self.checkpoint_seconds,
            "restarts": self.restarts,
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
    stopped: bool = False
    """The run ended at a checkpoint on a stop request (``should_stop``); the job is not
    ENDED and its next run resumes from there."""
    resumed_from: int | None = None
    """Number of the earlier run this run continued from (checkpoint restart), if any."""
    warnings: list[str] = field(default_factory=list)
    """Problems that did not stop the run (a cartridge that could not be returned)."""
    history: list[tuple[int, CompletionStatus]] = field(default_factory=list)
    """(run number, status) of every run this call made, oldest first (restarts included)."""

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
            "stopped": self.stopped,
            "resumed_from": self.resumed_from,
            "history": [{"run": n, "status": st.value} for n, st in self.history],
            "warnings": self.warnings,
        }
