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


HEAVY = ("alembic", "pydantic", "hwsim", "drivers", "devices", "engine.backup", "engine.site")
"""Packages (and their submodules) a read of the catalog must not import: each costs start-up
time (issue 5: a browse answers in under 1 s as a whole command); ``engine.site`` opens devices
(``engine.site_config``, the configuration alone, is allowed)."""


def _imports_of(tmp_path: Path, args: list[str]) -> tuple[int, str, set[str]]:
    """Exit code, stderr and ``sys.modules`` after ``tapir ARGS`` in a fresh interpreter."""
    code = (
        "import sys\n"
        "from engine.cli.main import app\n"
        "try:\n"
        f"    app({args!r})\n"
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
    assert exit_line.startswith("exit "), result
    return int(exit_line.split()[1]), result.stderr, set(modules.split())


@pytest.mark.parametrize(
    "args, module, code, drawn, sqlalchemy",
    [
        (["ls", "/nothing"], "engine.cli.browse", 2, False, False),
        (["ls", "/srv"], "engine.cli.browse", 0, False, False),
        (["browse", "/nothing/file"], "engine.cli.browse", 2, False, False),
        (["jobs", "list"], "engine.cli.jobs", 0, True, True),
        (["jobs", "list", "--json"], "engine.cli.jobs", 0, False, True),
        (["jobs", "show", "1"], "engine.cli.jobs", 0, True, True),
    ],
    ids=["ls-nothing", "ls", "browse", "jobs-list", "jobs-list-json", "jobs-show"],
)
def test_catalog_reads_import_only_what_they_need(
    tmp_path: Path, args: list[str], module: str, code: int, drawn: bool, sqlalchemy: bool
) -> None:
    """``tapir ls``, ``browse``, ``jobs list`` and ``jobs show`` import neither the devices, the
    simulator, the backup pipeline, alembic (a catalog at head) nor pydantic (typer's coercion,
    engine/cli/coercion.py), nor another command's module; rich only to draw a table; ls and
    browse not even SQLAlchemy (engine/catalog/sqlite_reads.py)."""
    from engine.catalog.db import open_catalog
    from engine.catalog.files_model import FileRow
    from engine.catalog.files_store import FilesStore
    from engine.catalog.jobs_store import JobsStore
    from engine.jobs.states import CompletionStatus

    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with open_catalog(url) as catalog:  # created and migrated to head here
        jobs = JobsStore(catalog)
        job = jobs.create_job("backup", "nightly", {"source": "/srv"})
        run = jobs.start_run(job, level="full")
        files = FilesStore(catalog)
        session = files.open_session(run.id, "lib1", b"/srv", record_size=512)
        files.add_files(session, [FileRow(path=b"/srv", kind="directory", part=1, record=0)])
        jobs.end_run(run.id, CompletionStatus.COMPLETED)
    exit_code, stderr, loaded = _imports_of(tmp_path, [*args, "--catalog", url])
    assert exit_code == code, stderr
    assert module in loaded
    heavy = {m for m in loaded if m in HEAVY or m.startswith(tuple(p + "." for p in HEAVY))}
    others = {c.module for c in COMMANDS} - {module}
    assert heavy | (loaded & others) == set()
    assert ("rich.table" in loaded) is drawn
    assert ("sqlalchemy" in loaded) is sqlalchemy
