"""Driver tests run against hwsim in-process and through the daemon (the ``via`` param).

The hwsim fixtures (drive, cartridges, faults, the small library, ``DaemonLink``) come from
tests/hwsim/conftest.py; here they are wrapped in the drivers under test.
"""

from __future__ import annotations

import pytest

from drivers.smc import SmcDriver
from drivers.ssc import SscDriver
from tests.hwsim.conftest import (  # noqa: F401  (fixtures re-exported for this package)
    DaemonLink,
    Tape,
    changer,
    clock,
    empty_tape,
    faults,
    lib,
    make_cartridge,
    make_drive,
    small_model,
    tape,
    via,
)


@pytest.fixture
def ssc(tape: Tape) -> SscDriver:  # noqa: F811
    """A ready drive holding a blank 4 MiB cartridge 000001L8 (early warning 256 KiB
    before the end), unit attentions consumed."""
    return SscDriver(tape.transport)


@pytest.fixture
def smc(changer) -> SmcDriver:  # noqa: F811
    """The small library's changer (smc_util.SMALL_LIBRARY), power-on attention consumed."""
    return SmcDriver(changer)


@pytest.fixture
def library_drive(lib, via):  # noqa: F811
    """``open(name)`` -> an SscDriver to one of the small library's drives, same ``via``."""
    from drivers.transport.hwsim_local import HwsimLocalTransport

    def open_drive(name: str) -> SscDriver:
        if via == "daemon":
            return SscDriver(DaemonLink(lib, name).transport)
        return SscDriver(HwsimLocalTransport(lib.drives[name]))

    return open_drive
