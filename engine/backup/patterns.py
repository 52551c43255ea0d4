"""Include and exclude patterns: a precise subset of gitignore syntax on relative paths.

A pattern is matched against an item's path *relative to the backup source*, with ``/`` between
components and no leading ``./`` (``src/main.c``). The source itself is never matched.

- ``*`` matches any run of characters except ``/`` (also the empty run); ``?`` matches one
  character except ``/``.
- ``[...]`` matches one character of the set; ``[!...]`` or ``[^...]`` one character not in it
  (never ``/``). Inside brackets characters are literal, ``a-z`` is a range, and a ``]`` right
  after the opening bracket (or after ``!``/``^``) is literal. A ``[`` without a closing ``]`` is
  literal.
- ``\\`` outside brackets makes the next character literal (``\\*``, ``\\[``, a leading ``\\!``).
- ``**`` as a whole component matches any number of components: ``**/x`` (zero or more
  directories, then ``x``), ``a/**/b`` (``a/b``, ``a/x/b``, ...), ``a/**`` (everything below
  ``a``, not ``a`` itself), ``**`` (everything). ``**`` inside a component is just ``*``.
- A pattern with no ``/`` except a trailing one matches the *name* at any depth (``*.o``
  matches ``x.o`` and ``a/b/x.o``). A pattern with a ``/`` at the start or in the middle is
  anchored at the source (``/build`` and ``src/*.c`` match only from the top).
- A trailing ``/`` makes the pattern match directories only (``cache/``).
- Matching is case-sensitive, on the name as Python sees it (non-UTF-8 bytes appear as
  surrogate escapes, ``os.fsdecode``), and ``*``/``?`` match them like any character.
- Negation (gitignore's leading ``!``) is not supported: a pattern starting with ``!`` is
  refused with ``ValueError`` so that nobody believes it re-includes anything.

How the scanner applies them (scan.py): an item is excluded when any exclude pattern matches it;
an excluded directory is not descended (its whole subtree counts as one excluded item). With no
include pattern everything not excluded is included. With include patterns a non-directory is
included when it, or one of its parent directories, matches an include pattern; directories
are still descended to look for matches and appear in the backup only above included items (or
when they match themselves). Exclude wins over include.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

GLOBSTAR = "**"
ANY_DEPTH = "(?:[^/]+/)*"
"""``**/``: zero or more whole components, each with its separator."""
ANY_BELOW = ".+"
"""A final ``/**``: one or more components (relative paths have no empty component)."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """One parsed pattern: its text, its regex and whether it applies to directories only."""

    text: str
    regex: str
    dir_only: bool


def parse(text: str) -> Pattern:
    """Parse one pattern (syntax in the module docstring). Raises ``ValueError`` if invalid."""
    if text.startswith("!"):
        raise ValueError(
            f"pattern {text!r}: negation ('!') is not supported; write '\\!' for a '!'"
        )
    body = text
    dir_only = body.endswith("/")
    body = body.rstrip("/")
    anchored = "/" in body
    body = body.lstrip("/")
    if not body:
        raise ValueError(f"pattern {text!r} matches nothing: it has no name in it")
    components = body.split("/")
    if not anchored:
        components = [GLOBSTAR, *components]
    last = len(components) - 1
    parts: list[str] = []
    for i, comp in enumerate(components):
        if comp == "":
            raise ValueError(f"pattern {text!r} has an empty component ('//')")
        if comp == GLOBSTAR:
            parts.append(ANY_BELOW if i == last else ANY_DEPTH)
        else:
            parts.append(_component(comp, text) + ("" if i == last else "/"))
    regex = "".join(parts)
    try:
        re.compile(regex)
    except re.error as exc:
        raise ValueError(f"pattern {text!r} is not valid: {exc}") from None
    return Pattern(text, regex, dir_only)


def _component(comp: str, text: str) -> str:
    """Regex for one component with no ``/`` in it."""
    out: list[str] = []
    i, n = 0, len(comp)
    while i < n:
        c = comp[i]
        if c == "*":
            while i + 1 < n and comp[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            if i + 1 == n:
                raise ValueError(f"pattern {text!r} ends with a lone backslash")
            i += 1
            out.append(re.escape(comp[i]))
        elif c == "[":
            end = _class_end(comp, i)
            if end < 0:
                out.append(re.escape(c))
            else:
                out.append(_char_class(comp[i + 1 : end]))
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _class_end(comp: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start``, or -1."""
    j = start + 1
    if j < len(comp) and comp[j] in "!^":
        j += 1
    if j < len(comp) and comp[j] == "]":
        j += 1
    return comp.find("]", j)


def _char_class(inner: str) -> str:
    negate = inner[:1] in ("!", "^")
    if negate:
        inner = inner[1:]
    body = "".join(c if c == "-" else re.escape(c) for c in inner)
    return f"[^/{body}]" if negate else f"[{body}]"


class PathMatcher:
    """A list of patterns compiled into one regex per kind (any item, directories only).

    ``matches`` costs one ``fullmatch`` (two for a directory), whatever the number of patterns.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(parse(p) for p in patterns)
        self._any = _alternation(p.regex for p in self.patterns if not p.dir_only)
        self._dirs = _alternation(p.regex for p in self.patterns if p.dir_only)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, relpath: str, is_dir: bool) -> bool:
        """Does any pattern match this relative path (``a/b/c``, no leading ``./`` or ``/``)?"""
        if self._any is not None and self._any.fullmatch(relpath):
            return True
        return is_dir and self._dirs is not None and self._dirs.fullmatch(relpath) is not None


def _alternation(regexes: Iterable[str]) -> re.Pattern[str] | None:
    joined = "|".join(f"(?:{r})" for r in regexes)
    return re.compile(joined, re.DOTALL) if joined else None


class Selection:
    """Includes and excludes of one job (the rules are in the module docstring)."""

    def __init__(self, includes: Iterable[str] = (), excludes: Iterable[str] = ()) -> None:
        self.includes = PathMatcher(includes)
        self.excludes = PathMatcher(excludes)

    @property
    def selects_everything(self) -> bool:
        return not self.includes and not self.excludes

    def excluded(self, relpath: str, is_dir: bool) -> bool:
        return bool(self.excludes) and self.excludes.matches(relpath, is_dir)

    def included(self, relpath: str, is_dir: bool) -> bool:
        """Does an include pattern match this path itself (True when there are no includes)?"""
        return not self.includes or self.includes.matches(relpath, is_dir)
