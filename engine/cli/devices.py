"""``tapir devices scan``: the tape drives and changers this host can reach.

Two sources, one table: real devices found through udev (drivers/discovery: sysfs only,
nothing is opened), then every device the site configuration declares (libraries' changers and
drives, standalone drives, simulated libraries), each asked INQUIRY and VPD 0x80 through its
transport so the row shows who actually answers. A configured device that does not answer is
a row with its error, not a failed command: the scan is how an administrator finds out.

Exit codes: 0 done (even when some devices do not answer); 2 bad site configuration.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from devices.errors import describe
from drivers.discovery import DiscoveredChanger, DiscoveredDevice, scan
from drivers.errors import ScsiError
from drivers.spc import SpcDriver
from drivers.transport.contract import Transport, TransportError
from engine.cli.common import JsonOpt, open_site, print_json
from engine.cli.errors import transport_sentence
from engine.site import Site
from engine.site_config import LibrarySpec
from hwsim.config import CHANGER_NAME
from hwsim.library import StateError

app = typer.Typer(help="Find tape drives and changers.", no_args_is_help=True)

COLUMNS = ("Source", "Kind", "Name", "Endpoint", "Via", "Vendor", "Model", "Serial", "Status")


@dataclass
class DeviceRow:
    """One device as ``scan`` reports it (``--json`` prints these fields)."""

    source: str  # "udev" or "config"
    kind: str  # "drive" or "changer"
    name: str  # LIB:DEVICE, a standalone drive's name, or the udev node
    endpoint: str
    vendor: str = ""
    model: str = ""
    revision: str = ""
    serial: str = ""
    status: str = "ok"
    hctl: str | None = None
    nodes: dict[str, str] | None = None
    access: str | None = None  # how it is reached: daemon, in-process, endpoint


def failure(exc: Exception) -> str:
    """One sentence for a device that did not answer."""
    return transport_sentence(exc) if isinstance(exc, TransportError) else describe(exc)


def udev_row(device: DiscoveredDevice) -> DeviceRow:
    """A real device found by udev; its endpoint is the sg node the SG_IO transport opens."""
    if isinstance(device, DiscoveredChanger):
        kind, nodes = "changer", {"sch": device.sch_path, "sg": device.sg_path}
    else:
        kind, nodes = "drive", {"nst": device.nst_path, "st": device.st_path, "sg": device.sg_path}
    shown = {k: v for k, v in nodes.items() if v}
    primary = next(iter(shown.values()), device.hctl)
    return DeviceRow(
        source="udev",
        kind=kind,
        name=primary,
        endpoint=device.sg_path or "",
        vendor=device.vendor,
        model=device.model,
        revision=device.revision,
        serial=device.serial or "",
        status="ok" if device.sg_path else "no sg node (load the sg module)",
        hctl=device.hctl,
        nodes=shown,
    )


def udev_rows() -> tuple[list[DeviceRow], str | None]:
    """Rows for every device udev knows, or a note on why udev could not be asked."""
    try:
        found = scan()
    except (OSError, ImportError) as exc:  # no /sys or no libudev (a container)
        return [], f"udev scan unavailable: {exc}"
    return [udev_row(d) for d in found.devices], None


def probe(row: DeviceRow, transport: Transport) -> DeviceRow:
    """Fill identity from INQUIRY and VPD 0x80; a device that does not answer keeps its error."""
    driver = SpcDriver(transport)
    try:
        inquiry = driver.inquiry()
        row.vendor, row.model, row.revision = inquiry.vendor, inquiry.product, inquiry.revision
        with contextlib.suppress(ScsiError):  # VPD 0x80 is optional (SPC-4 7.8.17)
            row.serial = driver.serial_number()
    except (ScsiError, TransportError) as exc:
        row.status = failure(exc)
    return row


def library_rows(site: Site, spec: LibrarySpec) -> list[DeviceRow]:
    try:
        ends = site.endpoints(spec.name)
    except (StateError, TransportError, OSError) as exc:
        endpoint = str(spec.state_dir or spec.changer)
        return [
            DeviceRow(
                "config", "changer", f"{spec.name}:{CHANGER_NAME}", endpoint, status=failure(exc)
            )
        ]
    rows = [
        probe(
            DeviceRow(
                "config",
                "changer",
                f"{spec.name}:{CHANGER_NAME}",
                ends.where[CHANGER_NAME],
                access=ends.mode,
            ),
            ends.changer,
        )
    ]
    for drive, transport in ends.drives.items():
        row = DeviceRow("config", "drive", f"{spec.name}:{drive}", ends.where[drive])
        row.access = ends.mode
        rows.append(probe(row, transport))
    return rows


def configured_rows(site: Site) -> list[DeviceRow]:
    rows: list[DeviceRow] = []
    for spec in site.config.libraries:
        rows += library_rows(site, spec)
    for drive in site.config.drives:
        row = DeviceRow("config", "drive", drive.name, drive.endpoint, access="endpoint")
        try:
            _, transport, _ = site.resolve_drive(drive.name)
        except (TransportError, OSError) as exc:
            row.status = failure(exc)
            rows.append(row)
            continue
        rows.append(probe(row, transport))
    return rows


def scan_table(rows: list[DeviceRow]) -> Table:
    table = Table(title="Tape devices")
    for column in COLUMNS:
        table.add_column(column)
    for r in rows:
        status = r.status if r.status == "ok" else f"[red]{r.status}[/red]"
        via = r.access or ("SG_IO" if r.source == "udev" else "")
        table.add_row(
            r.source, r.kind, r.name, r.endpoint, via, r.vendor, r.model, r.serial, status
        )
    return table


@app.command("scan")
def scan_command(
    as_json: JsonOpt = False,
    udev: Annotated[
        bool, typer.Option("--udev/--no-udev", help="Include real devices found through udev.")
    ] = True,
) -> None:
    """Real drives and changers (udev) and the configured and simulated ones (INQUIRY)."""
    rows: list[DeviceRow] = []
    note = None
    if udev:
        rows, note = udev_rows()
    with open_site() as site:
        rows += configured_rows(site)
    if as_json:
        print_json({"devices": [asdict(r) for r in rows], "note": note})
        return
    console = Console()
    console.print(scan_table(rows))
    if note:
        console.print(note)
    if not rows:
        console.print("No tape devices found (udev) and none configured.")
