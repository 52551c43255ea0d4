"""Typer's value coercion without pydantic for the plain values tapir's commands take.

typer (0.29) converts every option and argument value through a pydantic ``TypeAdapter`` built
on first use. Importing pydantic and building the adapters costs more CPU than ``tapir ls``'s
query on a catalog of a million files (issue 5: a browse answers in under 1 s as a whole
command). After ``install()`` (engine/cli/lazy.py), every parameter coerces through a
``PlainCoercion`` instead: a value whose result is certain is converted here —

- ``None`` (the option was not given): ``None``, or ``()`` for a repeatable option;
- a ``str`` for a ``str`` parameter (not a path, no parser): the value itself;
- a decimal integer in canonical form (``-12``, ``0``, ``7``) for an ``int`` parameter
  without ``clamp``, within its ``min``/``max``;
- an enum member, or the exact value of one, for a case-sensitive enum parameter;
- a tuple or list of ``str`` for a repeatable ``list[str]`` option: a list of them;

and anything else (a bad value, whose message typer words; ``1_000``; a bool read from an
environment variable; a path; ...) goes to typer's own coercion, built then, so results and
messages are typer's. tests/engine/test_cli_coercion.py compares the two on generated values.

This relies on a typer internal (typer.core's ``build_runtime_param``, which builds a
parameter's coercion from its ``TypeDescriptor``); a typer without it coerces as it always
did, only slower (tests/engine/test_cli_startup.py then fails: ``tapir ls`` imports pydantic).
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, get_args, get_origin

_CANONICAL_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
"""Decimal integers every integer parser reads alike (no sign ``+``, spaces, ``_`` or leading
zeros, fewer than 19 digits)."""
UNSURE = object()
"""``plain_value``'s answer for a value it leaves to typer."""


def _is_plain(info: Any) -> bool:
    """No parser, click type or path flags: the annotation alone decides the conversion."""
    return getattr(info, "parser", None) is None and getattr(info, "click_type", None) is None


def plain_value(descriptor: Any, value: Any, *, multiple: bool, ctx: Any) -> Any:
    """``value`` converted as typer would for a parameter of ``descriptor`` (typer's
    ``TypeDescriptor``), or ``UNSURE``."""
    if value is None:
        return () if multiple else None  # typer's RuntimeParam.coerce
    annotation, info = descriptor.annotation, descriptor.parameter_info
    if not _is_plain(info) or descriptor.file_annotation is not None or descriptor.is_path:
        return UNSURE
    if multiple:
        strings = get_origin(annotation) is list and get_args(annotation) == (str,)
        if strings and isinstance(value, (tuple, list)) and all(type(v) is str for v in value):
            return list(value)
        return UNSURE
    if annotation is str:
        return value if type(value) is str else UNSURE
    if annotation is int:
        return _plain_int(value, info)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _plain_member(annotation, value, info, ctx)
    return UNSURE


def _plain_int(value: Any, info: Any) -> Any:
    if type(value) is not str or not _CANONICAL_INT.fullmatch(value) or info.clamp:
        return UNSURE
    number = int(value)
    if (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
        return UNSURE  # typer's message says why
    return number


def _plain_member(enum: type[Enum], value: Any, info: Any, ctx: Any) -> Any:
    if isinstance(value, enum):
        return value
    if not info.case_sensitive or getattr(ctx, "token_normalize_func", None) is not None:
        return UNSURE
    if type(value) is str:
        for member in enum:
            if str(member.value) == value:
                return member
    return UNSURE


class PlainCoercion:
    """A parameter's runtime coercion (typer's ``RuntimeParam`` interface: ``coerce``): plain
    values here, the rest through typer's own, built on first need."""

    def __init__(self, descriptor: Any) -> None:
        self.descriptor = descriptor
        self._typer: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = bool(param.multiple or param.nargs == -1)
        result = plain_value(self.descriptor, value, multiple=multiple, ctx=ctx)
        if result is not UNSURE:
            return result
        if self._typer is None:
            from typer._coercion import build_runtime_param  # typer's own, with pydantic

            self._typer = build_runtime_param(self.descriptor)
        return self._typer.coerce(value, param, ctx)


def _plain_or_typer(descriptor: Any) -> PlainCoercion:
    """What typer's parameters call to build their coercion, once per parameter."""
    return PlainCoercion(descriptor)


def install() -> None:
    """Make typer's parameters (options, arguments, help options, of every command) coerce
    through ``PlainCoercion``. typer.core builds each parameter's coercion on first use with
    the ``build_runtime_param`` it imported; that name is replaced here, once per process. A
    typer without it is left alone (see the module docstring)."""
    import typer.core

    if hasattr(typer.core, "build_runtime_param"):
        typer.core.build_runtime_param = _plain_or_typer  # type: ignore[attr-defined]
