"""Seeds of the simulation (test_sim.py): a fixed set in CI, one seed to replay a failure
(``pytest tests/sim --seed N``), or a longer soak by hand (``pytest tests/sim --soak N``:
N seeds after the CI set)."""

from __future__ import annotations

import pytest

CI_SEEDS = range(200)
"""The fixed set CI runs (small trees, small simulated tapes, in-process hwsim)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tapir simulation")
    group.addoption("--seed", type=int, default=None, help="Run this one scenario seed.")
    group.addoption("--soak", type=int, default=None, help="Run N more seeds after CI's.")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seed" not in metafunc.fixturenames:
        return
    one = metafunc.config.getoption("seed", default=None)
    soak = metafunc.config.getoption("soak", default=None)
    if one is not None:
        seeds = [one]
    elif soak is not None:
        seeds = list(range(len(CI_SEEDS), len(CI_SEEDS) + soak))
    else:
        seeds = list(CI_SEEDS)
    metafunc.parametrize("seed", seeds, ids=[f"seed={s}" for s in seeds])
