"""``tapir schedule tick``: one scheduler and notifier pass now (engine/schedule/ticks.py), for
hosts that run it from cron or a systemd timer instead of ``tapir server``, and for scripts.
``tapir schedule summary``: the last 24 hours of job history as the daily summary shows it
(``--send`` sends it now).

A pass submits due occurrences, ends jobs that missed their window, asks for runs past their
max run time to be canceled, retries failed runs, then sends the notices due. It prints what it
did (``--json`` for scripts). Exit 0; 2 when the definitions file has a mistake (jobs already
submitted are still policed) or the catalog cannot be opened. A notice that could not be
delivered is printed and recorded, and does not change the exit code.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from engine.cli.common import CatalogOpt, JsonOpt, open_site, print_json
from engine.cli.errors import EXIT_BAD_INPUT, fail
from engine.cli.job_defs import FileOpt

app = typer.Typer(help="The scheduler: one pass now; the daily summary.", no_args_is_help=True)


def report_notices_ourselves() -> None:
    """The commands print every failed delivery themselves (tick: stdout, server: its log):
    keep the logging module's last-resort handler from printing each one a second time."""
    logging.getLogger("engine.notify").addHandler(logging.NullHandler())


@app.command("tick")
def tick_command(
    file: FileOpt = None, as_json: JsonOpt = False, catalog: CatalogOpt = None
) -> None:
    """Submit what is due, end missed windows, cancel overlong runs, send notifications."""
    from engine.schedule.store import definitions_path
    from engine.schedule.ticks import describe_notify, describe_schedule, report_dict, tick_once

    report_notices_ourselves()
    with open_site(catalog) as site:
        path = file if file is not None else definitions_path(site.config)
        schedule, notify = tick_once(site.catalog(), path)
    problems = list(schedule.problems) + list(notify.problems)
    if as_json:
        print_json(report_dict(schedule, notify))
    else:
        for line in describe_schedule(schedule) + describe_notify(notify):
            typer.echo(line)
        for failure in notify.failures():
            typer.echo(f"not delivered: {failure}")
    for problem in problems:
        typer.echo(f"tapir: {problem}", err=True)
    if problems:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command("summary")
def summary_command(
    hours: Annotated[int, typer.Option("--hours", min=1, help="Period, ending now.")] = 24,
    send: Annotated[
        bool, typer.Option("--send", help="Send it now to the [summary] addresses.")
    ] = False,
    file: FileOpt = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """The job history summary of the last HOURS hours (the daily summary's content)."""
    from datetime import timedelta

    from engine.manager.clock import SYSTEM_CLOCK
    from engine.notify.summary import build_summary, send_summary
    from engine.schedule.fields import DefinitionError
    from engine.schedule.store import DefinitionsStore, definitions_path

    with open_site(catalog) as site:
        summary = build_summary(site.catalog(), SYSTEM_CLOCK.now(), timedelta(hours=hours))
        path = file if file is not None else definitions_path(site.config)
    deliveries = None
    if send:
        try:
            defs = DefinitionsStore(path).load()
        except DefinitionError as exc:
            fail(str(exc))
        if defs.notify.summary is None:
            fail(f"{path}: no [summary] table says where to send it; add one (see README).")
        deliveries = send_summary(defs, summary)
    if as_json:
        print_json({**summary.to_dict(), "deliveries": deliveries})
    else:
        typer.echo(summary.subject())
        typer.echo(summary.body(), nl=False)
        for d in deliveries or []:
            typer.echo(f"{d['channel']} {d['to']}: {'sent' if d['ok'] else d['error']}")
    if deliveries and not all(d["ok"] for d in deliveries):
        raise typer.Exit(1)
