"""``tapir restore PATH... [--as-of JOB] [--to ROOT] [--overwrite POLICY] [--plan] [--json]``.

The job is engine/restore/job.py ``run_restore``; ``--plan`` prints the media plan (which
volumes, where they are now, how many members each) and moves nothing. Files are written at
ROOT + their absolute path as backed up (ROOT ``/``: the original location).

Exit codes: 0 every file restored; 1 some files failed, came with a warning (in use or
corrupted at backup) or were kept by the overwrite policy, the rest restored; 2 nothing
selected, a bad option, or the run failed (one line on stderr; the job records it).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from devices.disk import format_bytes
from engine.cli.common import ACTOR, CatalogOpt, JsonOpt, open_site, print_json
from engine.cli.errors import fail
from engine.restore.extract import Outcome, Overwrite

EXIT_INTERRUPTED = 130
SHOWN_FILES = 20


def restore(
    paths: Annotated[list[str], typer.Argument(help="Absolute paths as backed up; globs allowed.")],
    as_of: Annotated[
        int | None, typer.Option("--as-of", help="Restore as of this backup job's last run.")
    ] = None,
    to: Annotated[
        str, typer.Option("--to", help="Restore root (default: the original location).")
    ] = "/",
    overwrite: Annotated[
        Overwrite, typer.Option("--overwrite", help="Existing files: never, if-newer, always.")
    ] = Overwrite.NEVER,
    plan: Annotated[
        bool, typer.Option("--plan", help="Show the media plan; move nothing.")
    ] = False,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """Restore PATHs from the catalog's backups; exit 0 all restored, 1 partly, 2 failed."""
    from engine.restore.job import RestoreSpec, plan_restore
    from engine.restore.select import SelectionError

    spec = RestoreSpec(tuple(paths), root=to, as_of_job=as_of, overwrite=overwrite)
    with open_site(catalog) as site:
        if plan:
            try:
                media = plan_restore(spec, site)
            except SelectionError as exc:
                fail(str(exc))
            if as_json:
                print_json(media.to_dict())
            else:
                for line in media.lines():
                    typer.echo(line)
            return
        out = _managed(spec, site)
    if as_json:
        print_json({**out.to_dict(), "exit_code": out.exit_code})
    elif out.run_id is not None:
        restored = out.count(Outcome.RESTORED) + out.count(Outcome.WARNING)
        typer.echo(f"job {out.job_id}: {out.status.value}")
        typer.echo(
            f"  restored: {restored} files, {format_bytes(out.bytes)} in {out.seconds:.1f} s; "
            f"kept {out.count(Outcome.KEPT)}, failed {out.count(Outcome.FAILED)}"
        )
        shown = [r for r in out.results if r.outcome is not Outcome.RESTORED]
        for r in shown[:SHOWN_FILES]:
            typer.echo(f"    {r.outcome.value}: {r.path}{': ' + r.message if r.message else ''}")
    if out.error:
        typer.echo(f"tapir: {out.error.rstrip()} (job {out.job_id}: {out.status.value})", err=True)
    raise typer.Exit(out.exit_code)


def _managed(spec: Any, site: Any) -> Any:
    """The restore as a job of the job manager (engine/manager/foreground.py): its source
    media and a drive reserved all-or-nothing, waiting (the reason on stderr) while other jobs
    hold them; the outcome."""
    from engine.catalog.jobs_store import JobsStore
    from engine.manager.config import load_manager_config
    from engine.manager.foreground import run_managed
    from engine.restore.job import JOB_TYPE

    catalog = site.catalog()
    jobs = JobsStore(catalog)
    name = f"{', '.join(spec.paths)} -> {os.path.abspath(os.path.expanduser(spec.root))}"
    job_id = jobs.create_job(JOB_TYPE, name, spec.to_dict(), actor=ACTOR)
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
    if out is None:
        job = jobs.get_job(job_id)
        status = job.status.value if job.status else job.state.value
        fail(f"{job.state_reason} (job {job_id}: {status})")
    return out
