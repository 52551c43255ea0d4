"""``tapir library ...``: inventory, load, unload, move, import and export.

Element words (``move``, ``--ie``, ``unload``), numbered as ``mtx status`` numbers them:

    slot N     storage slot N, from 1 ("slot 3", "slot3" and "slot:3" are the same)
    ie N       import/export (mail) slot N, from 1
    drive N    drive element N, from 0; a drive's configured name ("drive0") works too
    NUMBER     a raw SMC element address, decimal or 0x hex ("4098", "0x1002")

A library is named by ``--library`` (``inventory`` takes it as an argument); without it, the
commands that name a cartridge use the library holding it, the others the first configured
library. A drive may also be given as ``LIB:DRIVE``, which names the library too.

Exit codes: 0 done; 1 the library or a drive refused (one sentence says why and what to do);
2 unknown library, drive, element or barcode, or a bad site configuration.
"""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from devices.library_inventory import ElementKind, LibraryElement, LibraryInventory
from devices.media import MediaStore
from devices.tape_library import TapeLibrary
from engine.cli.common import JsonOpt, LibraryOpt, open_site, print_json
from engine.site import Site
from engine.site_config import SiteError

app = typer.Typer(help="Operate tape libraries (changer and drives).", no_args_is_help=True)

KIND_LABELS = {
    ElementKind.SLOT: "Slot",
    ElementKind.IMPORT_EXPORT: "I/E",
    ElementKind.DRIVE: "Drive",
}
_WORD = re.compile(r"^(?P<kind>slot|ie|drive)[\s:]*(?P<number>\d+)$", re.IGNORECASE)
WORDS_HELP = '"slot N", "ie N", "drive N" (or its name), or an element address'


def element_label(element: LibraryElement) -> str:
    """ "Slot 3", "I/E 1", "Drive 0 (drive0)"."""
    label = f"{KIND_LABELS[element.kind]} {element.number}"
    return f"{label} ({element.drive})" if element.drive else label


def parse_element(text: str, inv: LibraryInventory) -> LibraryElement:
    """The element ``text`` names (see the module doc); SiteError when none matches."""
    words = text.strip()
    named = inv.drive(words.rpartition(":")[2])
    if named is not None:
        return named
    match = _WORD.match(words)
    try:
        if match is not None:
            kind, number = ElementKind(match["kind"].lower()), int(match["number"])
            group = {
                ElementKind.SLOT: inv.slots,
                ElementKind.IMPORT_EXPORT: inv.import_export,
                ElementKind.DRIVE: inv.drives,
            }[kind]
            found = next((e for e in group if e.number == number), None)
            if found is not None:
                return found
        else:
            return inv.at(int(words, 0))
    except (KeyError, ValueError):
        pass
    raise SiteError(
        f"Library {inv.library} has no element {text!r}: give {WORDS_HELP} "
        "(tapir library inventory lists them)."
    )


def library_holding(
    site: Site, barcode: str, name: str | None, *, store: MediaStore | None = None
) -> TapeLibrary:
    """The library ``name``, or (None) the configured library holding ``barcode``. ``store``
    is given to the library (and its drives) to record what they do to media."""
    if name is not None or len(site.config.libraries) <= 1:
        return site.library(name, store=store)
    for spec in site.config.libraries:
        library = site.library(spec.name, store=store)
        if library.inventory().find(barcode) is not None:
            return library
    names = ", ".join(s.name for s in site.config.libraries)
    raise SiteError(f"No library holds {barcode} (searched {names}): import it first.")


def split_drive(drive: str | None, library: str | None) -> tuple[str | None, str | None]:
    """(library, drive name) from ``--drive LIB:DRIVE`` or ``--drive DRIVE --library LIB``."""
    if drive is None or ":" not in drive:
        return library, drive
    lib, _, name = drive.rpartition(":")
    if library is not None and library != lib:
        raise SiteError(f"Drive {drive} is not in library {library}.")
    return lib, name


def inventory_table(inv: LibraryInventory) -> Table:
    """``mtx status`` as a table: drives, then slots, then I/E, with where each came from."""
    table = Table(title=f"Library {inv.library}")
    for column in ("Element", "Address", "Status", "Barcode", "From", "Notes"):
        table.add_column(column)
    for e in (*inv.drives, *inv.slots, *inv.import_export):
        source = ""
        if e.full and e.source is not None:
            try:
                source = element_label(inv.at(e.source))
            except KeyError:
                source = str(e.source)
        flags = (
            ("cleaning", e.cleaning),
            ("WORM", e.worm),
            ("imported", e.imported),
            ("no robot access", not e.access and e.kind is not ElementKind.DRIVE),
        )
        notes = [note for note, on in flags if on]
        if e.exception:
            notes.append(e.exception)
        table.add_row(
            element_label(e),
            str(e.address),
            "Full" if e.full else "Empty",
            e.barcode or "",
            source,
            ", ".join(notes),
        )
    return table


