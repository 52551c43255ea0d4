"""The CLI's edge: known failures become one line on stderr and an exit code, never a
traceback. Exit 2 for bad configuration, state, files, usage or a name nothing answers to
(library, drive, barcode); 1 for operations a device, the library, the media policy or the
catalog refused. Device errors already are one sentence naming the device and what to do
(drivers/errors.py ``ScsiError.sentence``); transport errors get the advice they lack here."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import NoReturn

import typer

from devices.disk import MountPathError
from devices.errors import DeviceError, MediumNotInLibrary, UnknownDrive
from devices.label import LabelError
from devices.media import MediaModelError
from drivers.errors import ScsiError
from drivers.transport.contract import (
    CommandTimeout,
    DeviceNotFound,
    DeviceUnreachable,
    PermissionDenied,
    TransportError,
)
from engine.site_config import SiteConfigError, SiteError
from hwsim.config import ConfigError
from hwsim.faults import FaultSpecError
from hwsim.library import StateError
from hwsim.server import DaemonError

CATALOG_MODULE = "engine.catalog.db"
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"tapir: {message}", err=True)
    raise typer.Exit(code)


TRANSPORT_ADVICE: dict[type[TransportError], str] = {
    DeviceNotFound: "check the site configuration, or run tapir devices scan",
    PermissionDenied: "run as a member of the device's group (tape, disk) or as root",
    DeviceUnreachable: "check that it is powered on and connected, then retry",
    CommandTimeout: "check the device (it may need a reset), then retry",
}
_HAS_ADVICE = ("check", "start it", "run ", "grant", "retry")


def transport_sentence(exc: TransportError) -> str:
    """The transport's message, with what to do appended unless it already says so."""
    text = str(exc).rstrip(".")
    if any(hint in exc.detail.lower() for hint in _HAS_ADVICE):
        return f"{text}."
    advice = next(
        (a for cls, a in TRANSPORT_ADVICE.items() if isinstance(exc, cls)),
        "check the device and its connection, then retry",
    )
    return f"{text}: {advice}."


def describe_os_error(exc: OSError) -> str:
    """``path: reason`` rather than Python's ``[Errno 2] ...: 'path'``."""
    where = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc)
    return f"{where}: {reason}" if where else reason


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn the errors a user can cause or fix into ``fail``."""
    try:
        yield
    except (ConfigError, StateError, DaemonError, FaultSpecError) as exc:
        fail(str(exc))
    except (SiteConfigError, SiteError) as exc:
        fail(str(exc))
    except (MediumNotInLibrary, UnknownDrive) as exc:
        fail(exc.sentence)
    except (DeviceError, ScsiError) as exc:
        fail(exc.sentence, EXIT_REFUSED)
    except TransportError as exc:
        fail(transport_sentence(exc), EXIT_REFUSED)
    except (MediaModelError, LabelError, MountPathError) as exc:
        fail(str(exc), EXIT_REFUSED)
    except OSError as exc:
        fail(describe_os_error(exc))
    except Exception as exc:
        # The catalog (SQLAlchemy, Alembic) is imported only by commands that use it, to keep
        # every other command quick to start: if it is not loaded, it raised nothing.
        catalog = sys.modules.get(CATALOG_MODULE)
        if catalog is not None and isinstance(exc, catalog.CatalogError):
            fail(str(exc))
        raise
