"""README "Disaster recovery": the simulator steps exactly as printed there (plain GNU tar on
``tapir sim tape-file``), run by bash against a backup on the default simulated library."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.engine.cli_util import Tapir
from tests.engine.format.treecmp import compare_trees
from tests.engine.restore.restore_util import edge_tree
from tests.hwsim.daemon_util import REPO, cli_env

README = REPO / "README.md"


def simulator_steps() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Disaster recovery") :]
    section = section[section.index("On the simulator") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_steps_read_a_tape_with_plain_tar(tmp_path: Path) -> None:
    tapir = Tapir(tmp_path)
    src = edge_tree(tmp_path / "src")
    (barcode,) = tapir.json("backup", str(src), "--to", "lib1")["volumes"]
    assert barcode == "TAP001L8", "the README's example cartridge is the first one written"
    work = tmp_path / "work"
    work.mkdir()
    define = f'tapir() {{ {shlex.quote(sys.executable)} -m engine.cli.main "$@"; }}'
    env = cli_env(tapir.home)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env.pop("TAPIR_CONFIG", None)
    outputs = []
    steps = simulator_steps()
    assert len(steps) == 4 and all(s.startswith("tapir sim tape-file TAP001L8 ") for s in steps)
    for step in steps:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", f"{define}\n{step}"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (step, done.stderr)
        outputs.append(done.stdout)
    label, listing, index, extracted = outputs
    assert '"volume_id": "TAP001L8"' in label and '"record_size": 262144' in label
    assert "docs/b.bin" in listing and "TAPIR-TRAILER.json" in listing
    assert '"p":"docs/b.bin"' in index and '"format":"tapir-index"' in index
    assert "docs/deep/c.txt" in extracted
    for name in ("TAPIR-INDEX.jsonl.gz", "TAPIR-TRAILER.json"):
        (work / name).unlink()
    assert compare_trees(src, work) == []
