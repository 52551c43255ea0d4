"""``tapir verify JOB [--run N] [--json]``: read a backup job's sessions back and compare every
file with the checksum recorded at backup (engine/verify/job.py ``run_verify``).

Exit codes: 0 every file matches; 1 some files differ (listed; the rest was read), or matched
only on another copy (copy 1 could not be read there: listed as warnings); 2 nothing to
verify, a bad option, or the run failed (one line on stderr; the verify job records it).
"""

from __future__ import annotations

from typing import Annotated

import typer

from devices.disk import format_bytes
from engine.cli.common import CatalogOpt, JsonOpt, open_site, print_json
from engine.cli.managed import run_as_job

SHOWN_FILES = 20


def verify(
    job: Annotated[int, typer.Argument(help="The backup job to verify.")],
    run: Annotated[
        int | None, typer.Option("--run", help="Its run number (default: the newest good one).")
    ] = None,
    copy: Annotated[
        int | None,
        typer.Option("--copy", help="Read copy N (tapir copy) instead of copy 1.", min=1),
    ] = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """Read JOB's sessions back and compare checksums; exit 0 all match, 1 some differ."""
    from engine.verify.job import JOB_TYPE, VerifySpec

    with open_site(catalog) as site:
        out = run_as_job(site, JOB_TYPE, VerifySpec(job, run, copy))
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
        for r in out.from_copies[:SHOWN_FILES]:
            typer.echo(f"    warning: {r.path}: {r.message}")
        if len(differ) > SHOWN_FILES:
            typer.echo(f"    ... {len(differ) - SHOWN_FILES} more (--json lists all)")
    if out.error:
        typer.echo(f"tapir: {out.error.rstrip()} (job {out.job_id}: {out.status.value})", err=True)
    raise typer.Exit(out.exit_code)
