"""Opening the catalog: engine setup, SQLite pragmas, and migrations to head on every open.

``open_catalog(None)`` uses SQLite at ``<data dir>/catalog.sqlite`` (engine/paths.py), creating
the directory. SQLite runs in WAL mode (readers never block the writer, and a crash never loses
committed transactions) with foreign keys on and a busy timeout, so several tapir processes on
one host can share it. Any other SQLAlchemy URL (PostgreSQL for a shared catalog) is used as is.

Migrations run programmatically (alembic.command.upgrade with a ``Config`` built here; no
alembic.ini at runtime). The migrations folder ships as package data next to this module. A
database whose revision this code does not know was written by a newer tapir: opening it is
refused with ``CatalogTooNew`` rather than risk writing rows the newer schema does not expect.

Opening is on the path of every command (``tapir ls`` must answer in well under a second), and
importing alembic costs more than the query itself. So ``open_catalog`` first reads
``alembic_version`` with one plain query and compares it with ``HEAD_REVISION``; only a database
that is new, older or newer goes through alembic (imported then). ``HEAD_REVISION`` is a constant
(engine/catalog/head.py) so that the check needs no alembic; tests/engine/test_catalog.py checks
it against alembic's script directory, so it cannot drift from the migrations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.catalog.head import HEAD_REVISION, SQLITE_PRAGMAS, default_url
from engine.paths import data_dir

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class CatalogError(Exception):
    """The catalog cannot be opened or used; the message is one sentence for the user."""

    code = "catalog.error"


class CatalogTooNew(CatalogError):
    code = "catalog.too_new"


def _is_sqlite(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite"


WRITE_LOCK_OPTION = "tapir_write_lock"
"""Execution option: this transaction will write, so SQLite takes the write lock at BEGIN."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling starts transactions late and runs DDL outside them;
    # turn it off and let _sqlite_begin issue BEGIN (SQLAlchemy's documented pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    """BEGIN IMMEDIATE for writers: waiting for the lock up front (busy timeout) instead of
    failing when a read transaction cannot be upgraded because another process wrote."""
    immediate = conn.get_execution_options().get(WRITE_LOCK_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest schema revision this code knows, from alembic's script directory."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "no catalog migrations found"
    return head


def database_revisions(engine: sa.Engine) -> tuple[str, ...]:
    """The revision(s) the database is stamped with (empty for a new database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return tuple(MigrationContext.configure(conn).get_current_heads())


class Catalog:
    """An open catalog: the SQLAlchemy engine plus its display URL.

    One per process is enough (the engine pools connections); safe to share between threads.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A transaction that writes: committed on success, rolled back on an exception. On
        SQLite it holds the database write lock from its start, so writers queue (up to the busy
        timeout) instead of failing midway."""
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_LOCK_OPTION: True})
            with conn.begin():
                yield conn

    def read(self) -> sa.Connection:
        """A connection for reading (use as a context manager)."""
        return self.engine.connect()

    def revision(self) -> tuple[str, ...]:
        return database_revisions(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_not_newer(conn: sa.Connection, shown: str) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    scripts = ScriptDirectory.from_config(_alembic_config())
    for rev in MigrationContext.configure(conn).get_current_heads():
        try:
            known = scripts.get_revision(rev)
        except (RevisionError, CommandError):  # alembic wraps unknown ids in CommandError
            known = None
        if known is None:
            raise CatalogTooNew(
                f"The catalog {shown} has schema revision {rev}, which this tapir does not know "
                f"(newest known: {head_revision()}); it was written by a newer tapir: "
                "upgrade tapir or use another catalog."
            )


def open_catalog(url: str | None = None) -> Catalog:
    """Open (creating if needed) and upgrade the catalog at ``url`` or the default location.

    Raises ``CatalogTooNew`` for a database from a newer tapir and ``CatalogError`` when the
    database cannot be reached or migrated.
    """
    if url is None:
        data_dir().mkdir(parents=True, exist_ok=True)
        url = default_url()
    try:
        parsed = sa.make_url(url)
        engine = sa.create_engine(parsed)
    except sa.exc.ArgumentError as exc:  # NoSuchModuleError too: a dialect nobody installed
        raise CatalogError(f"The catalog URL {url!r} is not a valid SQLAlchemy URL.") from exc
    if _is_sqlite(parsed):
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    shown = parsed.render_as_string(hide_password=True)
    catalog = Catalog(engine)
    if _stamped(engine) == (HEAD_REVISION,):
        return catalog
    try:
        from alembic import command

        # One write transaction: processes opening a new catalog at once migrate it once.
        with catalog.write() as conn:
            _check_not_newer(conn, shown)
            command.upgrade(_alembic_config(conn), "head")
    except CatalogError:
        engine.dispose()
        raise
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        raise CatalogError(f"Cannot open the catalog {shown}: {_short(exc)}.") from exc
    return catalog


def _stamped(engine: sa.Engine) -> tuple[str, ...] | None:
    """The revisions in ``alembic_version`` read with one query, without alembic; None when
    the table cannot be read (a new database, or one that cannot be reached: the migration
    path then creates it or reports the error)."""
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
            return tuple(sorted(rows))
    except sa.exc.DBAPIError:
        return None


def _short(exc: sa.exc.SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig) if orig is not None else str(exc).splitlines()[0]
