"""Shared fixtures: a fresh SQLite catalog file per test, and the stores on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.catalog.db import Catalog, open_catalog
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import JobState


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.sqlite'}"


@pytest.fixture
def catalog(db_url: str) -> Iterator[Catalog]:
    cat = open_catalog(db_url)
    yield cat
    cat.close()


@pytest.fixture
def jobs(catalog: Catalog) -> JobsStore:
    return JobsStore(catalog)


@pytest.fixture
def files(catalog: Catalog) -> FilesStore:
    return FilesStore(catalog)


@pytest.fixture
def job(jobs: JobsStore) -> int:
    """A running backup job."""
    job = jobs.create_job("backup", "data", {"source": "/srv/data"})
    jobs.transition(job, JobState.QUEUED, actor="t", reason="q")
    jobs.transition(job, JobState.RUNNING, actor="t", reason="r")
    return job
