"""``tapir media show BARCODE``: one medium's state with its reason and history, its error
history, where it is now, and its cartridge memory (MAM).

Where: every configured library's inventory is searched (slot, drive, I/E slot), else the
cartridge is "outside every library". A library that cannot be asked is reported in the
output, not as a failure: the catalog half of the answer is still worth showing.

MAM (SPC-4 7.4 READ ATTRIBUTE) is read through a drive, so it is shown when the cartridge is
in one; ``--mam`` mounts a cartridge that is in a slot to read it, then returns it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from devices.errors import DeviceError, describe
from devices.library_inventory import ElementKind, LibraryElement
from devices.media import MediaError, MediaState, Medium, StateChange
from devices.tape_library import TapeLibrary
from drivers.errors import ScsiError
from drivers.ssc_data import CartridgeMemory
from drivers.transport.contract import TransportError
from engine.cli.common import CatalogOpt, JsonOpt, open_site, print_json
from engine.site import Site
from engine.site_config import SiteError
from hwsim.library import StateError

DEVICE_FAILURES = (DeviceError, ScsiError, TransportError, StateError, OSError)
RELABEL = "tapir media label {barcode} --force (erases it)"
ADVICE: dict[MediaState, str] = {
    MediaState.SCRATCH: "Holds nothing kept; the next backup of its pool may write it.",
    MediaState.APPENDABLE: "Holds sessions; backups of its pool append to it. Restores read it.",
    MediaState.FULL: "Reached its end (or was closed after a write error); no more sessions. "
    "Every session on it may be restored from.",
    MediaState.READ_ONLY: "Write-protected or set read-only: restores only.",
    MediaState.SUSPECT: "Its end of data is not trustworthy (power lost or drive lost while "
    "writing): never appended to again. Files the catalog lists on it were flushed before "
    "the loss and may still be restored from it (tapir restore). To reuse it: "
    + RELABEL
    + ", after restoring or copying what you need.",
    MediaState.FROZEN: "Failed repeatedly: kept out of writing. What the catalog lists may "
    "still be restored from it; copy it elsewhere, then retire it or " + RELABEL + ".",
    MediaState.RETIRED: "Out of service for good; only restores of what it still holds.",
    MediaState.CLEANING: "A cleaning cartridge; the library uses it to clean drives.",
}
"""What each state means for backups and restores, and what the administrator can do."""


@dataclass
class Whereabouts:
    """Where a cartridge is: the library and element, or nowhere; notes on libraries that
    could not be asked."""

    library: TapeLibrary | None = None
    element: LibraryElement | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        from engine.cli.library import element_label

        if self.library is None or self.element is None:
            return "outside every library"
        e = self.element
        return f"{self.library.name} {element_label(e)}, address {e.address}"

    def to_dict(self) -> dict[str, Any]:
        if self.library is None or self.element is None:
            return {"library": None, "element": None, "notes": self.notes}
        e = self.element
        return {
            "library": self.library.name,
            "element": {
                "kind": e.kind.value,
                "number": e.number,
                "address": e.address,
                "drive": e.drive,
            },
            "notes": self.notes,
        }


def locate(site: Site, barcode: str) -> Whereabouts:
    found = Whereabouts()
    for spec in site.config.libraries:
        try:
            library = site.library(spec.name)
            element = library.inventory().find(barcode)
        except DEVICE_FAILURES as exc:
            found.notes.append(f"library {spec.name} could not be asked: {describe(exc)}")
            continue
        if element is not None:
            found.library, found.element = library, element
            return found
    return found


def read_mam(
    where: Whereabouts, barcode: str, *, mount: bool
) -> tuple[CartridgeMemory | None, str]:
    """Cartridge memory, or None and why not."""
    lib, element = where.library, where.element
    if lib is None or element is None:
        return None, "not in a library"
    try:
        if element.kind is ElementKind.DRIVE and element.drive:
            driver = lib.drives[element.drive].driver
            driver.drain_unit_attentions()  # a reset or a load since the last command
            return driver.cartridge_memory(), ""
        if element.kind is ElementKind.IMPORT_EXPORT:
            return None, "in an I/E slot: import it to read its cartridge memory"
        if not mount:
            return None, "in a slot: --mam loads it to read its cartridge memory"
        tape = lib.mount(barcode)
        try:
            return tape.driver.cartridge_memory(), ""
        finally:
            lib.unmount(tape.name)
    except DEVICE_FAILURES as exc:
        return None, describe(exc)


def history_table(history: list[StateChange]) -> Table:
    table = Table(title="State history")
    for column in ("At", "From", "To", "Reason", "By"):
        table.add_column(column)
    for c in history:
        table.add_row(
            c.at.strftime("%Y-%m-%d %H:%M:%S"),
            c.old.value if c.old else "-",
            c.new.value,
            c.reason,
            c.actor,
        )
    return table


def errors_table(errors: list[MediaError]) -> Table:
    table = Table(title="Errors")
    for column in ("At", "Drive", "Kind", "Block", "Detail"):
        table.add_column(column)
    for e in errors:
        block = "" if e.block is None else str(e.block)
        table.add_row(e.at.strftime("%Y-%m-%d %H:%M:%S"), e.drive, e.kind.value, block, e.detail)
    return table


def summary_table(
    barcode: str,
    medium: Medium | None,
    where: Whereabouts,
    mam: CartridgeMemory | None,
    mam_note: str,
) -> Table:
    table = Table(show_header=False, box=None, title=f"Medium {barcode}")
    table.add_column(style="bold")
    table.add_column()
    if medium is None:
        table.add_row("catalog", "not in the catalog (tapir media label registers it)")
    else:
        since = medium.state_since.strftime("%Y-%m-%d %H:%M")
        table.add_row("state", f"{medium.state.value} since {since}: {medium.state_reason}")
        table.add_row("meaning", ADVICE[medium.state].format(barcode=barcode))
        table.add_row("pool", medium.pool)
        table.add_row("media type", medium.media_type)
        table.add_row("volume uuid", medium.volume_uuid or "")
        table.add_row("written", f"{medium.files_written} files, {medium.bytes_written} bytes")
    table.add_row("location", where.describe())
    for note in where.notes:
        table.add_row("", f"[yellow]{note}[/yellow]")
    if mam is not None:
        for key, value in dataclasses.asdict(mam).items():
            if value is not None:
                table.add_row(f"MAM {key.replace('_', ' ')}", str(value))
    elif mam_note:
        table.add_row("MAM", mam_note)
    return table


def show(
    barcode: Annotated[str, typer.Argument(help="The cartridge's barcode.")],
    as_json: JsonOpt = False,
    mam: Annotated[
        bool, typer.Option("--mam", help="Load the cartridge if needed to read its MAM.")
    ] = False,
    catalog: CatalogOpt = None,
) -> None:
    """State with reason and history, errors, location and cartridge memory of one medium."""
    from engine.cli.media import medium_dict

    with open_site(catalog) as site:
        store = site.media_store()
        medium = store.get_medium(barcode)
        history = store.state_history(barcode) if medium else []
        errors = store.list_errors(barcode=barcode) if medium else []
        where = locate(site, barcode)
        if medium is None and where.element is None:
            searched = ", ".join(s.name for s in site.config.libraries) or "none configured"
            raise SiteError(
                f"Medium {barcode} is neither in the catalog nor in any library "
                f"(searched {searched}); check the barcode."
            )
        memory, mam_note = read_mam(where, barcode, mount=mam)
        copies = copies_on(site.catalog(), barcode)
    if as_json:
        print_json(
            {
                "barcode": barcode,
                "medium": medium_dict(medium) if medium else None,
                "meaning": ADVICE[medium.state].format(barcode=barcode) if medium else None,
                "history": [
                    {
                        **dataclasses.asdict(c),
                        "old": c.old.value if c.old else None,
                        "new": c.new.value,
                    }
                    for c in history
                ],
                "errors": [{**dataclasses.asdict(e), "kind": e.kind.value} for e in errors],
                "location": where.to_dict(),
                "mam": dataclasses.asdict(memory) if memory else None,
                "mam_note": mam_note or None,
                "copies": copies,
            }
        )
        return
    console = Console()
    console.print(summary_table(barcode, medium, where, memory, mam_note))
    if history:
        console.print(history_table(history))
    if errors:
        console.print(errors_table(errors))
    for c in copies:
        state = "" if c["usable"] else " (unfinished: never read)"
        console.print(
            f"Tape file {c['tape_file']}: copy {c['copy']} of session {c['session']} "
            f"(backup run id {c['run']}, part {c['part']}), written by copy job "
            f"{c['copy_job']}{state}"
        )


def copies_on(catalog: Any, barcode: str) -> list[dict[str, Any]]:
    """The copy parts (tapir copy) this medium holds, usable or not."""
    from engine.catalog.copies_store import CopiesStore

    return [
        {
            "session": c.session_id,
            "run": c.run_id,
            "copy": c.copy,
            "part": c.seq,
            "tape_file": c.tape_file,
            "records": c.record_count,
            "usable": c.usable,
            "copy_job": c.job_id,
        }
        for c in CopiesStore(catalog).on_volume(barcode)
    ]
