"""``tapir server``: the job manager's daemon, in the foreground (engine/manager/server.py).

It runs the jobs any server may run (not those a foreground ``tapir backup`` runs itself), by
priority, each once it has all its resources, and sweeps the reservations of dead holders. Its
ticks also run the scheduler and the notifier (engine/schedule/ticks.py): job definitions'
due occurrences are submitted, missed windows and overlong runs handled, notices sent.
SIGTERM or SIGINT stops it cleanly: running preemptable jobs stop at their next checkpoint and
are queued again; the others finish first. ``tapir jobs list`` in another terminal shows what
runs and what waits, and why.

Exit codes: 0 stopped on a signal; 2 configuration or catalog problem.
"""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer

from engine.cli.common import CatalogOpt
from engine.cli.errors import friendly_errors


def server(
    max_jobs: Annotated[int, typer.Option("--max-jobs", min=1, help="Jobs run at once.")] = 4,
    catalog: CatalogOpt = None,
) -> None:
    """Run the job manager: dispatcher, sweeper and periodic ticks, until SIGTERM/SIGINT."""
    from engine.cli.schedule_cmd import report_notices_ourselves
    from engine.manager.clock import SYSTEM_CLOCK
    from engine.manager.config import ManagerConfigError, load_manager_config
    from engine.manager.server import Server
    from engine.manager.ticks import server_ticks
    from engine.schedule.store import definitions_path
    from engine.site import Site
    from engine.site_config import load_site_config

    with friendly_errors():
        site_config = load_site_config()
        try:
            config = load_manager_config()
        except ManagerConfigError as exc:
            from engine.cli.errors import fail

            fail(str(exc))

        def new_site() -> Any:
            return Site(site_config, catalog_url=catalog)

        main = new_site()
        try:
            cat = main.catalog()

            def say(line: str) -> None:
                typer.echo(line, err=True)

            report_notices_ourselves()
            ticks = server_ticks(
                cat,
                config,
                SYSTEM_CLOCK,
                definitions=definitions_path(site_config),
                log_line=say,
            )
            loop = Server(new_site, cat, config, max_jobs=max_jobs, ticks=ticks, log=say)
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: loop.stop())
            typer.echo(f"tapir server: serving {cat.url} (Ctrl-C or SIGTERM stops)", err=True)
            loop.run()
            typer.echo("tapir server: stopped", err=True)
        finally:
            main.close()
