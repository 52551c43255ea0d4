"""What the device, library and media commands share: options, opening the site, JSON output.

``open_site`` loads the site configuration (engine/site_config.py) and yields an
``engine.site.Site`` inside ``friendly_errors``, so every failure, including those while the
site closes (an in-process simulated library saving its state), ends as one line on stderr.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from engine.cli.errors import friendly_errors
from engine.site import Site
from engine.site_config import load_site_config

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
    with friendly_errors():
        config = load_site_config()
        with Site(config, catalog_url=catalog) as site:
            yield site


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))
