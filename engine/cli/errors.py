"""The CLI's edge: known failures become one line on stderr and an exit code, never a
traceback. Exit 2 for bad configuration, state, files or usage; 1 for refused operations."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

import typer

from drivers.transport.contract import TransportError
from hwsim.config import ConfigError
from hwsim.faults import FaultSpecError
from hwsim.library import StateError
from hwsim.server import DaemonError

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"tapir: {message}", err=True)
    raise typer.Exit(code)


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
    except TransportError as exc:
        fail(str(exc), EXIT_REFUSED)
    except OSError as exc:
        fail(describe_os_error(exc))
