"""What the device, library and media commands share: options, opening the site, JSON output.

``open_site`` loads the site configuration (engine/site_config.py) and yields an
``engine.site.Site`` inside ``friendly_errors``, so every failure, including those while the
site closes (an in-process simulated library saving its state), ends as one line on stderr.
``open_catalog_of`` is the same for commands that read only the catalog (``tapir jobs``): it
does not import the devices, drivers and simulator a ``Site`` can open, which would cost such a
command most of its start-up time; ``open_file_reads`` (``tapir ls``, ``tapir browse``) does
not import SQLAlchemy either when the catalog is a SQLite file at head.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from engine.cli.errors import friendly_errors
from engine.site_config import load_site_config

if TYPE_CHECKING:
    from engine.catalog.db import Catalog
    from engine.catalog.files_read import FileReads
    from engine.site import Site

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CatalogOpt = Annotated[
    str | None,
    typer.Option(
        "--catalog",
        help="Catalog URL (SQLAlchemy); default: the site configuration's, else "
        "<data dir>/catalog.sqlite.",
    ),
]
LibraryOpt = Annotated[
    str | None,
    typer.Option(
        "--library",
        "-l",
        help="Library name (default: the one holding the cartridge, or the first configured).",
    ),
]

ACTOR = "tapir-cli"
"""Recorded as the actor of state changes made from the command line."""


@contextlib.contextmanager
def open_site(catalog: str | None = None) -> Iterator[Site]:
    """The configured site for one command; closed (and saved) on the way out."""
    from engine.site import Site

    with friendly_errors():
        config = load_site_config()
        with Site(config, catalog_url=catalog) as site:
            yield site


@contextlib.contextmanager
def open_catalog_of(catalog: str | None = None) -> Iterator[Catalog]:
    """The catalog ``open_site(catalog).catalog()`` would open (``--catalog``, else the site
    configuration's, else the default), without the rest of the site; closed on the way out."""
    with friendly_errors():
        url = catalog or load_site_config().catalog
        from engine.catalog.db import open_catalog

        with open_catalog(url) as opened:
            yield opened


@contextlib.contextmanager
def open_file_reads(catalog: str | None = None) -> Iterator[FileReads]:
    """What ``tapir ls`` and ``tapir browse`` read, on the catalog ``open_catalog_of`` would
    open: straight through sqlite3 for a SQLite catalog at head (engine/catalog/
    sqlite_reads.py: no SQLAlchemy to import), else through ``FilesStore``."""
    with friendly_errors():
        url = catalog or load_site_config().catalog
        from engine.catalog.sqlite_reads import sqlite_reads

        with sqlite_reads(url) as reads:
            if reads is not None:
                yield reads
                return
    with open_catalog_of(url) as opened:
        from engine.catalog.files_store import FilesStore

        yield FilesStore(opened)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))
