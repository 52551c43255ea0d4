"""Running ``tapir`` as a user does, isolated from the user's own data and configuration.

Every call sets ``TAPIR_HOME`` (data, default simulated library, catalog) and
``XDG_CONFIG_HOME`` to directories under the test's tmp_path, and ``TAPIR_CONFIG`` when the
test gives a site configuration, so neither ~/.local/share/tapir nor ~/.config/tapir is read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.hwsim.daemon_util import REPO, cli_env


@dataclass
class Tapir:
    """``tapir`` bound to one test's directories."""

    root: Path
    config: Path | None = None

    @property
    def home(self) -> Path:
        return self.root / "home"

    def __call__(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        env = cli_env(self.home)
        env["XDG_CONFIG_HOME"] = str(self.root / "xdg-config")
        env.pop("TAPIR_CONFIG", None)
        if self.config is not None:
            env["TAPIR_CONFIG"] = str(self.config)
        return subprocess.run(
            [sys.executable, "-m", "engine.cli.main", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert result.stderr == "", result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))


def one_error_line(result: subprocess.CompletedProcess, code: int) -> str:
    """The single ``tapir: ...`` line on stderr, after checking the exit code."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("tapir: "), lines[0]
    return lines[0].removeprefix("tapir: ")


def slot_of(inventory: dict[str, Any], barcode: str) -> tuple[str, int] | None:
    """(kind, number) of the element holding ``barcode`` in ``library inventory --json``."""
    for group in ("slots", "import_export", "drives"):
        for element in inventory[group]:
            if element["full"] and element["barcode"] == barcode:
                return element["kind"], element["number"]
    return None
