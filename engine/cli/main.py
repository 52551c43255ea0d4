"""``tapir``: the command-line entry point (``[project.scripts] tapir``)."""

from __future__ import annotations

import typer

from engine.cli import (
    backup,
    devices,
    drive,
    job_defs,
    jobs,
    library,
    media,
    restore,
    schedule_cmd,
    server,
    sim,
)

app = typer.Typer(
    name="tapir",
    help="tapir: a backup engine for tape and disk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("backup")(backup.backup)
app.command("restore")(restore.restore)
app.command("server")(server.server)
app.add_typer(sim.app, name="sim")
app.add_typer(devices.app, name="devices")
app.add_typer(drive.app, name="drive")
app.add_typer(library.app, name="library")
app.add_typer(media.app, name="media")
app.add_typer(jobs.app, name="jobs")
app.add_typer(job_defs.app, name="job")
app.add_typer(schedule_cmd.app, name="schedule")


@app.callback()
def main() -> None:
    """tapir: a backup engine for tape and disk."""


if __name__ == "__main__":
    app()
