"""The periodic work ``tapir server`` runs besides dispatching and sweeping.

``server_ticks`` is the one place a new periodic job of the server is added (the scheduler's
tick that submits due jobs and marks missed windows, the timeout watchdog, notifications):
each is ``(name, interval_s, callable)``, called from the server's loop thread; it must not
block for long, and an exception it raises is reported and the loop goes on
(engine/manager/server.py).
"""

from __future__ import annotations

from engine.catalog.db import Catalog
from engine.manager.clock import Clock
from engine.manager.config import ManagerConfig
from engine.manager.server import Tick


def server_ticks(catalog: Catalog, config: ManagerConfig, clock: Clock) -> list[Tick]:
    """The extra ticks of ``tapir server`` (none yet)."""
    return []
