"""``tapir media list|label|show``: the media the catalog knows, and labeling new ones.

``label`` mounts the cartridge (``TapeLibrary.mount``), writes the volume label at BOT
(``TapeDrive.write_label``: refuses to overwrite anything but a blank tape without ``--force``),
which records the medium in the catalog as scratch in the pool (devices/drive_media.py), then
returns the cartridge to its slot. The catalog is checked first, so a medium the catalog says
holds data is not relabeled without ``--force`` even if its tape looks blank, and retired or
cleaning media are never labeled.

``show`` (engine/cli/media_show.py) reports the catalog's view and where the cartridge is.

Exit codes: 0 done; 1 refused (labeled tape without --force, a device refused); 2 unknown
barcode or library, bad configuration or catalog.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from devices.label import DEFAULT_RECORD_SIZE, new_label
from devices.library_inventory import ElementKind
from devices.media import IllegalTransition, MediaState, MediaStore, Medium
from engine.cli import media_show
from engine.cli.common import CatalogOpt, JsonOpt, LibraryOpt, open_site, print_json
from engine.cli.errors import fail
from engine.cli.library import element_label, library_holding

app = typer.Typer(
    help="Media (cartridges) in the catalog: list, label, show.", no_args_is_help=True
)
app.command("show")(media_show.show)

LTO_GENERATIONS = {f"L{n}": f"LTO-{n}" for n in range(1, 10)}
LTO_WORM = {"LT": 3, "LU": 4, "LV": 5, "LW": 6, "LX": 7, "LY": 8, "LZ": 9}
"""LTO barcode labels end in a two-character media identifier (LTO Ultrium label spec)."""
LTO_TYPE_M = {"M8": "LTO-7 Type M"}
NEVER_LABELED = frozenset({MediaState.RETIRED, MediaState.CLEANING})


def media_type_for(barcode: str) -> str | None:
    """The media type an LTO barcode names ("TAP001L8" -> "LTO-8"), or None."""
    suffix = barcode[-2:].upper()
    if suffix in LTO_GENERATIONS:
        return LTO_GENERATIONS[suffix]
    if suffix in LTO_WORM:
        return f"LTO-{LTO_WORM[suffix]} WORM"
    return LTO_TYPE_M.get(suffix)


def medium_dict(m: Medium) -> dict[str, object]:
    return {
        "barcode": m.barcode,
        "pool": m.pool,
        "media_type": m.media_type,
        "state": m.state.value,
        "state_reason": m.state_reason,
        "state_actor": m.state_actor,
        "state_since": m.state_since.isoformat(),
        "volume_uuid": m.volume_uuid,
        "files_written": m.files_written,
        "bytes_written": m.bytes_written,
    }


def media_table(media: list[Medium]) -> Table:
    table = Table(title="Media")
    for column in ("Barcode", "Pool", "Type", "State", "Since", "Reason", "Written"):
        table.add_column(column)
    for m in media:
        table.add_row(
            m.barcode,
            m.pool,
            m.media_type,
            m.state.value,
            m.state_since.strftime("%Y-%m-%d %H:%M"),
            m.state_reason,
            f"{m.files_written} files, {m.bytes_written} bytes",
        )
    return table


@app.command("list")
def list_command(
    pool: Annotated[str | None, typer.Option("--pool", help="Only this pool.")] = None,
    state: Annotated[
        list[MediaState] | None, typer.Option("--state", help="Only this state (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """The media the catalog knows, by barcode."""
    with open_site(catalog) as site:
        media = site.media_store().list_media(pool=pool, states=state or None)
    if as_json:
        print_json([medium_dict(m) for m in media])
        return
    if not media:
        typer.echo("no media match" if pool or state else "the catalog holds no media yet")
        return
    Console().print(media_table(media))


def check_catalog_allows(store: MediaStore, barcode: str, *, force: bool) -> None:
    """Refuse labeling what the catalog says must not be (before the tape is touched)."""
    medium = store.get_medium(barcode)
    if medium is None or medium.state is MediaState.SCRATCH:
        return
    if medium.state in NEVER_LABELED:
        raise IllegalTransition(
            f"Medium {barcode} is {medium.state.value} in the catalog; it cannot be labeled."
        )
    if not force:
        raise IllegalTransition(
            f"Medium {barcode} is {medium.state.value} in the catalog (pool {medium.pool}); "
            "labeling would discard what is on it: use --force to relabel."
        )


@app.command("label")
def label(
    barcode: Annotated[str, typer.Argument(help="The cartridge's barcode.")],
    pool: Annotated[
        str | None,
        typer.Option("--pool", help="Pool (default: the library's, else default_pool)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a labeled or written tape.")
    ] = False,
    drive: Annotated[
        str | None, typer.Option("--drive", "-d", help="Drive to use (default: a free one).")
    ] = None,
    media_type: Annotated[
        str | None,
        typer.Option("--media-type", help="Media type (default: from the barcode, e.g. LTO-8)."),
    ] = None,
    record_size: Annotated[
        int, typer.Option("--record-size", help="Bytes per tape block for this volume.")
    ] = DEFAULT_RECORD_SIZE,
    library: LibraryOpt = None,
    catalog: CatalogOpt = None,
) -> None:
    """Write the volume label and record the medium as scratch in the catalog."""
    kind = media_type or media_type_for(barcode)
    if kind is None:
        fail(f"cannot tell the media type of {barcode} from its barcode: give --media-type")
    with open_site(catalog) as site:
        store = site.media_store()
        check_catalog_allows(store, barcode, force=force)
        lib = library_holding(site, barcode, library, store=store)
        spec = site.config.library(lib.name)
        pool_name = pool or site.config.pool_for(spec)
        was = lib.inventory().find(barcode)
        tape = lib.mount(barcode, drive.rpartition(":")[2] if drive else None)
        vol = new_label(barcode, pool_name, kind, record_size=record_size)
        try:
            tape.write_label(vol, force=force)
        except BaseException:
            if was is not None and was.kind is not ElementKind.DRIVE:
                with contextlib.suppress(Exception):  # the label error is the one to report
                    lib.unmount(tape.name)
            raise
        back = ""
        if was is not None and was.kind is not ElementKind.DRIVE:
            lib.unmount(tape.name)
            home = lib.inventory().find(barcode)
            back = f"; back in {element_label(home)}" if home is not None else ""
        medium = store.get_medium(barcode)
        state = medium.state.value if medium is not None else "?"
    typer.echo(
        f"{barcode} labeled in {lib.name}:{tape.name} (pool {pool_name}, {kind}, "
        f"uuid {vol.uuid}): {state}{back}"
    )
