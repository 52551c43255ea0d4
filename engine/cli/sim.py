"""``tapir sim ...``: run and operate a simulated tape library (hwsim).

Every operation is a console-protocol line (docs/hwsim-console.md) run by the one
``hwsim.control.Interpreter``: through the daemon's socket when a daemon serves the state
directory, otherwise in this process on the library opened from disk (which takes the state
directory's lock, so the two never run at once). Without ``--state`` the default library
(``engine.paths.default_sim_state_dir``) is used and created from hwsim's embedded default
configuration on first use.

Exit codes: 0 done; 1 the library refused the operation (``ERR`` answer) or no daemon runs;
2 bad configuration, state or usage (one line on stderr, never a traceback).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from drivers.transport.contract import TransportError
from drivers.transport.hwsim_socket import HwsimConnection
from engine.cli import sim_daemon
from engine.cli.errors import fail, friendly_errors
from engine.paths import default_sim_state_dir
from hwsim.control import Interpreter
from hwsim.server import socket_path_for
from hwsim.tape_files import FileSpan, TapeFileError, TapeFiles, open_tape_files

app = typer.Typer(help="Run and operate a simulated tape library (hwsim).", no_args_is_help=True)
fault_app = typer.Typer(help="Inject, list and clear faults.", no_args_is_help=True)
app.add_typer(fault_app, name="fault")

StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state",
        help="State directory of the library (default: tapir's data dir, hwsim/default).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def resolve_state(state: Path | None) -> tuple[Path, bool]:
    """The state directory, and whether it is the default one (created on demand)."""
    if state is None:
        return default_sim_state_dir(), True
    return state.expanduser().absolute(), False


def daemon_for(state_dir: Path) -> tuple[HwsimConnection, dict[str, Any]] | None:
    """A connection to the daemon serving ``state_dir`` and its HELLO, or None if none runs."""
    path = socket_path_for(state_dir)
    if not path.exists():
        return None
    conn = HwsimConnection(path)
    try:
        return conn, conn.hello()
    except TransportError:
        conn.close()
        return None


def run_line(state: Path | None, line: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Run one console command on the library at ``state``: returns the interpreter's reply
    (``ok``, ``lines``, ``data``, ``error``) and the daemon's HELLO info (None in-process)."""
    state_dir, is_default = resolve_state(state)
    daemon = daemon_for(state_dir)
    if daemon is not None:
        conn, info = daemon
        try:
            return conn.control(line), info
        finally:
            conn.close()
    library = sim_daemon.open_library(state_dir, None, create=is_default)
    try:
        return Interpreter(library).run(line).to_dict(), None
    finally:
        library.close()


def checked(reply: dict[str, Any]) -> dict[str, Any]:
    if not reply["ok"]:
        fail(reply["error"], code=1)
    return reply


# --- daemon life --------------------------------------------------------------------------


@app.command()
def start(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Library TOML (needed only when the state directory is new)."
        ),
    ] = None,
    state: StateOpt = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Run in the background; return once serving.")
    ] = False,
    console: Annotated[
        bool, typer.Option("--console/--no-console", help="Serve the serial console on a pty.")
    ] = True,
    realtime: Annotated[
        bool,
        typer.Option(
            "--realtime", help="Throttle writers to the drives' native rate, as real drives do."
        ),
    ] = False,
) -> None:
    """Serve the library on DIR/hwsim.sock and a serial console on a pty, until stopped."""
    state_dir, _ = resolve_state(state)
    with friendly_errors():
        running = daemon_for(state_dir)
        if running is not None:
            running[0].close()
            fail(f"{state_dir}: a hwsim daemon is already running (tapir sim stop to end it)", 1)
        if detach:
            info = sim_daemon.spawn_detached(state_dir, config, console=console, realtime=realtime)
            _print_serving(info)
            return
        sim_daemon.run_foreground(
            state_dir, config, console=console, ready=_print_serving, realtime=realtime
        )


