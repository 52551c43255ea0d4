"""``tapir schedule tick``: one scheduler pass now (engine/schedule/scheduler.py), for hosts
that run it from cron or a systemd timer instead of ``tapir server``, and for scripts.

It submits due occurrences, ends jobs that missed their window, asks for runs past their max
run time to be canceled, and retries failed runs, then sends the notifications due
(engine/notify). Prints what it did (``--json`` for scripts). Exit 0; 2 when the definitions
file has a mistake (jobs already submitted are still policed) or the catalog cannot be opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from engine.cli.common import CatalogOpt, JsonOpt, open_site, print_json
from engine.cli.errors import EXIT_BAD_INPUT
from engine.cli.job_defs import FileOpt

app = typer.Typer(help="The scheduler: one pass now.", no_args_is_help=True)


@app.command("tick")
def tick_command(
    file: FileOpt = None, as_json: JsonOpt = False, catalog: CatalogOpt = None
) -> None:
    """Submit what is due, end missed windows, cancel overlong runs, send notifications."""
    from engine.schedule.scheduler import Scheduler
    from engine.schedule.store import DefinitionsStore, definitions_path

    with open_site(catalog) as site:
        path: Path = file if file is not None else definitions_path(site.config)
        report = Scheduler(site.catalog(), DefinitionsStore(path)).tick()
    out: dict[str, Any] = report.to_dict()
    if as_json:
        print_json(out)
    else:
        for key in ("submitted", "held", "released", "missed", "timed_out", "retried"):
            if out[key]:
                typer.echo(f"{key.replace('_', ' ')}: jobs {', '.join(map(str, out[key]))}")
        if report.busy:
            typer.echo("another scheduler pass was running: nothing done")
    for problem in report.problems:
        typer.echo(f"tapir: {problem}", err=True)
    if report.problems:
        raise typer.Exit(EXIT_BAD_INPUT)
