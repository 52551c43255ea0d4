"""Helpers for tests that run the hwsim daemon as a real subprocess (``tapir sim start``).

``Daemon.start`` launches ``python -m engine.cli.main sim start`` in the foreground, waits
(bounded) until its socket answers HELLO, and ``stop`` sends SIGTERM and kills it if it does
not exit in time. The daemon's output goes to files in the test's directory, never to a pipe
nobody reads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.transport.contract import ScsiResult, TransportError
from drivers.transport.hwsim_socket import HwsimConnection, HwsimSocketTransport

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
TIMEOUT = 5.0


def cli_env(home: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"  # rich tables unwrapped
    if home is not None:
        env["TAPIR_HOME"] = str(home)
    return env


def tapir(
    *args: str, home: Path | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess:
    """Run ``tapir ARGS`` (as ``python -m engine.cli.main``) to completion."""
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=REPO,
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Daemon:
    """One foreground ``tapir sim start`` subprocess serving ``state_dir``."""

    state_dir: Path
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def socket_path(self) -> Path:
        return self.state_dir / "hwsim.sock"

    def start(self, config: Path | None = None, *extra: str) -> Daemon:
        args = ["sim", "start", "--state", str(self.state_dir), *extra]
        if config is not None:
            args += ["--config", str(config)]
        self.log_path = self.state_dir.parent / f"{self.state_dir.name}-daemon.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "engine.cli.main", *args],
                cwd=REPO,
                env=cli_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.log()}")
            if self.socket_path.exists():
                conn = HwsimConnection(self.socket_path)
                try:
                    self.info = conn.hello(timeout_s=2.0)
                    return self
                except TransportError:
                    pass
                finally:
                    conn.close()
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"daemon did not answer within {START_TIMEOUT_S} s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit status (kills after STOP_TIMEOUT_S)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"daemon ignored SIGTERM: {self.log()}") from None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)

    def transport(self, device: str) -> HwsimSocketTransport:
        return HwsimSocketTransport(self.socket_path, device)

    def control(self, line: str) -> dict[str, Any]:
        conn = HwsimConnection(self.socket_path)
        try:
            return conn.control(line)
        finally:
            conn.close()


def run(
    transport: HwsimSocketTransport,
    cdb: bytes,
    data_in_len: int = 0,
    data_out: bytes | None = None,
) -> ScsiResult:
    return transport.execute(cdb, data_out=data_out, data_in_len=data_in_len, timeout_s=TIMEOUT)
