"""Whole backup jobs against hwsim under random fault plans, one scenario per seed (issue 7):
the invariants of invariants.py hold after each. A failure names its seed and scenario;
``pytest tests/sim --seed N`` replays it exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.sim.harness import run_scenario
from tests.sim.scenario import draw


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


def test_scenario(seed: int, tmp_path: Path) -> None:
    scenario = draw(seed)
    root = tmp_path
    try:
        run_scenario(scenario, root)
    except BaseException as exc:
        raise AssertionError(
            f"{scenario.describe()}\nreplay: pytest tests/sim --seed {seed} (files: {root})\n{exc}"
        ) from exc
    shutil.rmtree(root / "src", ignore_errors=True)  # pytest keeps the rest of recent runs


def test_a_seed_draws_the_same_scenario_every_time() -> None:
    assert [draw(s) for s in range(50)] == [draw(s) for s in range(50)]
    assert len({draw(s).describe() for s in range(50)}) > 40
