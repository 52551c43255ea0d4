"""``tapir drive status DRIVE``: what one tape drive says about itself.

DRIVE is ``LIB:DRIVE`` ("lib1:drive0"), a standalone drive's name from the site
configuration, a drive name only one library has ("drive0"), or an endpoint ("/dev/sg3",
"hwsim:/path/to/state#drive0"); engine/site.py resolves it.

Reading TapeAlert (LOG SENSE 0x2E) clears the flags whose cause is gone, as on every drive: the
flags shown are those set since the last read.

Exit codes: 0 the drive answered (ready or not); 1 it did not answer; 2 unknown drive or bad
configuration.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from devices.drive_values import DriveState
from devices.tape_drive import TapeDrive
from devices.tapealert_actions import actions_for
from engine.cli.common import JsonOpt, open_site, print_json
from engine.cli.errors import EXIT_REFUSED, fail

app = typer.Typer(help="Look at tape drives.", no_args_is_help=True)

DriveArg = Annotated[
    str, typer.Argument(help="lib1:drive0, a configured drive name, or an endpoint (/dev/sg3).")
]


def state_dict(state: DriveState, library_barcode: str | None) -> dict[str, Any]:
    """The JSON form: the drive's fields, the TapeAlert actions, the barcode the library
    inventory shows in the drive element (``library_barcode``, None outside a library)."""
    actions = actions_for(state.tapealert_flags)
    return {
        **dataclasses.asdict(state),
        "tapealert_actions": [a.action.value for a in actions],
        "library_barcode": library_barcode,
    }


def state_table(state: DriveState, library_barcode: str | None) -> Table:
    table = Table(show_header=False, box=None, title=f"Drive {state.name}")
    table.add_column(style="bold")
    table.add_column()
    identity = " ".join(p for p in (state.vendor, state.model, state.revision) if p)
    table.add_row("identity", identity or "?")
    table.add_row("serial", state.serial or "?")
    if state.ready:
        table.add_row("ready", "yes")
    else:
        table.add_row("ready", f"no ({state.not_ready_reason or 'not answering'})")
    barcode = state.barcode or library_barcode
    table.add_row("loaded", barcode or "no cartridge")
    table.add_row("position", "" if state.position is None else f"block {state.position}")
    if state.block_size is not None:
        size = "variable" if state.block_size == 0 else f"fixed {state.block_size} bytes"
        table.add_row("block size", size)
    flags = ", ".join(
        f"{name} ({flag:02X}h)"
        for flag, name in zip(state.tapealert_flags, state.tapealerts, strict=True)
    )
    table.add_row("TapeAlert", flags or "none")
    actions = ", ".join(a.action.value for a in actions_for(state.tapealert_flags))
    if actions:
        table.add_row("actions", actions)
    table.add_row("cleaning", "needed" if state.cleaning_needed else "not requested")
    if state.early_warning:
        table.add_row("early warning", "yes: the cartridge is nearly full")
    if state.error:
        table.add_row("error", f"[red]{state.error}[/red]")
    return table


@app.command("status")
def status(drive: DriveArg, as_json: JsonOpt = False) -> None:
    """TapeAlert flags, position, block size and the loaded cartridge of one drive."""
    with open_site() as site:
        name, transport, library = site.resolve_drive(drive)
        state = TapeDrive(name, transport).status()
        library_barcode = None
        if library is not None and state.error is None:
            element = site.library(library.name).inventory().drive(name.rpartition(":")[2])
            library_barcode = element.barcode if element is not None else None
    if as_json:
        print_json(state_dict(state, library_barcode))
    else:
        Console().print(state_table(state, library_barcode))
    if state.error:
        fail(state.error, EXIT_REFUSED)
