"""``tapir verify JOB [--run N] [--json]``: read a backup job's sessions back and compare every
file with the checksum recorded at backup (engine/verify/job.py ``run_verify``).

Exit codes: 0 every file matches; 1 some files differ (listed; the rest was read); 2 nothing to
verify, a bad option, or the run failed (one line on stderr; the verify job records it).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from devices.disk import format_bytes
from engine.cli.common import ACTOR, CatalogOpt, JsonOpt, open_site, print_json
from engine.cli.errors import fail

EXIT_INTERRUPTED = 130
SHOWN_FILES = 20


def verify(
    job: Annotated[int, typer.Argument(help="The backup job to verify.")],
    run: Annotated[
        int | None, typer.Option("--run", help="Its run number (default: the newest good one).")
    ] = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """Read JOB's sessions back and compare checksums; exit 0 all match, 1 some differ."""
    from engine.verify.job import VerifySpec

    with open_site(catalog) as site:
        try:
            out = _managed(VerifySpec(job, run), site)
        except KeyboardInterrupt:
            fail("interrupted: the verify run is recorded as CANCELED", EXIT_INTERRUPTED)
    if as_json:
        print_json({**out.to_dict(), "exit_code": out.exit_code})
    elif out.run_id is not None:
        differ = out.differ
        typer.echo(f"job {out.job_id}: {out.status.value}")
        typer.echo(
            f"  verified: {out.files} files, {format_bytes(out.bytes)} in {out.seconds:.1f} s; "
            f"{len(differ)} differ"
        )
        for r in differ[:SHOWN_FILES]:
            typer.echo(f"    differs: {r.path}: {r.message}")
        if len(differ) > SHOWN_FILES:
            typer.echo(f"    ... {len(differ) - SHOWN_FILES} more (--json lists all)")
    if out.error:
        typer.echo(f"tapir: {out.error.rstrip()} (job {out.job_id}: {out.status.value})", err=True)
    raise typer.Exit(out.exit_code)


def _managed(spec: Any, site: Any) -> Any:
    """The verify as a job of the job manager (engine/manager/foreground.py): its tapes and a
    drive reserved all-or-nothing, waiting (the reason on stderr) while other jobs hold them."""
    from engine.catalog.jobs_store import JobsStore
    from engine.manager.config import load_manager_config
    from engine.manager.foreground import run_managed
    from engine.verify.job import JOB_TYPE

    catalog = site.catalog()
    jobs = JobsStore(catalog)
    job_id = jobs.create_job(JOB_TYPE, spec.job_name(), spec.to_dict(), actor=ACTOR)
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
    if out is None:  # refused before it ran (nothing to verify, media missing): the job says
        job = jobs.get_job(job_id)
        status = job.status.value if job.status else job.state.value
        fail(f"{job.state_reason} (job {job_id}: {status})")
    return out
