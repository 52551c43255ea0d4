"""Where the catalog is by default and which schema revision this code writes: what opening a
catalog needs to know before it imports SQLAlchemy (engine/catalog/db.py opens through it,
engine/catalog/sqlite_reads.py reads a SQLite catalog at head without it)."""

from __future__ import annotations

from engine.paths import data_dir

CATALOG_FILE = "catalog.sqlite"
HEAD_REVISION = "0006"
"""The newest migration in migrations/versions: bump it with every new migration (a test
compares it with alembic's head). A database stamped with it is opened without alembic."""
SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another process's write transaction before failing."""
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA synchronous=NORMAL",  # durable at checkpoints in WAL mode
)
"""Run on every SQLite connection that writes the catalog (db.py's engine, the staging
child of row_staging.py)."""
SQLITE_SCHEME = "sqlite:///"
"""The URL prefix of a SQLite file (``sqlite:////abs/path`` or ``sqlite:///rel/path``)."""


def default_url() -> str:
    return f"{SQLITE_SCHEME}{data_dir() / CATALOG_FILE}"
