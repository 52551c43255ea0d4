"""Include/exclude patterns: the documented syntax, checked by examples and against an
independent component-by-component matcher (Hypothesis)."""

from __future__ import annotations

import os
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.backup.patterns import PathMatcher, Selection, parse


@pytest.mark.parametrize(
    ("pattern", "relpath", "is_dir", "expected"),
    [
        ("*.o", "x.o", False, True),
        ("*.o", "a/b/x.o", False, True),
        ("*.o", "a/x.o/y", False, False),
        ("*.o", "x.oo", False, False),
        ("build", "build", True, True),
        ("build", "src/build", True, True),
        ("/build", "build", True, True),
        ("/build", "src/build", True, False),
        ("src/*.c", "src/main.c", False, True),
        ("src/*.c", "src/sub/main.c", False, False),
        ("src/*.c", "top/src/main.c", False, False),
        ("cache/", "cache", True, True),
        ("cache/", "cache", False, False),
        ("cache/", "x/cache", True, True),
        ("**/x", "x", False, True),
        ("**/x", "a/b/x", False, True),
        ("a/**/b", "a/b", False, True),
        ("a/**/b", "a/x/y/b", False, True),
        ("a/**/b", "a/x/y/c", False, False),
        ("a/**", "a", True, False),
        ("a/**", "a/b/c", False, True),
        ("**", "anything/at/all", False, True),
        ("a**b", "axxb", False, True),
        ("a**b", "ax/xb", False, False),
        ("?", "a", False, True),
        ("?", "ab", False, False),
        ("a?c", "a/c", False, False),
        ("[ab]x", "bx", False, True),
        ("[!ab]x", "bx", False, False),
        ("[^ab]x", "cx", False, True),
        ("[a-c]", "b", False, True),
        ("[]]", "]", False, True),
        ("[!]]", "a", False, True),
        ("[", "[", False, True),
        (r"\*", "*", False, True),
        (r"\*", "a", False, False),
        (r"\!keep", "!keep", False, True),
        (r"\[x]", "[x]", False, True),
        ("*", "line\nbreak", False, True),
        ("Makefile", "makefile", False, False),
        ("*.o", os.fsdecode(b"\xff\xfe.o"), False, True),
        (os.fsdecode(b"\xff*"), os.fsdecode(b"\xffrest"), False, True),
    ],
)
def test_examples(pattern: str, relpath: str, is_dir: bool, expected: bool) -> None:
    assert PathMatcher([pattern]).matches(relpath, is_dir) is expected


@pytest.mark.parametrize("bad", ["!x", "", "/", "//", "a//b", "a\\", "[z-a]"])
def test_invalid_patterns_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="pattern"):
        parse(bad)


def test_one_regex_for_many_patterns() -> None:
    m = PathMatcher(["*.o", "/build", "tmp/"])
    assert m.matches("a/x.o", False)
    assert m.matches("build", False)
    assert m.matches("d/tmp", True)
    assert not m.matches("d/tmp", False)
    assert not m.matches("d/build", True)
    assert not PathMatcher([])
    assert not PathMatcher([]).matches("x", False)


def test_selection_rules() -> None:
    everything = Selection()
    assert everything.selects_everything
    assert everything.included("a", False) and not everything.excluded("a", False)
    sel = Selection(includes=["*.c"], excludes=["test_*"])
    assert sel.included("src/x.c", False)
    assert not sel.included("src/x.h", False)
    assert sel.excluded("test_x.c", False)


# -- an independent reference: match component by component with fnmatch ---------------


def _components_match(pat: list[str], parts: list[str]) -> bool:
    if not pat:
        return not parts
    if pat[0] == "**":
        if len(pat) == 1:
            return len(parts) >= 1
        return any(_components_match(pat[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], pat[0]) and _components_match(pat[1:], parts[1:])


def reference_match(pattern: str, relpath: str, is_dir: bool) -> bool:
    dir_only = pattern.endswith("/")
    body = pattern.rstrip("/")
    anchored = "/" in body
    comps = body.lstrip("/").split("/")
    if not anchored:
        comps = ["**", *comps]
    if dir_only and not is_dir:
        return False
    return _components_match(comps, relpath.split("/"))


PATTERN_COMPONENTS = st.sampled_from(
    ["a", "b", "ab", "*", "?", "a*", "*b", "[ab]", "[!a]", "[a-b]", "**", "x?", "*.x", "a**", "."]
)
PATH_COMPONENTS = st.text(alphabet="abx.", min_size=1, max_size=3)


@st.composite
def patterns(draw: st.DrawFn) -> str:
    body = "/".join(draw(st.lists(PATTERN_COMPONENTS, min_size=1, max_size=4)))
    lead = "/" if draw(st.booleans()) else ""
    trail = "/" if draw(st.booleans()) else ""
    return lead + body + trail


@settings(max_examples=600, deadline=None)
@given(
    pattern=patterns(),
    parts=st.lists(PATH_COMPONENTS, min_size=1, max_size=5),
    is_dir=st.booleans(),
)
def test_matcher_agrees_with_reference(pattern: str, parts: list[str], is_dir: bool) -> None:
    relpath = "/".join(parts)
    expected = reference_match(pattern, relpath, is_dir)
    assert PathMatcher([pattern]).matches(relpath, is_dir) is expected


@settings(max_examples=200, deadline=None)
@given(
    pats=st.lists(patterns(), min_size=1, max_size=5),
    parts=st.lists(PATH_COMPONENTS, min_size=1, max_size=5),
    is_dir=st.booleans(),
)
def test_many_patterns_match_like_any_one(pats: list[str], parts: list[str], is_dir: bool) -> None:
    relpath = "/".join(parts)
    expected = any(PathMatcher([p]).matches(relpath, is_dir) for p in pats)
    assert PathMatcher(pats).matches(relpath, is_dir) is expected
