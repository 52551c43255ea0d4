"""``tapir restore PATH... [--as-of JOB|run:RUN|DATE] [--to ROOT] [--overwrite POLICY] [--plan]
[--json]``; ``tapir restore --from-media BARCODE|VOLUME_FILE --session N PATH...`` without the
catalog (engine/restore/from_media.py: the session's own index, one LOCATE per member).

The job is engine/restore/job.py ``run_restore``; ``--plan`` prints the media plan (which
volumes, where they are now, how many members each) and moves nothing. Files are written at
ROOT + their absolute path as backed up (ROOT ``/``: the original location).

Exit codes: 0 every file restored; 1 some files failed, came with a warning (in use or
corrupted at backup), were kept by the overwrite policy or were never stored (skipped at
backup), the rest restored; 2 nothing
selected, a bad option, or the run failed (one line on stderr; the job records it).
"""

from __future__ import annotations

from typing import Annotated

import typer

from devices.disk import format_bytes
from engine.cli.common import ACTOR, CatalogOpt, JsonOpt, open_site, print_json
from engine.cli.errors import fail
from engine.cli.managed import EXIT_INTERRUPTED, run_as_job
from engine.restore.extract import Outcome, Overwrite

SHOWN_FILES = 20


def restore(
    paths: Annotated[list[str], typer.Argument(help="Absolute paths as backed up; globs allowed.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Point in time: a backup job id (7 or job:7), a run (run:12), or an ISO date "
            "or date-time (2026-11-22, 2026-11-22T14:30; local time unless a zone is given).",
        ),
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
    from_media: Annotated[
        str | None,
        typer.Option(
            "--from-media", help="Without the catalog: a tape's barcode or a disk volume file."
        ),
    ] = None,
    session: Annotated[
        int, typer.Option("--session", help="With --from-media: the session's tape file number.")
    ] = 1,
    copy: Annotated[
        int | None,
        typer.Option("--copy", help="Read copy N (tapir copy) instead of copy 1.", min=1),
    ] = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """Restore PATHs from the catalog's backups; exit 0 all restored, 1 partly, 2 failed."""
    from engine.restore.asof import AsOfError, NoSuchPoint, parse_as_of
    from engine.restore.job import RestoreSpec, plan_restore
    from engine.restore.plan import PlanError
    from engine.restore.select import SelectionError

    try:
        point = parse_as_of(as_of)
    except AsOfError as exc:
        fail(str(exc))
    spec = RestoreSpec(tuple(paths), root=to, as_of=point, overwrite=overwrite, copy=copy)
    with open_site(catalog) as site:
        if from_media is not None:
            from engine.restore.from_media import MediaRestoreSpec, restore_from_media

            if plan or as_of is not None or copy is not None:
                fail(
                    "--from-media reads one session's index: --plan, --as-of and --copy do not "
                    "apply."
                )
            alone = MediaRestoreSpec(from_media, session, tuple(paths), to, overwrite)
            try:
                out = restore_from_media(alone, site, actor=ACTOR)
            except KeyboardInterrupt:
                fail("interrupted: the run is recorded as CANCELED", EXIT_INTERRUPTED)
        elif plan:
            try:
                media = plan_restore(spec, site)
            except (SelectionError, NoSuchPoint, PlanError) as exc:
                fail(str(exc))
            if as_json:
                print_json(media.to_dict())
            else:
                for line in media.lines():
                    typer.echo(line)
            return
        else:
            from engine.restore.job import JOB_TYPE

            out = run_as_job(site, JOB_TYPE, spec)
    if as_json:
        print_json({**out.to_dict(), "exit_code": out.exit_code})
    elif out.run_id is not None:
        restored = out.count(Outcome.RESTORED) + out.count(Outcome.WARNING)
        typer.echo(f"job {out.job_id}: {out.status.value}")
        runs = ", ".join(str(r) for r in out.runs) or "none"
        typer.echo(f"  as of {out.as_of.describe()}: versions from backup run(s) {runs}")
        typer.echo(
            f"  restored: {restored} files, {format_bytes(out.bytes)} in {out.seconds:.1f} s; "
            f"kept {out.count(Outcome.KEPT)}, not stored {out.count(Outcome.NOT_STORED)}, "
            f"failed {out.count(Outcome.FAILED)}"
        )
        shown = [r for r in out.results if r.outcome is not Outcome.RESTORED]
        for r in shown[:SHOWN_FILES]:
            typer.echo(f"    {r.outcome.value}: {r.path}{': ' + r.message if r.message else ''}")
    if out.error:
        typer.echo(f"tapir: {out.error.rstrip()} (job {out.job_id}: {out.status.value})", err=True)
    raise typer.Exit(out.exit_code)
