"""Running a restore or verify from the command line as a job of the job manager
(engine/manager/foreground.py): its media and a drive are reserved all-or-nothing, the
reason for delay goes to stderr while other jobs hold them, then it runs here.

Called from the command's thread; blocks until the job ended. Ctrl-C records the job
CANCELED and exits 130; a job refused before it ran exits 2 with the job's reason.
"""

from __future__ import annotations

from typing import Any

import typer

from engine.cli.common import ACTOR
from engine.cli.errors import fail

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def run_as_job(site: Any, job_type: str, spec: Any) -> Any:
    """Create a ``job_type`` job for ``spec`` (its ``job_name``/``to_dict``), run it through
    the job manager and return what its executor produced (the run's outcome)."""
    from engine.catalog.jobs_store import JobsStore
    from engine.manager.config import load_manager_config
    from engine.manager.foreground import run_managed

    catalog = site.catalog()
    jobs = JobsStore(catalog)
    job_id = jobs.create_job(job_type, spec.job_name(), spec.to_dict(), actor=ACTOR)
    try:
        out = run_managed(
            site,
            catalog,
            job_id,
            load_manager_config(),
            actor=ACTOR,
            extras={"spec": spec},
            on_wait=lambda job, reason: typer.echo(
                f"job {job.id}: {job.state.value.lower()}: {reason}", err=True
            ),
        )
    except KeyboardInterrupt:
        fail("interrupted: the job is recorded as CANCELED", EXIT_INTERRUPTED)
    if out is None:  # refused before it ran (nothing selected, media missing): the job says why
        job = jobs.get_job(job_id)
        status = job.status.value if job.status else job.state.value
        fail(f"{job.state_reason} (job {job_id}: {status})")
    return out
