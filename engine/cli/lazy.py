"""A typer group whose commands are imported only when one of them runs.

Importing every command module (and through them devices, drivers, hwsim, alembic, rich...)
cost most of a second or more before ``tapir ls`` could even parse its arguments; issue 5 asks
for a browse that answers in under 1 s as a whole command. ``LazyGroup`` knows each command by
name, module, attribute and one line of help: ``tapir --help`` lists the commands from those
lines without importing anything, and running (or asking the help of) one command imports its
module alone. tests/engine/test_cli_startup.py checks each help line against the real
command's, so the lines cannot drift from the docstrings.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import typer
from typer import main as typer_main
from typer.core import TyperGroup
from typer.models import CommandInfo, TyperInfo

from engine.cli.coercion import install

install()  # option and argument values without pydantic where typer's result is certain


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives: ``module.attribute`` is a command function or a ``typer.Typer``
    (a group of subcommands); ``help`` is the line ``tapir --help`` shows for it."""

    name: str
    module: str
    attribute: str
    help: str


class _Commands(Mapping[str, Any]):
    """The group's ``commands`` mapping, building each click command on first access."""

    def __init__(self, group: LazyGroup) -> None:
        self._group = group
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = self._group.build(self._group.lazy[name])
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._group.lazy)

    def __len__(self) -> int:
        return len(self._group.lazy)


class LazyGroup(TyperGroup):
    """The top-level group; ``lazy_commands`` is set by a subclass (see engine/cli/main.py)."""

    lazy_commands: tuple[LazyCommand, ...] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.lazy = {c.name: c for c in self.lazy_commands}
        self.commands = _Commands(self)  # type: ignore[assignment]
        self._listing = False

    def build(self, entry: LazyCommand) -> Any:
        """The real click command of ``entry``, importing its module now."""
        target = getattr(importlib.import_module(entry.module), entry.attribute)
        options = {
            "pretty_exceptions_short": True,
            "rich_markup_mode": self.rich_markup_mode,
        }
        if isinstance(target, typer.Typer):
            info = TyperInfo(target, name=entry.name)
            return typer_main.get_group_from_info(
                info, suggest_commands=self.suggest_commands, **options
            )
        return typer_main.get_command_from_info(
            CommandInfo(name=entry.name, callback=target), **options
        )

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.lazy:
            return None
        if self._listing:  # the help of the group: the listed line is all it needs
            return typer.core.TyperCommand(name=cmd_name, help=self.lazy[cmd_name].help)
        return self.commands[cmd_name]

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.lazy)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
