"""Starting and stopping the hwsim daemon for ``tapir sim start|stop``.

Foreground: the library is opened (created on first use) in this process and served by
``hwsim.server.run_daemon`` until SIGTERM/SIGINT. ``--detach`` starts the same foreground
command as a new session in the background (its log in ``<state>/hwsim.log``) and returns
once the socket answers HELLO, or reports the child's own error line if it exits first.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

import engine
from drivers.transport.contract import TransportError
from drivers.transport.hwsim_socket import HwsimConnection
from engine.cli.errors import EXIT_REFUSED, fail
from hwsim.config import load_config
from hwsim.library import SimLibrary, StateError
from hwsim.server import run_daemon, socket_path_for

LOG_NAME = "hwsim.log"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
POLL_S = 0.05
LOG_FORMAT = "%(asctime)s %(name)s: %(message)s"


def open_library(state_dir: Path, config_path: Path | None, *, create: bool) -> Any:
    """Open the library in ``state_dir``; with ``create``, make it from ``config_path`` (or
    hwsim's embedded default) when the directory holds none. Raises ConfigError, StateError.
    """
    config = load_config(config_path) if config_path is not None else None
    if create:
        return SimLibrary.open_or_create(state_dir, config)
    if not state_dir.exists():
        raise StateError(
            f"{state_dir}: no simulated library here; create one with "
            f"tapir sim start --config FILE --state {state_dir}"
        )
    return SimLibrary.open(state_dir)


def run_foreground(
    state_dir: Path,
    config_path: Path | None,
    *,
    console: bool,
    ready: Callable[[dict[str, Any]], None],
    realtime: bool = False,
) -> None:
    """Serve until SIGTERM/SIGINT (log: one line per client connect and disconnect)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr, force=True)
    library = open_library(state_dir, config_path, create=True)
    library.set_realtime(realtime)
    try:

        def announce(info: dict[str, Any]) -> None:
            ready({**info, "library": library.name, "pid": os.getpid()})
            sys.stdout.flush()

        run_daemon(library, state_dir, console=console, ready=announce)
    finally:
        library.close()


def spawn_detached(
    state_dir: Path, config_path: Path | None, *, console: bool, realtime: bool = False
) -> dict[str, Any]:
    """Start the daemon in the background; returns its HELLO info once it serves."""
    if config_path is not None:
        load_config(config_path)  # fail here, in the user's terminal, on a bad file
    state_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "engine.cli.main", "sim", "start", "--state", str(state_dir)]
    if config_path is not None:
        command += ["--config", str(config_path.absolute())]
    if not console:
        command.append("--no-console")
    if realtime:
        command.append("--realtime")
    env = dict(os.environ)
    root = str(Path(engine.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    log_path = state_dir / LOG_NAME
    with open(log_path, "ab") as log_file:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
            env=env,
        )
    socket_path = socket_path_for(state_dir)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            fail(
                _last_error(log_path) or f"the daemon exited with status {child.returncode}",
                child.returncode or EXIT_REFUSED,
            )
        if socket_path.exists():
            conn = HwsimConnection(socket_path)
            try:
                return conn.hello()
            except TransportError:
                pass  # not bound yet, or a stale socket the new daemon will replace
            finally:
                conn.close()
        time.sleep(POLL_S)
    child.terminate()
    fail(f"the daemon did not start within {START_TIMEOUT_S:g} s; see {log_path}", EXIT_REFUSED)


def _last_error(log_path: Path) -> str | None:
    """The child's error line (``tapir: ...``) from the end of its log."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("tapir: "):
            return line.removeprefix("tapir: ")
    return None


def terminate(pid: int, state_dir: Path) -> None:
    """SIGTERM the daemon and wait until it has exited (it saves state first)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(POLL_S)
    fail(f"{state_dir}: hwsim daemon {pid} did not stop within {STOP_TIMEOUT_S:g} s", 1)


def _alive(pid: int) -> bool:
    """Running and not a zombie (a daemon started by our caller stays one until reaped)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
