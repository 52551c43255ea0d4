"""Reading a SQLite catalog at head through ``sqlite3`` alone, for ``tapir ls`` and ``tapir
browse``: importing SQLAlchemy costs more CPU than their queries on a catalog of a million files
(issue 5: a browse answers in under 1 s as a whole command).

``sqlite_reads(url)`` yields a ``FilesReader`` (engine/catalog/files_read.py: the same SQL text
``FilesStore`` runs through SQLAlchemy) when ``url`` (None: the default catalog) is a plain
``sqlite:///PATH`` naming an existing file stamped with ``HEAD_REVISION``. Otherwise — no file
yet, an older or newer schema, another database, a URL with options, a file SQLite cannot read
— it yields None and the caller opens the catalog as always (engine/catalog/db.py
``open_catalog``), which creates, migrates or refuses it with its own messages. Nothing is
written here: the connection only reads, each query in its own transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.catalog.files_read import FilesReader
from engine.catalog.head import (
    CATALOG_FILE,
    HEAD_REVISION,
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_SCHEME,
)
from engine.paths import data_dir


def sqlite_file(url: str | None) -> Path | None:
    """The file a plain ``sqlite:///PATH`` URL (None: the default catalog) names, else None
    (another database, an in-memory one, query options or escapes SQLAlchemy would decode)."""
    if url is None:
        return data_dir() / CATALOG_FILE
    if not url.startswith(SQLITE_SCHEME):
        return None
    rest = url[len(SQLITE_SCHEME) :]
    if not rest or rest == ":memory:" or any(c in rest for c in "?%#"):
        return None
    return Path(rest)


def _at_head(conn: sqlite3.Connection) -> bool:
    rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    return sorted(r[0] for r in rows) == [HEAD_REVISION]


@contextlib.contextmanager
def sqlite_reads(url: str | None) -> Iterator[FilesReader | None]:
    """A ``FilesReader`` straight on the SQLite file of ``url``, or None (module docstring);
    the connection is closed on the way out."""
    path = sqlite_file(url)
    if path is None or not path.is_file():  # connect() would create it
        yield None
        return
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
    except sqlite3.Error:
        yield None
        return
    try:
        try:
            conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            usable = _at_head(conn)
        except sqlite3.Error:  # not a database, no alembic_version: open_catalog says why
            usable = False
        if not usable:
            yield None
            return

        def query(sql: str, params: Mapping[str, Any]) -> list[Sequence[Any]]:
            return conn.execute(sql, params).fetchall()

        yield FilesReader(query)
    finally:
        conn.close()
