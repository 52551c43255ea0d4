"""Helpers of the fault tests: the in-process simulated devices behind a site, and a thread that
plays the power coming back to a drive after an injected power loss."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.site import Site

POLL_S = 0.01


def sim_drive(site: Site, drive: str, library: str = "lib1") -> Any:
    """The hwsim device of ``drive`` (in-process library)."""
    return site.endpoints(library).drives[drive].device


def sim_faults(site: Site, library: str = "lib1") -> Any:
    """The library's ``FaultPlan`` (shared by its devices)."""
    return site.endpoints(library).changer.device.faults


@contextmanager
def power_returns(site: Site, drives: tuple[str, ...] = ("drive0", "drive1")) -> Iterator[None]:
    """While the block runs, a drive that loses power gets it back shortly after, as when a
    tripped breaker is reset; the engine sees the power-on reset on its next command."""
    devices = [sim_drive(site, d) for d in drives]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for dev in devices:
                if not dev.powered:
                    time.sleep(POLL_S)
                    dev.power_on()
            time.sleep(POLL_S)

    thread = threading.Thread(target=watch, name="power-returns", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def quick_robot(site: Site, library: str = "lib1") -> Any:
    """The site's ``TapeLibrary`` with robot retries 1 ms apart (the same retry policy, no
    wall-clock wait), created with the catalog's media store as ``run_backup`` would."""
    from engine.catalog.media_store import CatalogMediaStore

    lib = site.library(library, store=CatalogMediaStore(site.catalog()))
    lib.robot.delay_s = 0.001
    return lib


def sim_changer(site: Site, library: str = "lib1") -> Any:
    """The in-process hwsim changer (its ``door_open`` is the library's main door)."""
    return site.endpoints(library).changer.device
