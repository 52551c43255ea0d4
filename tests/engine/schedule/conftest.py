"""Shared fixtures: a fresh catalog, a definitions file, a manual clock and a scheduler."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.catalog.db import Catalog, open_catalog
from engine.catalog.jobs_store import JobsStore
from engine.manager.clock import ManualClock
from engine.schedule.scheduler import Scheduler
from engine.schedule.store import DefinitionsStore

START = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)
"""A Monday, an hour before the nightly jobs of these tests are due."""


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler's and notifier's state files go to the data directory: the test's."""
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    cat = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    yield cat
    cat.close()


@pytest.fixture
def jobs(catalog: Catalog) -> JobsStore:
    return JobsStore(catalog)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def store(tmp_path: Path) -> DefinitionsStore:
    return DefinitionsStore(tmp_path / "jobs.toml")


@pytest.fixture
def write_defs(store: DefinitionsStore) -> Callable[[str], None]:
    def write(text: str) -> None:
        store.path.write_text(text)

    return write


@pytest.fixture
def scheduler(catalog: Catalog, store: DefinitionsStore, clock: ManualClock) -> Scheduler:
    return Scheduler(catalog, store, clock=clock)
