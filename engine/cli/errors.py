"""The CLI's edge: known failures become one line on stderr and an exit code, never a
traceback. Exit 2 for bad configuration, state, files, usage or a name nothing answers to
(library, drive, barcode); 1 for operations a device, the library, the media policy or the
catalog refused. Device errors already are one sentence naming the device and what to do
(drivers/errors.py ``ScsiError.sentence``); transport errors get the advice they lack here.

The error classes are looked up in ``sys.modules`` rather than imported: an exception whose
module was never imported cannot have been raised, and importing devices, drivers, hwsim and
the catalog just to be ready for their errors would cost every command its start-up time."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from drivers.transport.contract import TransportError

CATALOG_MODULE = "engine.catalog.db"
TRANSPORT_MODULE = "drivers.transport.contract"
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"tapir: {message}", err=True)
    raise typer.Exit(code)


TRANSPORT_ADVICE: dict[str, str] = {
    "DeviceNotFound": "check the site configuration, or run tapir devices scan",
    "PermissionDenied": "run as a member of the device's group (tape, disk) or as root",
    "DeviceUnreachable": "check that it is powered on and connected, then retry",
    "CommandTimeout": "check the device (it may need a reset), then retry",
}
"""Advice per class of drivers/transport/contract.py (by name: see the module docstring)."""
_HAS_ADVICE = ("check", "start it", "run ", "grant", "retry")


def transport_sentence(exc: TransportError) -> str:
    """The transport's message, with what to do appended unless it already says so."""
    text = str(exc).rstrip(".")
    if any(hint in exc.detail.lower() for hint in _HAS_ADVICE):
        return f"{text}."
    advice = next(
        (
            a
            for name, a in TRANSPORT_ADVICE.items()
            if isinstance(exc, _loaded(TRANSPORT_MODULE, name))
        ),
        "check the device and its connection, then retry",
    )
    return f"{text}: {advice}."


def describe_os_error(exc: OSError) -> str:
    """``path: reason`` rather than Python's ``[Errno 2] ...: 'path'``."""
    where = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc)
    return f"{where}: {reason}" if where else reason


def _loaded(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """The classes ``names`` of ``module`` if something imported it, else none."""
    mod = sys.modules.get(module)
    return tuple(getattr(mod, name) for name in names) if mod is not None else ()


def _sentence(exc: Exception) -> tuple[str, int] | None:
    """The line and exit code for an error a user can cause or fix; None for a bug."""
    if isinstance(
        exc,
        _loaded("hwsim.config", "ConfigError")
        + _loaded("hwsim.library", "StateError")
        + _loaded("hwsim.server", "DaemonError")
        + _loaded("hwsim.faults", "FaultSpecError")
        + _loaded("engine.site_config", "SiteConfigError", "SiteError"),
    ):
        return str(exc), EXIT_BAD_INPUT
    if isinstance(exc, _loaded("devices.errors", "MediumNotInLibrary", "UnknownDrive")):
        return exc.sentence, EXIT_BAD_INPUT  # type: ignore[attr-defined]
    if isinstance(
        exc, _loaded("devices.errors", "DeviceError") + _loaded("drivers.errors", "ScsiError")
    ):
        return exc.sentence, EXIT_REFUSED  # type: ignore[attr-defined]
    if isinstance(exc, _loaded(TRANSPORT_MODULE, "TransportError")):
        return transport_sentence(exc), EXIT_REFUSED  # type: ignore[arg-type]
    if isinstance(
        exc,
        _loaded("devices.media", "MediaModelError")
        + _loaded("devices.label", "LabelError")
        + _loaded("devices.disk", "MountPathError"),
    ):
        return str(exc), EXIT_REFUSED
    if isinstance(exc, OSError):
        return describe_os_error(exc), EXIT_BAD_INPUT
    if isinstance(exc, _loaded(CATALOG_MODULE, "CatalogError")):
        return str(exc), EXIT_BAD_INPUT
    return None


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn the errors a user can cause or fix into ``fail``."""
    try:
        yield
    except Exception as exc:
        known = _sentence(exc)
        if known is None:
            raise
        fail(*known)
