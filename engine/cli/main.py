"""``tapir``: the command-line entry point (``[project.scripts] tapir``)."""

from __future__ import annotations

import typer

from engine.cli import sim

app = typer.Typer(
    name="tapir",
    help="tapir: a backup engine for tape and disk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(sim.app, name="sim")


@app.callback()
def main() -> None:
    """tapir: a backup engine for tape and disk."""


if __name__ == "__main__":
    app()
