"""The job definitions file: parse errors name the file and field (Hypothesis: nothing but a
``DefinitionError`` ever comes out), values round-trip through TOML, and the store's writes are
atomic, locked and never replace a file they could not read."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.backup.levels import Level
from engine.notify.config import Event, NotifyRule
from engine.schedule.definitions import (
    Definitions,
    Duplicates,
    JobDefinition,
    RetryPolicy,
    definitions_to_toml,
)
from engine.schedule.durations import BadDuration, format_duration, parse_duration
from engine.schedule.fields import DefinitionError
from engine.schedule.store import DefinitionExists, DefinitionsStore, UnknownDefinition
from engine.schedule.validate import parse_definitions
from tests.hwsim.daemon_util import REPO

BASE = '[jobs.n]\nsource = "/data"\ntarget = "lib1"\n'


@given(st.integers(min_value=0, max_value=400 * 86_400))
def test_durations_round_trip(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["", "4", "h", "4x", "1m1h", "1h1h", "-1h", "1.5h"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(BadDuration, match=r"e\.g\. 90s, 30m"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("extra", "where", "words"),
    [
        ('window = "4x"', "jobs.n.window", "not a duration"),
        ('window = "0s"', "jobs.n.window", "longer than 0s"),
        ('schedule = "61 * * * *"', "jobs.n.schedule", "not a cron schedule"),
        ('schedule = "0 0 * * * * *"', "jobs.n.schedule", "more than 5 fields"),
        ('schedule = "0 0 30 2 *"', "jobs.n.schedule", "never falls on a date"),
        ('level = "weekly"', "jobs.n.level", "not one of: full, incremental, differential"),
        ('duplicates = "twice"', "jobs.n.duplicates", "not one of: skip, queue"),
        ("priority = 5000", "jobs.n.priority", "out of range"),
        ('priority = "high"', "jobs.n.priority", "must be an integer"),
        ('timezone = "Mars/Olympus"', "jobs.n.timezone", "not a time zone"),
        ("enabled = 1", "jobs.n.enabled", "must be true or false"),
        ("colour = 1", "jobs.n", "unknown key 'colour'"),
        ('excludes = ["a", ""]', "jobs.n.excludes[2]", "non-empty string"),
        ("retry = { attempts = -1 }", "jobs.n.retry.attempts", "out of range"),
        ("retry = { times = 3 }", "jobs.n.retry", "unknown key 'times'"),
        ('[[jobs.n.notify]]\non = ["failed"]', "jobs.n.notify[1]", "needs email"),
        ('[[jobs.n.notify]]\nemail = ["nobody"]', "jobs.n.notify[1].email[1]", "not an email"),
        ('[[jobs.n.notify]]\nwebhook = "ftp://x/y"', "jobs.n.notify[1].webhook", "http://"),
        ('[[jobs.n.notify]]\nwebhook = "http://h/"\non = ["lunch"]', "jobs.n.notify[1].on[1]", ""),
    ],
)
def test_each_mistake_is_one_sentence_naming_file_and_field(
    extra: str, where: str, words: str
) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definitions(BASE + extra + "\n", "/etc/tapir/jobs.toml")
    exc = caught.value
    assert exc.where == where
    assert str(exc).startswith(f"/etc/tapir/jobs.toml: {where}: ")
    assert words in exc.problem and "\n" not in str(exc)


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("[jobs.n]\ntarget = 'x'", "jobs.n", "source is required"),
        ("[jobs.n]\nsource = '/d'", "jobs.n", "target is required"),
        ("[jobs.n]\nsource = 'rel'\ntarget = 'x'", "jobs.n.source", "absolute path"),
        ("[jobs.'a b']\nsource = '/d'\ntarget = 'x'", "jobs.a b", "the name must be"),
        ("[smtp]\nhost = 'h'", "smtp", "sender is required"),
        ("[summary]\nat = '25:00'\nemail = ['a@b']", "summary.at", "time of day"),
        ("jobs = 3", "jobs", "must be a table"),
        ("[jobs\n", "", "TOML syntax error"),
    ],
)
def test_file_level_mistakes(text: str, where: str, words: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definitions(text, "jobs.toml")
    assert caught.value.where == where and words in caught.value.problem


_VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.booleans(),
    st.lists(st.text(max_size=6), max_size=3),
    st.dictionaries(st.sampled_from(["attempts", "interval", "x"]), st.text(max_size=4)),
)
_KEYS = st.sampled_from(
    ["source", "target", "level", "schedule", "window", "max_run_time", "priority", "retry",
     "notify", "timezone", "duplicates", "includes", "enabled", "pool", "bogus"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=8))
def test_any_table_either_parses_or_raises_one_definition_error(table: dict) -> None:
    text = tomli_w.dumps({"jobs": {"fuzz": table}})
    try:
        defs = parse_definitions(text, "jobs.toml")
    except DefinitionError as exc:
        assert str(exc).startswith("jobs.toml: ") and "\n" not in exc.problem.strip("\n")
    else:
        assert defs.jobs["fuzz"].source == table["source"]


_DURATIONS = st.integers(min_value=1, max_value=7 * 86_400).map(lambda s: timedelta(seconds=s))
_RULES = st.builds(
    NotifyRule,
    on=st.frozensets(st.sampled_from(list(Event)), min_size=1),
    email=st.lists(st.sampled_from(["ops@example.com", "a@b.c"]), min_size=1, max_size=2).map(
        tuple
    ),
    webhook=st.none() | st.just("http://127.0.0.1:9/hook"),
    waiting_after=_DURATIONS,
)
_DEFINITIONS = st.builds(
    JobDefinition,
    name=st.from_regex(r"[a-z][a-z0-9_.-]{0,20}", fullmatch=True),
    source=st.sampled_from(["/srv/data", "/home", "/"]),
    target=st.sampled_from(["lib1", "lib1:drive0", "/srv/disk1"]),
    level=st.sampled_from(list(Level)),
    pool=st.none() | st.just("weekly"),
    includes=st.lists(st.sampled_from(["*.conf", "etc/"]), max_size=2).map(tuple),
    excludes=st.lists(st.sampled_from(["*.o", "cache/"]), max_size=2).map(tuple),
    one_file_system=st.booleans(),
    priority=st.integers(min_value=0, max_value=999),
    schedule=st.none() | st.sampled_from(["0 22 * * 1-5", "@daily", "*/15 * * * *"]),
    timezone=st.sampled_from(["UTC", "Europe/Berlin"]),
    window=_DURATIONS,
    max_run_time=st.none() | _DURATIONS,
    duplicates=st.sampled_from(list(Duplicates)),
    retry=st.builds(RetryPolicy, st.integers(0, 144), _DURATIONS),
    notify=st.lists(_RULES, max_size=2).map(tuple),
    enabled=st.booleans(),
    description=st.text(max_size=20),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_DEFINITIONS, max_size=3, unique_by=lambda d: d.name))
def test_definitions_round_trip_through_toml(found: list[JobDefinition]) -> None:
    defs = Definitions(jobs={d.name: d for d in found}, source="jobs.toml")
    text = tomli_w.dumps(definitions_to_toml(defs))
    assert parse_definitions(text, "jobs.toml").jobs == defs.jobs


def _definition(name: str = "nightly", **fields: object) -> JobDefinition:
    return JobDefinition(name=name, source="/srv/data", target="lib1", **fields)  # type: ignore[arg-type]


def test_create_edit_delete_round_trip(tmp_path: Path) -> None:
    store = DefinitionsStore(tmp_path / "conf" / "jobs.toml")
    assert store.load().jobs == {}
    store.create(_definition(schedule="0 22 * * *"))
    assert store.get("nightly").schedule == "0 22 * * *"
    assert os.stat(store.path).st_mode & 0o777 == 0o600
    with pytest.raises(DefinitionExists, match="already exists"):
        store.create(_definition())
    store.replace(_definition(schedule="30 23 * * *", window=timedelta(hours=1)))
    assert store.get("nightly").window == timedelta(hours=1)
    store.create(_definition("weekly", level=Level.FULL))
    assert list(store.load().jobs) == ["nightly", "weekly"]
    assert store.delete("nightly").schedule == "30 23 * * *"
    assert list(store.load().jobs) == ["weekly"]
    with pytest.raises(UnknownDefinition):
        store.delete("nightly")
    with pytest.raises(UnknownDefinition):
        store.replace(_definition("ghost"))
    assert [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_file_with_a_mistake_is_never_overwritten(tmp_path: Path) -> None:
    store = DefinitionsStore(tmp_path / "jobs.toml")
    broken = BASE + 'window = "soon"\n# the administrator was editing this\n'
    store.path.write_text(broken)
    with pytest.raises(DefinitionError, match=r"jobs\.n\.window"):
        store.create(_definition("other"))
    with pytest.raises(DefinitionError):
        store.delete("n")
    assert store.path.read_text() == broken


def test_an_existing_files_mode_is_kept(tmp_path: Path) -> None:
    store = DefinitionsStore(tmp_path / "jobs.toml")
    store.path.write_text(BASE)
    store.path.chmod(0o640)
    store.create(_definition())
    assert os.stat(store.path).st_mode & 0o777 == 0o640


def test_concurrent_creates_all_land(tmp_path: Path) -> None:
    store = DefinitionsStore(tmp_path / "jobs.toml")
    names = [f"job{i}" for i in range(12)]
    threads = [
        threading.Thread(target=lambda n=n: DefinitionsStore(store.path).create(_definition(n)))
        for n in names
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(store.load().jobs) == sorted(names)


WRITER = r"""
import sys
from pathlib import Path
from engine.schedule.definitions import JobDefinition
from engine.schedule.store import DefinitionsStore
store = DefinitionsStore(Path(sys.argv[1]))
print("ready", flush=True)
i = 0
while True:
    i += 1
    text = "x" * (i % 9000)
    store.replace(JobDefinition(name="n", source="/srv", target="lib1", description=text))
"""


@pytest.mark.parametrize("seed", range(5))
def test_a_writer_killed_mid_write_leaves_a_whole_file(tmp_path: Path, seed: int) -> None:
    """A real process rewriting the file in a loop is SIGKILLed at an arbitrary moment (the
    seed varies it): the file always reads back whole, and the next write clears the debris."""
    store = DefinitionsStore(tmp_path / "jobs.toml")
    store.create(_definition("n"))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(store.path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(random.Random(seed).uniform(0.05, 0.4))  # varies where the kill lands
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    assert store.get("n").source == "/srv"
    store.create(_definition("m"))
    assert sorted(store.load().jobs) == ["m", "n"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
