"""``tapir catalog rebuild --from-media VOLUME...``: rebuild the catalog's jobs, runs, sessions
and files from the labels and session indexes on tapes (by barcode) and disk volumes (a volume
file or a mount path directory, by path) — engine/restore/from_media.py ``rebuild``.

Exit codes: 0 every session found was catalogued (or already was); 1 some sessions or parts
could not be (listed); 2 a volume is not tapir media or of a newer format (nothing changed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from engine.cli.common import ACTOR, CatalogOpt, JsonOpt, open_site, print_json
from engine.cli.errors import fail

app = typer.Typer(help="The catalog: rebuild it from media.", no_args_is_help=True)


def split_volumes(volumes: list[str]) -> tuple[list[str], list[Path]]:
    """Barcodes, and disk volumes (anything with a '/' or naming an existing path)."""
    tapes, paths = [], []
    for v in volumes:
        if "/" in v or os.path.exists(v):
            paths.append(Path(v))
        else:
            tapes.append(v)
    return tapes, paths


@app.command("rebuild")
def rebuild(
    volumes: Annotated[
        list[str], typer.Argument(help="Barcodes of tapes, or paths of disk volumes.")
    ],
    from_media: Annotated[
        bool, typer.Option("--from-media", help="Read the volumes' labels and session indexes.")
    ] = False,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """Rebuild jobs, runs, sessions and files from the session indexes on the volumes."""
    from engine.catalog.media_scan import ScanRefused
    from engine.restore.from_media import rebuild as run

    if not from_media:
        fail("say where to rebuild from: tapir catalog rebuild --from-media BARCODE|PATH...")
    tapes, paths = split_volumes(volumes)
    with open_site(catalog) as site:
        try:
            report = run(site, tapes, paths, actor=ACTOR)
        except ScanRefused as exc:
            fail(f"{exc} The catalog was not changed.")
    if as_json:
        print_json(report.to_dict())
    else:
        for line in report.catalogued:
            typer.echo(f"catalogued: {line}")
        for line in report.skipped:
            typer.echo(f"skipped: {line}")
        typer.echo(f"{len(report.catalogued)} session(s), {report.files} files catalogued")
    for line in report.problems:
        typer.echo(f"tapir: {line}", err=True)
    raise typer.Exit(1 if report.problems else 0)
