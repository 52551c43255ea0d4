"""Job types: whether the manager may interrupt them, whether they restart, whom they preempt,
their phases and their retry policy (shared/JOB-STATUS.md "Preemption and restartability",
seed 004).

A preemptable job can be interrupted by the manager (for a higher-priority job) or suspended
by an administrator, and resumes from its last checkpoint; preemptable jobs are always
restartable. A non-preemptable job can only run to its end, be canceled or fail. Seed 004:
backup and restore operations preempt auxiliary copies and the other preemptable jobs, but a
backup never preempts a backup; here a restore, which someone waits for, preempts backups too.

The retry policy says how often a job that could not get its resources tries again, and how
many times, besides trying at once whenever a resource is released (seed 004: a restore waiting
for source media every 20 minutes, up to 144 times; an index restore every 2 minutes).
Every field can be changed per type in the manager configuration (config.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    interval_s: float
    """Time between timed attempts of a waiting job."""
    max_attempts: int | None
    """Failed attempts after which the job ends FAILED; None: it waits as long as it takes."""


@dataclass(frozen=True, slots=True)
class JobType:
    name: str
    preemptable: bool
    restartable: bool
    preempts: frozenset[str]
    """Types this one may interrupt when it needs what they hold (they must be preemptable)."""
    phases: tuple[str, ...]
    retry: RetryPolicy

    def may_preempt(self, other: JobType) -> bool:
        return other.preemptable and other.name in self.preempts


TWO_MIN = RetryPolicy(interval_s=120.0, max_attempts=None)
SOURCE_MEDIA = RetryPolicy(interval_s=20 * 60.0, max_attempts=144)
BACKGROUND = frozenset({"verify", "aux_copy", "media_refresh"})


def _t(
    name: str,
    preemptable: bool,
    restartable: bool,
    phases: tuple[str, ...],
    retry: RetryPolicy = TWO_MIN,
    preempts: frozenset[str] = frozenset(),
) -> JobType:
    return JobType(name, preemptable, restartable, preempts, phases, retry)


BUILTIN_TYPES: Mapping[str, JobType] = {
    t.name: t
    for t in (
        _t("backup", True, True, ("scan", "writing"), preempts=BACKGROUND),
        _t(
            "restore",
            False,
            True,
            ("reading", "extracting"),
            SOURCE_MEDIA,
            preempts=BACKGROUND | {"backup"},
        ),
        _t("verify", True, True, ("reading",)),
        _t("aux_copy", True, True, ("reading", "writing")),
        _t("media_refresh", True, True, ("reading", "writing")),
        _t("label", False, False, ("labeling",)),
        _t("erase", False, False, ("erasing",)),
        _t("inventory", False, False, ("inventory",)),
        _t("export", False, False, ("moving",)),
        _t("catalog_restore", False, False, ("reading", "cataloging")),
    )
}
"""The defaults of shared/JOB-STATUS.md; ``catalog_restore`` is the index restore."""

DEFAULT_TYPE = _t("other", False, False, ("running",))
"""A type the table does not know (a later helper's): never interrupted, never restarted."""


def job_type(name: str, overrides: Mapping[str, Mapping[str, object]] | None = None) -> JobType:
    """The type ``name`` with the configuration's overrides (config.py ``job_types``)."""
    base = BUILTIN_TYPES.get(name, dataclasses.replace(DEFAULT_TYPE, name=name))
    changes = dict((overrides or {}).get(name, {}))
    if not changes:
        return base
    retry = base.retry
    if "retry_interval_s" in changes:
        retry = dataclasses.replace(retry, interval_s=float(changes.pop("retry_interval_s")))  # type: ignore[arg-type]
    if "retry_max_attempts" in changes:
        value = changes.pop("retry_max_attempts")
        retry = dataclasses.replace(retry, max_attempts=int(value) if value else None)  # type: ignore[call-overload]
    if "preempts" in changes:
        changes["preempts"] = frozenset(changes["preempts"])  # type: ignore[arg-type]
    result = dataclasses.replace(base, retry=retry, **changes)  # type: ignore[arg-type]
    if result.preemptable and not result.restartable:
        result = dataclasses.replace(result, restartable=True)  # preemptable implies restartable
    return result