@app.command("inventory")
def inventory(
    library: Annotated[
        str | None, typer.Argument(help="Library name (default: the first).")
    ] = None,
    as_json: JsonOpt = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Re-read every element.")] = False,
) -> None:
    """Every slot, I/E slot and drive with its cartridge, like ``mtx status``."""
    with open_site() as site:
        inv = site.library(library).inventory(refresh=refresh)
    if as_json:
        print_json(inv.to_dict())
        return
    Console().print(inventory_table(inv))


@app.command("load")
def load(
    barcode: Annotated[str, typer.Argument(help="The cartridge's barcode.")],
    drive: Annotated[
        str | None,
        typer.Option("--drive", "-d", help="Drive name or LIB:DRIVE (default: a free one)."),
    ] = None,
    library: LibraryOpt = None,
) -> None:
    """Load a cartridge into a drive (cleaning the drive first if it asks for it)."""
    with open_site() as site:
        lib_name, drive_name = split_drive(drive, library)
        lib = library_holding(site, barcode, lib_name)
        tape = lib.mount(barcode, drive_name)
        typer.echo(f"{barcode} loaded in {lib.name}:{tape.name}")


@app.command("unload")
def unload(
    drive: Annotated[str, typer.Argument(help='Drive name, LIB:DRIVE or "drive N".')],
    library: LibraryOpt = None,
) -> None:
    """Unload a drive and put its cartridge back in its slot (or a free one)."""
    with open_site() as site:
        lib_name, name = split_drive(drive, library)
        lib = site.library(lib_name)
        element = parse_element(name or drive, lib.inventory())
        if element.kind is not ElementKind.DRIVE or element.drive is None:
            raise SiteError(f"{drive} is not a drive of library {lib.name}.")
        barcode = element.barcode
        lib.unmount(element.drive)
        home = lib.inventory().find(barcode) if barcode else None
        where = f" to {element_label(home)}" if home is not None else ""
        typer.echo(f"{barcode} unloaded from {lib.name}:{element.drive}{where}")


@app.command("move")
def move(
    source: Annotated[str, typer.Argument(help=f"Where from: {WORDS_HELP}.")],
    destination: Annotated[str, typer.Argument(help="Where to, in the same words.")],
    library: LibraryOpt = None,
) -> None:
    """Move a cartridge between two elements (MOVE MEDIUM); a drive is unloaded first."""
    with open_site() as site:
        lib = site.library(library)
        inv = lib.inventory()
        src, dst = parse_element(source, inv), parse_element(destination, inv)
        if src.kind is ElementKind.DRIVE and src.drive and src.full:
            lib.drives[src.drive].unload()  # the robot can only take an unloaded cartridge
        lib.move(src.address, dst.address)
        typer.echo(
            f"{src.barcode or 'cartridge'} moved from {element_label(src)} to {element_label(dst)}"
        )


@app.command("import")
def import_command(
    ie: Annotated[
        int | None,
        typer.Option(
            "--ie", help="Only this I/E slot (from 1); default: every slot an operator filled."
        ),
    ] = None,
    library: LibraryOpt = None,
) -> None:
    """Move the cartridges an operator put into the I/E (mail) slots into free slots."""
    with open_site() as site:
        lib = site.library(library)
        address = None
        if ie is not None:
            address = parse_element(f"ie {ie}", lib.inventory()).address
        moved = lib.import_media(address)
        inv = lib.inventory()
        for barcode in moved:
            home = inv.find(barcode)
            typer.echo(f"{barcode} imported to {element_label(home) if home else '?'}")
        if not moved:
            waiting = [e for e in inv.import_export if e.full]
            hint = "".join(
                f"; {element_label(e)} holds {e.barcode} (tapir library import --ie {e.number} "
                "takes it back)"
                for e in waiting
            )
            typer.echo(f"nothing to import in {lib.name}{hint}")


@app.command("export")
def export(
    barcode: Annotated[str, typer.Argument(help="The cartridge's barcode.")],
    library: LibraryOpt = None,
) -> None:
    """Move a cartridge (unloading it first if it is in a drive) to a free I/E slot."""
    with open_site() as site:
        lib = library_holding(site, barcode, library)
        address = lib.export_media(barcode)
        element = lib.inventory().at(address)
        typer.echo(f"{barcode} exported to {element_label(element)} of {lib.name}")
