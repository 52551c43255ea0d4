"""Durations as administrators write them in job definitions: ``30m``, ``4h``, ``1h30m``,
``90s``, ``2d`` (units d, h, m, s; at least one part; whole numbers). ``format_duration`` writes
the shortest such text, and parsing it gives the same value back."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_PART_RE = re.compile(r"(\d+)([dhms])")
_WHOLE_RE = re.compile(r"^(?:\d+[dhms])+$")
EXAMPLE = "e.g. 90s, 30m, 4h, 1h30m or 2d"


class BadDuration(ValueError):
    """Not a duration; ``str()`` says how to write one."""


def parse_duration(text: str) -> timedelta:
    """``"1h30m"`` -> 90 minutes. Units may appear once each, largest first."""
    compact = text.strip().lower().replace(" ", "")
    if not _WHOLE_RE.match(compact):
        raise BadDuration(f"{text!r} is not a duration; write {EXAMPLE}")
    seen: list[str] = []
    seconds = 0
    order = [u for u, _ in UNITS]
    for number, unit in _PART_RE.findall(compact):
        if seen and order.index(unit) <= order.index(seen[-1]):
            raise BadDuration(f"{text!r}: write each unit once, largest first ({EXAMPLE})")
        seen.append(unit)
        seconds += int(number) * dict(UNITS)[unit]
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest text ``parse_duration`` reads back as ``value`` (whole seconds)."""
    seconds = int(value.total_seconds())
    if seconds < 0:
        raise ValueError("negative duration")
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
