"""What a job submitted for a definition carries in ``jobs.spec``, so the scheduler's state is
derivable from the catalog (no table of its own).

``spec`` is the backup's own spec (engine/backup/job.py ``BackupSpec.to_dict``: what the
dispatcher runs) plus ``spec["schedule"]``::

    {"definition": "nightly", "trigger": "schedule" | "manual" | "retry",
     "occurrence": "2026-11-22T22:00:00+00:00",   # the due time (None for manual)
     "window_end": "2026-11-23T02:00:00+00:00",   # may not start later: MISSED (None: no window)
     "max_run_time_s": 28800.0,                   # a run going longer: CANCELED_TIMED_OUT
     "attempt": 1, "retry_of": null}

The latest ``occurrence`` of a definition's scheduled jobs is where its next due times are
counted from; ``window_end`` and ``max_run_time_s`` are copied at submission, so editing a
definition never changes the rules of a job already submitted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.backup.job_spec import BackupSpec
from engine.schedule.definitions import JobDefinition

SCHEDULE_KEY = "schedule"


class Trigger(enum.StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    definition: str
    trigger: Trigger
    occurrence: datetime | None = None
    window_end: datetime | None = None
    max_run_time: timedelta | None = None
    attempt: int = 1
    retry_of: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "definition": self.definition,
            "trigger": self.trigger.value,
            "occurrence": _iso(self.occurrence),
            "window_end": _iso(self.window_end),
            "max_run_time_s": (
                self.max_run_time.total_seconds() if self.max_run_time is not None else None
            ),
            "attempt": self.attempt,
            "retry_of": self.retry_of,
        }


def schedule_info(spec: dict[str, Any]) -> ScheduleInfo | None:
    """The ``schedule`` part of a job's spec, or None for jobs no definition submitted."""
    raw = spec.get(SCHEDULE_KEY)
    if not isinstance(raw, dict) or "definition" not in raw:
        return None
    seconds = raw.get("max_run_time_s")
    return ScheduleInfo(
        definition=str(raw["definition"]),
        trigger=Trigger(raw.get("trigger", Trigger.SCHEDULE.value)),
        occurrence=_parse(raw.get("occurrence")),
        window_end=_parse(raw.get("window_end")),
        max_run_time=timedelta(seconds=seconds) if seconds is not None else None,
        attempt=int(raw.get("attempt", 1)),
        retry_of=raw.get("retry_of"),
    )


def backup_spec(definition: JobDefinition) -> BackupSpec:
    """The backup the definition describes (its runs form one level history: the name)."""
    return BackupSpec(
        source=definition.source,
        target=definition.target,
        level=definition.level,
        pool=definition.pool,
        includes=definition.includes,
        excludes=definition.excludes,
        one_file_system=definition.one_file_system,
        name=definition.name,
    )


def job_spec(definition: JobDefinition, info: ScheduleInfo) -> dict[str, Any]:
    """The job's whole spec: the backup's, its name, and ``schedule``."""
    spec = backup_spec(definition).to_dict()
    spec["name"] = definition.name
    spec[SCHEDULE_KEY] = info.to_dict()
    return spec


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _parse(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None
