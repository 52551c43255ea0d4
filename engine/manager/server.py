"""The ``tapir server`` loop: dispatcher passes, the sweeper, and any periodic ticks.

Each pass takes the jobs any server may run (no foreground owner), best first, and starts
every one that gets its resources in a worker thread (up to ``max_jobs`` at once), each with
its own ``Site`` (a Site is one thread's). Passes run every ``dispatch_interval_s`` and at
once when something was released (the ``released`` counter moved). The sweeper runs every
``cleanup_interval_min`` (0: every pass). ``ticks`` are extra periodic work (the scheduler
adds its own): ``(name, interval_s, callable)``; a tick that raises is reported and the loop
goes on.

``stop`` (SIGTERM/SIGINT in the CLI) ends the loop: preemptable running jobs stop at their next
checkpoint and are queued again (they resume later), the others are waited for; every
reservation is released.

Simulated libraries: several Sites in one process need the hwsim daemon (``tapir sim start``);
the in-process simulator belongs to one Site.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.catalog.db import Catalog
from engine.manager import queue
from engine.manager.clock import SYSTEM_CLOCK, Clock
from engine.manager.config import ManagerConfig
from engine.manager.dispatcher import Dispatcher
from engine.manager.executors import EXECUTORS, unsupported
from engine.manager.probe import SiteProber
from engine.manager.reservations import Reservations
from engine.manager.runner import Executor, JobContext, run_granted
from engine.manager.sweeper import Sweeper

Tick = tuple[str, float, Callable[[], None]]
POLL_S = 0.25
"""How often the loop looks at the ``released`` counter between passes."""
DEFAULT_MAX_JOBS = 4


@dataclass
class _Worker:
    ctx: JobContext
    thread: threading.Thread


@dataclass
class Server:
    site_factory: Callable[[], Any]
    """A new ``Site`` (the dispatcher's, and one per worker thread)."""
    catalog: Catalog
    config: ManagerConfig
    clock: Clock = SYSTEM_CLOCK
    max_jobs: int = DEFAULT_MAX_JOBS
    ticks: list[Tick] = field(default_factory=list)
    log: Callable[[str], None] = print
    executors: Mapping[str, Executor] = field(default_factory=lambda: EXECUTORS)
    """Job type -> what runs it (executors.py); a type missing here ends FAILED_TO_START."""
    stopping: threading.Event = field(default_factory=threading.Event)
    _workers: dict[int, _Worker] = field(default_factory=dict)

    def run(self) -> None:
        """Serve until ``stop``; returns once every worker ended and released."""
        site = self.site_factory()
        try:
            dispatcher = Dispatcher(
                self.catalog, self.config, SiteProber(site, self.config), clock=self.clock
            )
            sweeper = Sweeper(self.catalog, self.config, clock=self.clock)
            ticks = [("sweeper", self.config.cleanup_interval_min * 60.0, sweeper.sweep)]
            ticks += self.ticks
            due = dict.fromkeys((name for name, _, _ in ticks), 0.0)
            next_pass, seen = 0.0, -1
            while not self.stopping.is_set():
                now = time.monotonic()
                for name, every, tick in ticks:
                    if now >= due[name]:
                        due[name] = now + every
                        self._tick(name, tick)
                released = queue.counter(self.catalog)
                if now >= next_pass or released != seen:
                    seen = released
                    next_pass = now + self.config.dispatch_interval_s
                    self._pass(dispatcher)
                self.stopping.wait(POLL_S)
        finally:
            self._shutdown()
            site.close()

    def stop(self) -> None:
        self.stopping.set()

    def _tick(self, name: str, tick: Callable[[], Any]) -> None:
        try:
            tick()
        except Exception as exc:  # a tick's failure is reported, the server goes on
            self.log(f"tapir server: {name} failed: {exc}")

    def _pass(self, dispatcher: Dispatcher) -> None:
        self._reap()
        for job in dispatcher.eligible():
            if len(self._workers) >= self.max_jobs:
                return
            if job.id in self._workers:
                continue
            attempt = dispatcher.attempt(job)
            if attempt.grant is None or attempt.holder is None:
                continue
            reservations = Reservations(self.catalog, lease_s=self.config.lease_s, clock=self.clock)
            ctx = JobContext(
                job,
                attempt.grant,
                attempt.holder,
                self.catalog,
                None,
                self.config,
                reservations,
                actor="tapir-server",
                clock=self.clock,
            )
            ctx.extras["shutdown"] = self.stopping
            thread = threading.Thread(
                target=self._work, args=(ctx,), name=f"tapir-job-{job.id}", daemon=True
            )
            self._workers[job.id] = _Worker(ctx, thread)
            self.log(f"tapir server: job {job.id} ({job.type}) started")
            thread.start()

    def _work(self, ctx: JobContext) -> None:
        site = self.site_factory()
        ctx.site = site
        try:
            run_granted(ctx, self.executors.get(ctx.job.type, unsupported))
        except Exception as exc:  # the job recorded its failure; the server goes on
            self.log(f"tapir server: job {ctx.job.id} failed: {exc}")
        finally:
            site.close()

    def _reap(self) -> None:
        for job_id, worker in list(self._workers.items()):
            if not worker.thread.is_alive():
                del self._workers[job_id]
                self.log(f"tapir server: job {job_id} left the server")

    def _shutdown(self) -> None:
        for worker in self._workers.values():
            worker.thread.join()
        self._workers.clear()
