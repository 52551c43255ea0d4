"""The library's front-panel command interpreter: one interpreter, two ways in.

The serial console (``console``, a pty) and the daemon socket's CONTROL requests (``server``,
used by ``tapir sim ...``) both hand one text line to ``Interpreter.run`` and get a ``Reply``:
lines of text plus structured ``data`` (for JSON clients), ending in ``OK`` or
``ERR <sentence>`` when rendered. The protocol is documented in docs/hwsim-console.md.

Thread-safety: ``run`` may be called from any thread; commands run one at a time under the
interpreter's lock. SCSI commands from initiators run concurrently under each device's own
lock, which the library's operations take when they touch a device.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hwsim.faults import Fault, FaultSpecError
from hwsim.library import LibraryError

FAULT_FIELDS = ("nth", "at_block", "after_bytes", "probability", "opcode", "op", "times")


class CommandError(Exception):
    """A command the interpreter refuses; the message is the sentence after ``ERR``."""


@dataclass
class Reply:
    """The answer to one command line."""

    ok: bool
    lines: list[str] = field(default_factory=list)
    data: Any = None
    error: str | None = None

    def render(self) -> list[str]:
        """The console form: the text lines, then ``OK`` or ``ERR <sentence>``."""
        return [*self.lines, "OK" if self.ok else f"ERR {self.error}"]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "lines": self.lines, "data": self.data, "error": self.error}


@dataclass(frozen=True)
class _Command:
    handler: Callable[[Interpreter, list[str]], Reply]
    usage: str
    summary: str
    mutates: Callable[[list[str]], bool] = lambda args: False


def flatten(value: Any, prefix: str = "") -> Iterable[str]:
    """``key=value`` lines for a nested status dict (dotted keys), stable order."""
    if isinstance(value, Mapping):
        for key in value:
            yield from flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
        for i, item in enumerate(value):
            yield from flatten(item, f"{prefix}.{i}")
    else:
        shown = ",".join(map(str, value)) if isinstance(value, list | tuple) else value
        shown = "-" if shown is None or shown == "" else shown
        yield f"{prefix}={shown}" if prefix else str(shown)


def inventory_line(element: Mapping[str, Any]) -> str:
    """One element as a console line, e.g. ``SLOT 3 @1002 FULL TAP003L8`` or
    ``DRIVE 1 @256 EMPTY drive=drive0 serial=HWSD000001`` (docs/hwsim-console.md)."""
    parts = [
        str(element.get("type", "element")).upper(),
        str(element.get("index", "?")),
        f"@{element.get('address', '?')}",
        "FULL" if element.get("full") else "EMPTY",
    ]
    if element.get("barcode"):
        parts.append(str(element["barcode"]))
    for key in ("drive", "serial", "source"):
        if element.get(key) is not None:
            parts.append(f"{key}={element[key]}")
    if element.get("imported"):
        parts.append("imported")
    return " ".join(parts)


def parse_value(raw: str) -> Any:
    """A ``key=value`` argument's value: integer, float, true/false/none, else the text."""
    lowered = raw.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    return raw


def fault_line(fault: Fault) -> str:
    triggers = " ".join(
        f"{k}={getattr(fault, k)}" for k in FAULT_FIELDS if getattr(fault, k) is not None
    )
    state = "spent" if fault.spent else "armed"
    persistent = " persistent" if fault.times is None else ""
    head = f"FAULT {fault.id} {fault.kind} {fault.target}"
    return f"{head} {triggers}{persistent} fired={fault.fired} {state}"


