"""Device tests run against a hwsim library, in-process and through the daemon (``via``).

The library is tests/hwsim/smc_util.SMALL_LIBRARY with four more slots holding a small
cartridge (early warning after 1 MiB), a write-protected one and a WORM one. ``library`` is a
TapeLibrary over it with a MemoryMediaStore that knows every cartridge; robot waits go to
``sleeps`` instead of the clock, events to ``events``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from devices.events import DeviceEvent
from devices.media import MediaState, new_medium
from devices.media_memory import MemoryMediaStore
from devices.tape_library import TapeLibrary
from drivers.transport.contract import Transport
from drivers.transport.hwsim_local import HwsimLocalTransport
from hwsim.config import CHANGER_NAME
from hwsim.library import SimLibrary
from tests.hwsim.conftest import DaemonLink, via  # noqa: F401  (fixture re-exported)
from tests.hwsim.smc_util import SMALL_LIBRARY, make_library

E = TypeVar("E", bound=DeviceEvent)

KIB = 1024
RETRY_DELAY_S = 0.5
POOL = "default"

DEVICES_LIBRARY = (
    SMALL_LIBRARY.replace("slots = 6", "slots = 10")
    + """
[[cartridges]]
barcode = "EWT001L8"
slot = 7
capacity = "2MiB"
early_warning = "1MiB"

[[cartridges]]
barcode = "WPT001L8"
slot = 8
capacity = "64MiB"
write_protected = true

[[cartridges]]
barcode = "WRM001LY"
slot = 9
capacity = "64MiB"
"""
)
DATA_CARTRIDGES = ("TST001L8", "TST002L8", "TST003L8", "TST004L8", "EWT001L8", "WPT001L8")


class Events(list[DeviceEvent]):
    """What the devices reported, in order."""

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self if isinstance(e, kind)]


@pytest.fixture
def devlib(tmp_path: Path) -> Iterator[SimLibrary]:
    library = make_library(tmp_path / "state", DEVICES_LIBRARY)
    yield library
    library.close()


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def store() -> MemoryMediaStore:
    """Every cartridge of the library registered: data ones scratch, CLN001CU cleaning."""
    media = MemoryMediaStore()
    for barcode in (*DATA_CARTRIDGES, "WRM001LY"):
        media.add_medium(*new_medium(barcode, POOL, "LTO-8", actor="test"))
    media.add_medium(
        *new_medium("CLN001CU", "", "cleaning", actor="test", state=MediaState.CLEANING)
    )
    return media


def transport_to(lib: SimLibrary, name: str, via: str) -> Transport:  # noqa: F811
    if via == "daemon":
        return DaemonLink(lib, name).transport
    return HwsimLocalTransport(lib.device(name))


@pytest.fixture
def library(
    devlib: SimLibrary,
    via: str,  # noqa: F811
    events: Events,
    sleeps: list[float],
    store: MemoryMediaStore,
) -> TapeLibrary:
    return TapeLibrary(
        "small",
        transport_to(devlib, CHANGER_NAME, via),
        {name: transport_to(devlib, name, via) for name in devlib.drives},
        store=store,
        events=events.append,
        retry_delay_s=RETRY_DELAY_S,
        sleep=sleeps.append,
    )


def record(size: int, seed: int = 0) -> bytes:
    """``size`` bytes that differ per ``seed`` (so a wrong record is noticed)."""
    return bytes((seed + i) % 251 for i in range(size))
