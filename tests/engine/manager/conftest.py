"""Shared fixtures: a fresh SQLite catalog per test, a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.catalog.db import Catalog, open_catalog
from engine.catalog.jobs_store import JobsStore
from engine.manager.clock import ManualClock


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
    return ManualClock()