class Interpreter:
    """Runs console-protocol command lines against one library object (``SimLibrary``).

    ``extra_help``: lines a front end adds to HELP for commands it handles itself (ECHO).
    ``save_after_change``: persist the library after FAULT ARM/CLEAR (operator actions save
    themselves), so a killed daemon loses as little as possible.
    """

    def __init__(
        self,
        library: Any,
        *,
        extra_help: Iterable[str] = (),
        save_after_change: bool = True,
    ) -> None:
        self.library = library
        self.extra_help = list(extra_help)
        self.save_after_change = save_after_change
        self._lock = threading.Lock()

    def run(self, line: str) -> Reply:
        """Run one command line; never raises (bad input and failures become ``ERR``)."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            return Reply(False, error=f"cannot split the line into words: {exc}")
        if not words:
            return Reply(False, error="empty command; type HELP for the list of commands")
        name, args = words[0].upper(), words[1:]
        command = COMMANDS.get(name)
        if command is None:
            return Reply(False, error=f"unknown command {words[0]!r}; type HELP for the list")
        with self._lock:
            try:
                reply = command.handler(self, args)
                if self.save_after_change and reply.ok and command.mutates(args):
                    self.library.save()
                return reply
            except (CommandError, LibraryError) as exc:
                return Reply(False, error=str(exc))
            except (LookupError, ValueError) as exc:
                return Reply(False, error=_sentence(exc))
            except Exception as exc:  # the console must never die; say what failed
                return Reply(False, error=f"{name} failed: {type(exc).__name__}: {exc}")

    # --- helpers --------------------------------------------------------------------------

    def drive(self, name: str) -> Any:
        drives = self.library.drives
        if name not in drives:
            known = ", ".join(sorted(drives)) or "none"
            raise CommandError(f"no drive named {name!r}; drives: {known}")
        return drives[name]


def _sentence(exc: BaseException) -> str:
    text = str(exc.args[0]) if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
    return text or type(exc).__name__


def _expect(args: list[str], count: int, usage: str) -> None:
    if len(args) != count:
        raise CommandError(f"usage: {usage}")


def _int_arg(raw: str, what: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise CommandError(f"{what} must be a whole number, not {raw!r}") from None


# --- commands ---------------------------------------------------------------------------------


def _help(interp: Interpreter, args: list[str]) -> Reply:
    if args:
        command = COMMANDS.get(args[0].upper())
        if command is None:
            raise CommandError(f"no command {args[0]!r}; type HELP for the list")
        return Reply(True, [f"{command.usage}  -- {command.summary}"])
    lines = [f"{c.usage}  -- {c.summary}" for c in COMMANDS.values()]
    return Reply(True, lines + interp.extra_help)


def _ping(interp: Interpreter, args: list[str]) -> Reply:
    _expect(args, 0, "PING")
    return Reply(True, ["PONG"])


def _status(interp: Interpreter, args: list[str]) -> Reply:
    _expect(args, 0, "STATUS")
    status = interp.library.status()
    return Reply(True, list(flatten(status)), status)


def _inventory(interp: Interpreter, args: list[str]) -> Reply:
    _expect(args, 0, "INVENTORY")
    elements = interp.library.inventory()
    return Reply(True, [inventory_line(e) for e in elements], elements)


def _devices(interp: Interpreter, args: list[str]) -> Reply:
    _expect(args, 0, "DEVICES")
    names = list(interp.library.device_names())
    return Reply(True, names, names)


def _door(interp: Interpreter, args: list[str]) -> Reply:
    _expect(args, 1, "DOOR OPEN|CLOSE")
    action = args[0].upper()
    if action == "OPEN":
        interp.library.open_door()
    elif action == "CLOSE":
        interp.library.close_door()
    else:
        raise CommandError(f"DOOR takes OPEN or CLOSE, not {args[0]!r}")
    return Reply(True, ["door open" if action == "OPEN" else "door closed"])


def _drive(interp: Interpreter, args: list[str]) -> Reply:
    usage = "DRIVE <name> POWER OFF|ON | DRIVE <name> STATUS"
    if len(args) < 2:
        raise CommandError(f"usage: {usage}")
    name, action = args[0], args[1].upper()
    drive = interp.drive(name)
    if action == "STATUS" and len(args) == 2:
        status = drive.status()
        return Reply(True, list(flatten(status)), status)
    if action == "POWER" and len(args) == 3 and args[2].upper() in ("OFF", "ON"):
        if args[2].upper() == "OFF":
            interp.library.power_off(name)
        else:
            interp.library.power_on(name)
        return Reply(True, [f"{name} power {args[2].lower()}"])
    raise CommandError(f"usage: {usage}")


def _fault(interp: Interpreter, args: list[str]) -> Reply:
    usage = "FAULT ARM <kind> <target> [key=value ...] | FAULT LIST | FAULT CLEAR [id|target]"
    if not args:
        raise CommandError(f"usage: {usage}")
    action, rest = args[0].upper(), args[1:]
    plan = interp.library.faults
    if action == "LIST":
        _expect(rest, 0, "FAULT LIST")
        faults = list(plan.faults)
        return Reply(
            True,
            [f"seed={plan.seed}"] + [fault_line(f) for f in faults],
            {"seed": plan.seed, "faults": [f.to_dict() for f in faults]},
        )
    if action == "ARM":
        if len(rest) < 2:
            raise CommandError("usage: FAULT ARM <kind> <target> [key=value ...]")
        spec: dict[str, Any] = {"kind": rest[0].lower(), "target": rest[1]}
        for item in rest[2:]:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"fault option {item!r} must look like key=value")
            key = key.lower()
            if key not in (*FAULT_FIELDS, "persistent"):
                raise CommandError(
                    f"unknown fault option {key!r}; options: {', '.join(FAULT_FIELDS)}, persistent"
                )
            spec[key] = parse_value(value)
        if isinstance(spec.get("opcode"), str):
            spec["opcode"] = spec["opcode"].upper()
        try:
            fault = plan.arm(spec)
        except FaultSpecError as exc:
            raise CommandError(str(exc)) from None
        return Reply(True, [fault_line(fault)], fault.to_dict())
    if action == "CLEAR":
        if len(rest) > 1:
            raise CommandError("usage: FAULT CLEAR [id|target]")
        if not rest:
            removed = plan.clear()
        elif rest[0].isdigit():
            if not plan.disarm(int(rest[0])):
                raise CommandError(f"no fault with id {rest[0]}; FAULT LIST shows the ids")
            removed = 1
        else:
            removed = plan.clear(rest[0])
        return Reply(True, [f"cleared {removed} fault(s)"], {"cleared": removed})
    raise CommandError(f"usage: {usage}")


def _import(interp: Interpreter, args: list[str]) -> Reply:
    if len(args) == 1:
        ie_slot = None
    elif len(args) == 3 and args[1].upper() == "IE":
        ie_slot = _int_arg(args[2], "the I/E slot")
    else:
        raise CommandError("usage: IMPORT <barcode> [IE <n>]")
    placed = interp.library.import_cartridge(args[0], ie_slot=ie_slot)
    where = f" into I/E slot {placed}" if placed is not None else ""
    return Reply(True, [f"imported {args[0]}{where}"], {"barcode": args[0], "ie_slot": placed})


def _export(interp: Interpreter, args: list[str]) -> Reply:
    _expect(args, 1, "EXPORT <ie-slot>")
    barcode = interp.library.remove_from_ie(_int_arg(args[0], "the I/E slot"))
    return Reply(True, [f"removed {barcode} from I/E slot {args[0]}"], {"barcode": barcode})


def _save(interp: Interpreter, args: list[str]) -> Reply:
    _expect(args, 0, "SAVE")
    interp.library.save()
    return Reply(True, ["state saved"])


COMMANDS: dict[str, _Command] = {
    "HELP": _Command(_help, "HELP [command]", "list the commands, or show one"),
    "PING": _Command(_ping, "PING", "answer PONG (is the console alive?)"),
    "STATUS": _Command(_status, "STATUS", "library status: door, drives, faults"),
    "INVENTORY": _Command(
        _inventory, "INVENTORY", "every element: type, address, FULL/EMPTY, barcode"
    ),
    "DEVICES": _Command(_devices, "DEVICES", "the SCSI devices the daemon serves"),
    "DOOR": _Command(_door, "DOOR OPEN|CLOSE", "open or close the library door"),
    "DRIVE": _Command(
        _drive,
        "DRIVE <name> POWER OFF|ON | DRIVE <name> STATUS",
        "cut or restore a drive's power, or show its status",
    ),
    "FAULT": _Command(
        _fault,
        "FAULT ARM <kind> <target> [key=value ...] | FAULT LIST | FAULT CLEAR [id|target]",
        "inject, list or remove faults",
        lambda args: bool(args) and args[0].upper() in ("ARM", "CLEAR"),
    ),
    "IMPORT": _Command(
        _import, "IMPORT <barcode> [IE <n>]", "operator puts a cartridge in an I/E slot"
    ),
    "EXPORT": _Command(
        _export, "EXPORT <ie-slot>", "operator takes the cartridge out of an I/E slot"
    ),
    "SAVE": _Command(_save, "SAVE", "write the library state to its state directory"),
}
