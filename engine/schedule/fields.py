"""Checking one TOML table of the job definitions file, field by field.

Every problem is one ``DefinitionError`` naming the file, the field's dotted place and what
to write instead ("jobs.toml: jobs.nightly.window: '4x' is not a duration; write e.g. ...").
The definitions (engine/schedule/validate.py) and the notification settings
(engine/notify/config.py) use the same ``Fields`` so the messages read alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from engine.schedule.durations import BadDuration, parse_duration


class DefinitionError(Exception):
    """A job definitions file that cannot be used; ``str()`` is the whole sentence."""

    code = "schedule.definition"

    def __init__(self, source: str, where: str, problem: str) -> None:
        super().__init__(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")
        self.source = source
        self.where = where
        self.problem = problem


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "an array",
    dict: "a table",
}


class Fields:
    """One table (``raw``) at ``where`` in ``source``; ``keys`` maps each allowed key to its
    TOML type. Unknown keys and wrong types are refused when the object is made."""

    def __init__(
        self, source: str, where: str, raw: Any, keys: Mapping[str, type | tuple[type, ...]]
    ) -> None:
        self.source, self.where = source, where
        if not isinstance(raw, Mapping):
            raise self.error("", "must be a table")
        unknown = sorted(set(raw) - set(keys))
        if unknown:
            known = ", ".join(sorted(keys))
            raise self.error("", f"unknown key {unknown[0]!r}; known keys: {known}")
        for key, value in raw.items():
            kinds = keys[key] if isinstance(keys[key], tuple) else (keys[key],)
            is_bool = isinstance(value, bool)
            if (is_bool and bool not in kinds) or not isinstance(value, kinds):
                names = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
                raise self.error(key, f"must be {names}, not {value!r}")
        self.raw: Mapping[str, Any] = raw

    def place(self, key: str) -> str:
        return f"{self.where}.{key}" if key and self.where else key or self.where

    def error(self, key: str, problem: str) -> DefinitionError:
        return DefinitionError(self.source, self.place(key), problem)

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def require(self, key: str) -> Any:
        if key not in self.raw:
            raise self.error("", f"{key} is required")
        return self.raw[key]

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.require(key) if required else self.raw.get(key, default)
        if isinstance(value, str) and not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        values = self.raw.get(key, [])
        for i, value in enumerate(values, 1):
            if not isinstance(value, str) or not value:
                raise self.error(f"{key}[{i}]", f"must be a non-empty string, not {value!r}")
        return tuple(values)

    def duration(self, key: str, default: timedelta | None, *, positive: bool = True) -> Any:
        value = self.raw.get(key)
        if value is None:
            return default
        try:
            parsed = parse_duration(value)
        except BadDuration as exc:
            raise self.error(key, str(exc)) from None
        if positive and parsed <= timedelta(0):
            raise self.error(key, f"{value!r} must be longer than 0s")
        return parsed

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.raw.get(key, default)
        if not low <= value <= high:
            raise self.error(key, f"{value} is out of range; write {low}..{high}")
        return int(value)

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.raw.get(key, default)
        if value not in choices:
            raise self.error(key, f"{value!r} is not one of: {', '.join(choices)}")
        return str(value)
