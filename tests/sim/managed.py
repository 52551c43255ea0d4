"""The scenario's jobs run through the job manager, as ``tapir backup`` and ``tapir server``
run them (engine/manager): reserved all-or-nothing, holding a lease renewed by heartbeats,
retried per the backup type's policy; a killed engine's run ended by the sweeper.

- ``run_as_cli``: ``foreground.run_managed`` on a new job (or an existing one), what
  engine/cli/backup.py does; ``resume_as_cli`` is its ``--resume N``;
- ``serve_until_idle``: a restarted ``tapir server`` (``Server``): its first sweep finds the
  dead holder, ends the run, and its dispatcher runs the job again from its checkpoint. The
  server's threads share the harness's ``Site`` (the in-process simulator belongs to one Site;
  a real server would reach a daemon-served one).

Timings are short (heartbeats every 0.1 s, a waiting job retried every 0.05 s, three times)
so a job the manager cannot place ends FAILED quickly instead of waiting past the watchdog.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from engine.manager.config import ManagerConfig
from engine.manager.foreground import run_managed
from engine.manager.server import Server
from engine.manager.sweeper import Sweeper

ACTOR = "sim"
POLL_S = 0.02
"""How often a waiting foreground job or the server's watcher looks again."""


def manager_config(restartable: bool) -> ManagerConfig:
    """The manager of every scenario; ``restartable`` False makes the sweeper end a dead
    holder's backup FAILED instead of queueing it again (a type configured not to restart)."""
    backup: dict[str, Any] = {"retry_interval_s": 0.05, "retry_max_attempts": 3}
    if not restartable:
        backup |= {"preemptable": False, "restartable": False}
    return ManagerConfig(
        lease_s=30.0,
        heartbeat_s=0.1,
        cleanup_interval_min=0.0,
        dispatch_interval_s=0.05,
        job_types={"backup": backup},
    )


@dataclass(frozen=True)
class Ended:
    """How one job ended, read back from the catalog (whoever ran it)."""

    job_id: int
    status: CompletionStatus | None
    error: str

    @classmethod
    def of(cls, jobs: JobsStore, job_id: int) -> Ended:
        job = jobs.get_job(job_id)
        runs = jobs.runs(job_id)
        error = (runs[-1].error if runs else None) or job.state_reason or ""
        return cls(job_id, job.status if job.state is JobState.ENDED else None, error)


def run_as_cli(
    site: Any,
    config: ManagerConfig,
    spec: Any,
    *,
    job_id: int | None = None,
    resume_from: int | None = None,
) -> Ended:
    """``tapir backup`` (``job_id`` None: a new job; ``resume_from``: it continues that
    ended job's last run) through ``run_managed``; blocks until the job ended."""
    catalog = site.catalog()
    jobs = JobsStore(catalog)
    if job_id is None:
        job_id = jobs.create_job("backup", spec.job_name(), spec.to_dict(), actor=ACTOR)
    extras: dict[str, Any] = {"spec": spec}
    if resume_from is not None:
        extras["resume_from"] = resume_from
    run_managed(site, catalog, job_id, config, actor=ACTOR, extras=extras, poll_s=POLL_S)
    return Ended.of(jobs, job_id)


def resume_as_cli(site: Any, config: ManagerConfig, spec: Any, job_id: int) -> Ended:
    """``tapir backup --resume N`` (engine/cli/backup.py ``_resume_args``): the sweeper ends a
    dead holder's run first; a job queued again runs here, an ended one is continued by a new
    job from its last run."""
    Sweeper(site.catalog(), config).sweep()
    if JobsStore(site.catalog()).get_job(job_id).state is JobState.ENDED:
        return run_as_cli(site, config, spec, resume_from=job_id)
    return run_as_cli(site, config, spec, job_id=job_id)


class _Borrowed:
    """The harness's Site lent to the server's threads: everything but ``close``."""

    def __init__(self, site: Any) -> None:
        self._site = site

    def __getattr__(self, name: str) -> Any:
        return getattr(self._site, name)

    def close(self) -> None:
        pass


def serve_until_idle(site: Any, config: ManagerConfig, job_id: int) -> Ended:
    """A restarted ``tapir server`` until ``job_id`` ended (the caller's watchdog bounds it)."""
    catalog = site.catalog()
    server = Server(lambda: _Borrowed(site), catalog, config, log=lambda _line: None)
    thread = threading.Thread(target=server.run, name="sim-server", daemon=True)
    thread.start()
    jobs = JobsStore(catalog)
    try:
        while jobs.get_job(job_id).state is not JobState.ENDED:
            time.sleep(POLL_S)
    finally:
        server.stop()
        thread.join()
    return Ended.of(jobs, job_id)
