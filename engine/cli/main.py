"""``tapir``: the command-line entry point (``[project.scripts] tapir``).

Commands are registered by name and module (engine/cli/lazy.py): a command's module, and the
engine it needs, is imported only when that command runs, so ``tapir ls`` does not pay for
importing the backup pipeline, the simulator and the rest. A new command goes into
``COMMANDS`` with its help line (tests/engine/test_cli_startup.py checks the line).
"""

from __future__ import annotations

import typer

from engine.cli.lazy import LazyCommand, LazyGroup

COMMANDS = (
    LazyCommand(
        "backup",
        "engine.cli.backup",
        "backup",
        "Back up SOURCE to TARGET now; exit 0 clean, 1 with file exceptions, 2 failed.",
    ),
    LazyCommand(
        "restore",
        "engine.cli.restore",
        "restore",
        "Restore PATHs from the catalog's backups; exit 0 all restored, 1 partly, 2 failed.",
    ),
    LazyCommand(
        "server",
        "engine.cli.server",
        "server",
        "Run the job manager: dispatcher, sweeper and periodic ticks, until SIGTERM/SIGINT.",
    ),
    LazyCommand(
        "ls",
        "engine.cli.browse",
        "ls",
        "List a directory's entries as of a point in time, from the catalog.",
    ),
    LazyCommand(
        "browse",
        "engine.cli.browse",
        "browse",
        "List every version of one path the catalog holds, oldest first.",
    ),
    LazyCommand(
        "verify",
        "engine.cli.verify",
        "verify",
        "Read JOB's sessions back and compare checksums; exit 0 all match, 1 some differ.",
    ),
    LazyCommand(
        "copy",
        "engine.cli.copy",
        "copy",
        "Copy JOB's run record for record to other media; exit 0 copied, 2 failed.",
    ),
    LazyCommand(
        "sim", "engine.cli.sim", "app", "Run and operate a simulated tape library (hwsim)."
    ),
    LazyCommand("devices", "engine.cli.devices", "app", "Find tape drives and changers."),
    LazyCommand("drive", "engine.cli.drive", "app", "Look at tape drives."),
    LazyCommand(
        "library", "engine.cli.library", "app", "Operate tape libraries (changer and drives)."
    ),
    LazyCommand(
        "media", "engine.cli.media", "app", "Media (cartridges) in the catalog: list, label, show."
    ),
    LazyCommand(
        "jobs",
        "engine.cli.jobs",
        "app",
        "Jobs in the catalog: list, history, show; cancel, suspend, resume, priority.",
    ),
    LazyCommand(
        "job",
        "engine.cli.job_defs",
        "app",
        "Job definitions: schedules, windows, retries, notifications; Backup Now.",
    ),
    LazyCommand(
        "schedule",
        "engine.cli.schedule_cmd",
        "app",
        "The scheduler: one pass now; the daily summary.",
    ),
    LazyCommand("catalog", "engine.cli.catalog", "app", "The catalog: rebuild it from media."),
)


class TapirGroup(LazyGroup):
    lazy_commands = COMMANDS


app = typer.Typer(
    name="tapir",
    cls=TapirGroup,
    help="tapir: a backup engine for tape and disk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """tapir: a backup engine for tape and disk."""


if __name__ == "__main__":
    app()
