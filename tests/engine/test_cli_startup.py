"""The lazy command registry (engine/cli/main.py, engine/cli/lazy.py): ``tapir --help`` lists
every command with its help line, each line equals the real command's help, and ``tapir ls``
runs without importing the modules of other commands, devices, the simulator or alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.main import COMMANDS, TapirGroup
from tests.engine.cli_util import Tapir
from tests.hwsim.daemon_util import REPO, cli_env


def test_help_lists_every_command_with_its_help(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home")
    env["COLUMNS"] = "250"  # one line per command: no wrapping inside the help box
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "--help"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = {
        line.strip("│ ").split(None, 1)[0]: line.strip("│ ").split(None, 1)[1].strip(" │")
        for line in out.split("─ Commands ─", 1)[1].splitlines()[1:]
        if line.startswith("│")
    }
    assert listed == {c.name: c.help for c in COMMANDS}


@pytest.mark.parametrize("entry", COMMANDS, ids=[c.name for c in COMMANDS])
def test_help_line_is_the_real_commands_help(entry: object) -> None:
    group = TapirGroup(name="tapir")
    real = group.build(entry)  # type: ignore[arg-type]
    assert real.name == entry.name  # type: ignore[attr-defined]
    assert real.help == entry.help  # type: ignore[attr-defined]


def test_every_command_runs_its_own_help(tmp_path: Path) -> None:
    tapir = Tapir(tmp_path)
    for entry in COMMANDS:
        out = tapir.ok(entry.name, "--help")
        assert entry.help.split()[0] in out, (entry.name, out)


def test_ls_imports_only_what_it_needs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    Tapir(tmp_path)("ls", "/nothing", "--catalog", url)  # creates and migrates the catalog
    code = (
        "import sys\n"
        "from engine.cli.main import app\n"
        "try:\n"
        f"    app(['ls', '/nothing', '--catalog', {url!r}])\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code)\n"
        "print(' '.join(sorted(m for m in sys.modules)))\n"
    )
    env = cli_env(tmp_path / "home")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env.pop("TAPIR_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    exit_line, modules = result.stdout.strip().splitlines()[-2:]
    assert exit_line == "exit 2", result  # nothing at that path: tapir: ... and exit 2
    assert "nothing" in result.stderr
    loaded = set(modules.split())
    assert "engine.cli.browse" in loaded
    heavy = {"alembic", "devices", "drivers.transport.hwsim_local", "hwsim.library", "rich.table"}
    others = {c.module for c in COMMANDS} - {"engine.cli.browse"}
    assert loaded & (heavy | others) == set()
