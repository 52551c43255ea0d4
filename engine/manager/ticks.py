"""The periodic work ``tapir server`` runs besides dispatching and sweeping.

``server_ticks`` is the one place a new periodic job of the server is added (the scheduler's
tick that submits due jobs and marks missed windows, the timeout watchdog, notifications):
each is ``(name, interval_s, callable)``, called from the server's loop thread; it must not
block for long, and an exception it raises is reported and the loop goes on
(engine/manager/server.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.catalog.db import Catalog
from engine.manager.clock import Clock
from engine.manager.config import ManagerConfig
from engine.manager.server import Tick


def server_ticks(
    catalog: Catalog,
    config: ManagerConfig,
    clock: Clock,
    *,
    definitions: Path | None = None,
    log_line: Callable[[str], None] | None = None,
) -> list[Tick]:
    """The extra ticks of ``tapir server``: the scheduler's and the notifier's, over the job
    definitions file ``definitions`` (default: engine/schedule/store.py ``definitions_path``);
    what they do is reported through ``log_line`` (engine/schedule/ticks.py)."""
    from engine.schedule.store import definitions_path
    from engine.schedule.ticks import server_ticks as schedule_ticks

    path = definitions if definitions is not None else definitions_path()
    return schedule_ticks(catalog, path, clock=clock, log_line=log_line)
