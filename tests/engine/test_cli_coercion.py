"""engine/cli/coercion.py: every parameter of every tapir command converts a value as typer's
own (pydantic) coercion does — the same result of the same type, or the same error message —
for generated values, and the plain values really skip typer's coercion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer._click.core import Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from engine.cli.coercion import UNSURE, PlainCoercion, plain_value
from engine.cli.main import COMMANDS, TapirGroup


def _walk(command: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    for param in command.params:
        if hasattr(param, "type_descriptor"):
            yield f"{path} {param.name}", command, param
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, f"{path} {name}")


def _parameters() -> list[tuple[str, Any, Any]]:
    group = TapirGroup(name="tapir")
    found: list[tuple[str, Any, Any]] = []
    for entry in COMMANDS:
        found.extend(_walk(group.build(entry), entry.name))
    return found


PARAMETERS = _parameters()
TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["7", "-3", "0", "007", " 7", "1_000", "+2", "tapir", "TAPIR", "backupexec", "true", ""]
)
VALUES = st.one_of(
    st.none(),
    TEXT,
    st.integers(-(10**20), 10**20).map(str),
    st.tuples(TEXT),
    st.lists(TEXT, max_size=3).map(tuple),
    st.lists(TEXT, max_size=2),
    st.integers(-5, 5),
    st.booleans(),
    st.just(("a", 1)),
)


def _outcome(coercion: Any, value: Any, param: Any, ctx: Any) -> tuple[str, Any]:
    try:
        result = coercion.coerce(value, param, ctx)
    except BadParameter as exc:
        return "error", exc.format_message()
    return "value", (type(result), result)


@pytest.mark.parametrize("name, command, param", PARAMETERS, ids=[p[0] for p in PARAMETERS])
@settings(max_examples=30, deadline=None)
@given(value=VALUES)
def test_plain_coercion_agrees_with_typer(name: str, command: Any, param: Any, value: Any) -> None:
    ctx = Context(command)
    theirs = _outcome(build_runtime_param(param.type_descriptor), value, param, ctx)
    ours = _outcome(PlainCoercion(param.type_descriptor), value, param, ctx)
    assert ours == theirs, (name, value)


def _param(path: str) -> tuple[Any, Any]:
    [(command, param)] = [(c, p) for n, c, p in PARAMETERS if n == path]
    return command, param


@pytest.mark.parametrize(
    "path, value, expected",
    [
        ("ls path", "/data/\udcff", "/data/\udcff"),  # undecodable argv bytes stay as they came
        ("ls as_of", None, None),
        ("browse job", "42", 42),
        ("browse job", "-1", -1),
        ("jobs list limit", "5", 5),
        ("jobs list status", ("RUNNING", "failed"), ["RUNNING", "failed"]),
        ("jobs list status", None, ()),
    ],
)
def test_plain_values_skip_typer(path: str, value: Any, expected: Any) -> None:
    command, param = _param(path)
    ctx = Context(command)
    result = plain_value(param.type_descriptor, value, multiple=param.multiple, ctx=ctx)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    "path, value",
    [("browse job", "1_000"), ("browse job", " 7"), ("jobs list limit", "0"), ("ls path", 3)],
)
def test_other_values_go_to_typer(path: str, value: Any) -> None:
    command, param = _param(path)
    ctx = Context(command)
    assert plain_value(param.type_descriptor, value, multiple=False, ctx=ctx) is UNSURE


def test_enum_by_value_and_member() -> None:
    command, param = _param("jobs list vocab")
    ctx = Context(command)
    enum = param.type_descriptor.annotation
    member = next(iter(enum))
    assert plain_value(param.type_descriptor, member.value, multiple=False, ctx=ctx) is member
    assert plain_value(param.type_descriptor, member, multiple=False, ctx=ctx) is member
    shout = member.value.upper()
    assert plain_value(param.type_descriptor, shout, multiple=False, ctx=ctx) is UNSURE
