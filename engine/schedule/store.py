"""The job definitions file: where it is, reading it, and changing it without ever losing it.

Place: the site configuration's ``job_definitions`` (engine/site_config.py; relative to the
configuration file), else ``<data dir>/jobs.toml`` (``$TAPIR_HOME``, engine/paths.py). A
missing file means no definitions.

Changes (``tapir job create|edit|delete``) go through ``DefinitionsStore.change``: under an
exclusive lock on ``.jobs.toml.lock`` beside the file (two commands at once both land), the
file is read and validated whole, so a hand-edited file with a mistake is refused, never
overwritten; the new content is written, read back and validated, then written to a temporary
file in the same directory, fsynced, and renamed over the old one (then the directory is
fsynced). A crash at any point leaves the old file or the new one, never a mix. The file is
rewritten from the parsed values: comments are not kept (edit by hand, or by command).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import tomli_w

from engine.paths import data_dir
from engine.schedule.definitions import Definitions, JobDefinition, definitions_to_toml
from engine.schedule.validate import parse_definitions
from engine.site_config import SiteConfig

DEFINITIONS_FILE = "jobs.toml"
NEW_FILE_MODE = 0o600
"""Webhook URLs often carry a token: the file is readable by its owner only, unless the
administrator chose otherwise (an existing file keeps its mode)."""


class UnknownDefinition(LookupError):
    code = "schedule.unknown"


class DefinitionExists(ValueError):
    code = "schedule.exists"


def definitions_path(config: SiteConfig | None = None) -> Path:
    """The site configuration's ``job_definitions``, else ``<data dir>/jobs.toml``."""
    if config is not None and config.job_definitions is not None:
        return config.job_definitions
    return data_dir() / DEFINITIONS_FILE


def write_atomic(path: Path, payload: bytes, mode: int = NEW_FILE_MODE) -> None:
    """Replace ``path`` with ``payload``: temp file + fsync + rename + directory fsync. An
    existing file keeps its permission bits."""
    with contextlib.suppress(FileNotFoundError):
        mode = path.stat().st_mode & 0o7777
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class DefinitionsStore:
    """The definitions file at ``path``. Reads take no lock (the file is only ever replaced
    whole); changes take the lock file's exclusive lock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Definitions:
        """The definitions; ``DefinitionError`` naming the file and field if it is invalid."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Definitions(source=str(self.path))
        return parse_definitions(text, str(self.path))

    def get(self, name: str) -> JobDefinition:
        found = self.load().get(name)
        if found is None:
            raise UnknownDefinition(
                f"No job definition {name!r} in {self.path}; see tapir job list."
            )
        return found

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, NEW_FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _save(self, defs: Definitions) -> None:
        payload = tomli_w.dumps(definitions_to_toml(defs)).encode()
        parse_definitions(payload.decode(), str(self.path))  # what is written reads back
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)  # left by a writer killed mid-write (we hold the lock)
        write_atomic(self.path, payload)

    def create(self, definition: JobDefinition) -> None:
        with self._locked():
            defs = self.load()
            if definition.name in defs.jobs:
                raise DefinitionExists(
                    f"Job definition {definition.name!r} already exists in {self.path}; "
                    "change it with tapir job edit."
                )
            self._save(_with_jobs(defs, {**defs.jobs, definition.name: definition}))

    def replace(self, definition: JobDefinition) -> None:
        """Put ``definition`` in place of the one with its name (which must exist)."""
        with self._locked():
            defs = self.load()
            if definition.name not in defs.jobs:
                raise UnknownDefinition(
                    f"No job definition {definition.name!r} in {self.path}; "
                    "create it with tapir job create."
                )
            self._save(_with_jobs(defs, {**defs.jobs, definition.name: definition}))

    def delete(self, name: str) -> JobDefinition:
        with self._locked():
            defs = self.load()
            if name not in defs.jobs:
                raise UnknownDefinition(f"No job definition {name!r} in {self.path}.")
            jobs = dict(defs.jobs)
            gone = jobs.pop(name)
            self._save(_with_jobs(defs, jobs))
            return gone


def _with_jobs(defs: Definitions, jobs: dict[str, JobDefinition]) -> Definitions:
    return Definitions(jobs=jobs, notify=defs.notify, source=defs.source)
