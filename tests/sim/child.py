"""The engine process of a SIGKILL scenario: ``python -m tests.sim.child SEED ROOT`` runs the
scenario's backup as ``tapir backup`` does (through the job manager: reservations, a lease
renewed by heartbeats) against the simulated library in ROOT, and kills itself with SIGKILL
right after checkpoint ``kill_at`` (no cleanup of any kind runs: the catalog, the lease, the
reservations and the tape are left as a crash leaves them)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from engine.site import Site
from tests.sim.harness import backup_spec, site_config
from tests.sim.managed import manager_config, run_as_cli
from tests.sim.scenario import draw


def main(seed: int, root: Path) -> int:
    scenario = draw(seed)
    assert scenario.kill_at is not None
    calls: list[int] = []

    def die_at_checkpoint() -> bool:
        calls.append(1)
        if len(calls) == scenario.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return False

    spec = backup_spec(scenario, root / "src", root, die_at_checkpoint)
    with Site(site_config(root, scenario)) as site:
        out = run_as_cli(site, manager_config(scenario.restartable), spec)
    print(out.status.value if out.status else "not ended")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), Path(sys.argv[2])))