def _print_serving(info: dict[str, Any]) -> None:
    typer.echo(f"hwsim library {info.get('library', '?')!r} (pid {info.get('pid', '?')})")
    typer.echo(f"socket:  {info['socket']}")
    if info.get("console"):
        typer.echo(f"console: {info['console']} ({Path(info['state_dir']) / 'console'})")
    typer.echo(f"stop with: tapir sim stop --state {info['state_dir']}")


@app.command()
def stop(state: StateOpt = None) -> None:
    """Stop the daemon serving the state directory (SIGTERM; it saves state and exits)."""
    state_dir, _ = resolve_state(state)
    with friendly_errors():
        daemon = daemon_for(state_dir)
        if daemon is None:
            fail(f"{state_dir}: no hwsim daemon is running", code=1)
        conn, info = daemon
        conn.close()
        pid = int(info["pid"])
        sim_daemon.terminate(pid, state_dir)
    typer.echo(f"stopped hwsim daemon {pid} ({state_dir})")


# --- looking at the library ---------------------------------------------------------------


@app.command()
def status(state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """Library status: door, drives, cartridges, faults; and whether a daemon serves it."""
    with friendly_errors():
        reply, daemon = run_line(state, "STATUS")
    checked(reply)
    if as_json:
        typer.echo(json.dumps({"daemon": daemon, "status": reply["data"]}, indent=2))
        return
    Console().print(status_table(reply["data"], daemon))


@app.command()
def inventory(state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """Every element of the library with its cartridge, like ``mtx status``."""
    with friendly_errors():
        reply, _ = run_line(state, "INVENTORY")
    elements = checked(reply)["data"]
    if as_json:
        typer.echo(json.dumps(elements, indent=2))
        return
    Console().print(inventory_table(elements))


ELEMENT_LABELS = {"transport": "Transport", "slot": "Slot", "ie": "I/E", "drive": "Drive"}


def inventory_table(elements: list[dict[str, Any]]) -> Table:
    """``mtx status`` in a table: element, SMC address, full/empty, barcode, drive, serial."""
    table = Table(title="Simulated library inventory")
    for column in ("Element", "Address", "Status", "Barcode", "Drive", "Serial"):
        table.add_column(column)
    for element in elements:
        kind = str(element.get("type", "?"))
        label = f"{ELEMENT_LABELS.get(kind, kind)} {element.get('index', '')}".strip()
        table.add_row(
            label,
            str(element.get("address", "")),
            "Full" if element.get("full") else "Empty",
            str(element.get("barcode") or ""),
            str(element.get("drive") or ""),
            str(element.get("serial") or ""),
        )
    return table


def status_table(status: dict[str, Any], daemon: dict[str, Any] | None) -> Table:
    """The headline figures; ``--json`` has everything."""
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    if daemon:
        table.add_row("daemon", f"running, pid {daemon['pid']}")
        table.add_row("socket", daemon["socket"])
        table.add_row("console", daemon.get("console") or "off")
    else:
        table.add_row("daemon", "not running")
    table.add_row("library", f"{status.get('name')} (serial {status.get('serial')})")
    table.add_row("state", str(status.get("state_dir")))
    table.add_row("door", str(status.get("door")))
    for kind, counts in status.get("elements", {}).items():
        label = ELEMENT_LABELS.get(kind, kind)
        table.add_row(f"{label} elements", f"{counts['full']} of {counts['total']} full")
    for name, drive in status.get("drives", {}).items():
        power = "on" if drive.get("powered") else "OFF"
        loaded = drive.get("barcode") or "no cartridge"
        table.add_row(f"drive {name}", f"{drive.get('state')}, {loaded}, power {power}")
    table.add_row("faults", str(status.get("faults", {}).get("describe", "")))
    return table


# --- faults -------------------------------------------------------------------------------


@fault_app.command("arm")
def fault_arm(
    kind: Annotated[str, typer.Argument(help="power_loss, medium_error, drive_offline, ...")],
    target: Annotated[str, typer.Argument(help="A device name (drive0, changer) or a barcode.")],
    options: Annotated[
        list[str] | None,
        typer.Argument(help="Trigger and options: nth=3 at_block=812 op=read times=2 ..."),
    ] = None,
    state: StateOpt = None,
) -> None:
    """Arm a fault (see docs/hwsim-console.md, FAULT ARM)."""
    line = shlex.join(["FAULT", "ARM", kind, target, *(options or [])])
    with friendly_errors():
        reply, _ = run_line(state, line)
    for text in checked(reply)["lines"]:
        typer.echo(text)


@fault_app.command("list")
def fault_list(state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """The faults armed in the library (spent ones included)."""
    with friendly_errors():
        reply, _ = run_line(state, "FAULT LIST")
    checked(reply)
    if as_json:
        typer.echo(json.dumps(reply["data"], indent=2))
        return
    for text in reply["lines"]:
        typer.echo(text)


@fault_app.command("clear")
def fault_clear(
    which: Annotated[
        str | None, typer.Argument(help="A fault id or a target; all faults when omitted.")
    ] = None,
    state: StateOpt = None,
) -> None:
    """Remove one fault (by id), the faults aimed at a target, or all."""
    line = shlex.join(["FAULT", "CLEAR", *([which] if which else [])])
    with friendly_errors():
        reply, _ = run_line(state, line)
    for text in checked(reply)["lines"]:
        typer.echo(text)


@app.command("console")
def console_command(
    line: Annotated[list[str], typer.Argument(help="A console command, e.g. DOOR OPEN.")],
    state: StateOpt = None,
) -> None:
    """Run one console-protocol command (docs/hwsim-console.md) and print its answer."""
    with friendly_errors():
        reply, _ = run_line(state, " ".join(line))
    for text in reply["lines"]:
        typer.echo(text)
    if not reply["ok"]:
        fail(reply["error"], code=1)


# --- reading a cartridge as dd would ----------------------------------------------------------


@app.command("tape-file")
def tape_file(
    barcode: Annotated[str, typer.Argument(help="The cartridge, e.g. TAP001L8.")],
    number: Annotated[
        int, typer.Argument(min=0, help="Tape file: 0 the label, 1 the first session, ...")
    ],
    state: StateOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
) -> None:
    """Write tape file N of a cartridge as `dd` reads it from a drive: its records back to
    back, e.g. `tapir sim tape-file TAP001L8 1 | tar -tvf -`.

    Reads what is on tape (flushed records) from the state directory, read-only, whether or
    not a daemon serves the library; the cartridge need not be in a drive.
    """
    state_dir, _ = resolve_state(state)
    if output is None and sys.stdout.isatty():
        fail("refusing to write tape data to a terminal: pipe it (| tar -tvf -) or use --output")
    with friendly_errors():
        try:
            tape = open_tape_files(state_dir, barcode)
            span = _span_or_fail(tape, number)
            chunks = tape.stream(number)
            if output is None:
                _to_stdout(chunks)
            else:
                _to_file(chunks, output.expanduser())
        except TapeFileError as exc:
            fail(str(exc))
    if tape.eod_invalid and number == tape.count - 1:
        typer.echo(
            f"tapir: warning: {barcode} has no valid end of data (power was lost while "
            f"writing): tape file {number} ends at the last flushed record "
            f"({span.records} records, {span.length} bytes)",
            err=True,
        )


def _span_or_fail(tape: TapeFiles, number: int) -> FileSpan:
    try:
        return tape.span(number)
    except TapeFileError as exc:
        if tape.eod_invalid:
            fail(f"{exc} (power was lost while writing: what the drive had buffered is gone)")
        raise


def _to_stdout(chunks: Iterator[bytes]) -> None:
    """Copy to stdout; a reader that stops early (tar at its end-of-archive blocks, head) is
    not an error: the reader's own exit status says whether it got what it needed."""
    out = sys.stdout.buffer
    try:
        for chunk in chunks:
            out.write(chunk)
        out.flush()
    except BrokenPipeError:
        # Python would report the pipe again when it flushes stdout at exit: point fd 1 at
        # /dev/null so nothing is left to fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _to_file(chunks: Iterator[bytes], path: Path) -> None:
    """Write to ``path`` through a temporary file renamed at the end: a failed read never
    leaves a truncated tape file that looks whole."""
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
