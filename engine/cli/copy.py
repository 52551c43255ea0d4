"""``tapir copy JOB [--run N] --to TARGET [--json]``: a second copy of a backup run on other
media (engine/copy/job.py ``run_copy``), run as a job of the job manager.

Exit codes: 0 the copy completed and is usable; 2 nothing to copy, a bad target, or the copy
failed (one line on stderr; the copy job records it, and a failed copy is never read).
"""

from __future__ import annotations

from typing import Annotated

import typer

from devices.disk import format_bytes
from engine.cli.common import CatalogOpt, JsonOpt, open_site, print_json
from engine.cli.managed import run_as_job


def copy(
    job: Annotated[int, typer.Argument(help="The backup job whose run to copy.")],
    to: Annotated[
        str, typer.Option("--to", help="Library, drive or disk mount path for the copy.")
    ],
    run: Annotated[
        int | None, typer.Option("--run", help="Its run number (default: the newest good one).")
    ] = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """Copy JOB's run record for record to other media; exit 0 copied, 2 failed."""
    from engine.copy.job import JOB_TYPE, CopySpec

    with open_site(catalog) as site:
        out = run_as_job(site, JOB_TYPE, CopySpec(job, to, run))
    if as_json:
        print_json({**out.to_dict(), "exit_code": out.exit_code})
    elif out.run_id is not None:
        c = out.counts
        typer.echo(f"job {out.job_id}: {out.status.value}")
        typer.echo(
            f"  copy {out.copy}: {c.files} files, {format_bytes(c.bytes)} in {out.seconds:.1f} s "
            f"on {', '.join(c.volumes) or 'nothing'}"
        )
    if out.error:
        typer.echo(f"tapir: {out.error.rstrip()} (job {out.job_id}: {out.status.value})", err=True)
    raise typer.Exit(out.exit_code)
