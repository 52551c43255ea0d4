"""``tapir jobs cancel|suspend|resume|priority N``: administrators' control of jobs
(engine/manager/control.py); ``tapir jobs reservations``: what each running job holds.

A job that holds nothing moves at once; a running one is asked to stop at its next checkpoint
(CANCEL_PENDING / SUSPEND_PENDING) and its holder does the rest. A suspended job holds no
drive. Non-preemptable jobs cannot be suspended while they run (cancel them instead).

Exit codes: 0 done or requested; 2 unknown job, or a request its state or type refuses.
"""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.common import ACTOR, CatalogOpt, JsonOpt, print_json
from engine.cli.jobs import stores

JobArg = Annotated[int, typer.Argument(help="Job number (tapir jobs list).")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Recorded with the change.")]


def _said(job_id: int, state: str, pending: str) -> str:
    if state.endswith("_PENDING"):
        return f"job {job_id}: {state}: {pending}"
    return f"job {job_id}: {state}"


def cancel(job: JobArg, reason: ReasonOpt = None, catalog: CatalogOpt = None) -> None:
    """Cancel a job: at once if it has not started, else at its next checkpoint."""
    from engine.manager.control import request_cancel

    with stores(catalog) as (jobs, _):
        state = request_cancel(jobs.catalog, job, reason=reason, actor=ACTOR)
        ended = jobs.get_job(job)
    shown = state.value
    if ended.status is not None and state.value == "ENDED":
        detail = f", {ended.detail.value}" if ended.detail else ""
        shown = f"ENDED ({ended.status.value}{detail})"
    typer.echo(_said(job, shown, "it stops at its next checkpoint"))


def suspend(job: JobArg, reason: ReasonOpt = None, catalog: CatalogOpt = None) -> None:
    """Suspend a job; it releases its drives (a running one at its next checkpoint)."""
    from engine.manager.control import request_suspend

    with stores(catalog) as (jobs, _):
        state = request_suspend(jobs.catalog, job, reason=reason, actor=ACTOR)
    typer.echo(_said(job, state.value, "it stops at its next checkpoint"))


def resume(job: JobArg, catalog: CatalogOpt = None) -> None:
    """Queue a suspended job again; it resumes from its last checkpoint."""
    from engine.manager.control import resume as resume_job

    with stores(catalog) as (jobs, _):
        state = resume_job(jobs.catalog, job, actor=ACTOR)
    typer.echo(_said(job, state.value, ""))


def priority(
    job: JobArg,
    value: Annotated[int, typer.Argument(help="New priority; lower numbers go first.")],
    catalog: CatalogOpt = None,
) -> None:
    """Change a job's priority (waiting jobs are looked at again at once)."""
    from engine.manager.control import set_priority

    with stores(catalog) as (jobs, _):
        set_priority(jobs.catalog, job, value)
    typer.echo(f"job {job}: priority {value}")


def reservations(as_json: JsonOpt = False, catalog: CatalogOpt = None) -> None:
    """What each running job holds (drives, media, mount paths, streams) and its lease."""
    from engine.manager.reservations import Reservations

    with stores(catalog) as (jobs, _):
        store = Reservations(jobs.catalog, lease_s=0)
        leases = {lease.holder: lease for lease in store.leases()}
        held = store.held()
    rows = [
        {
            "job": h.job_id,
            "kind": h.kind,
            "key": h.key,
            "group": h.grp,
            "holder": h.holder,
            "lease_expires": leases[h.holder].expires_at.isoformat()
            if h.holder in leases
            else None,
        }
        for h in held
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("nothing is reserved")
        return
    for r in rows:
        typer.echo(
            f"job {r['job']}: {r['kind']} {r['key']} ({r['group']}) until {r['lease_expires']}"
        )


def register(app: typer.Typer) -> None:
    for name, command in (
        ("reservations", reservations),
        ("cancel", cancel),
        ("suspend", suspend),
        ("resume", resume),
        ("priority", priority),
    ):
        app.command(name)(command)
