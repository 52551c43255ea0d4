"""Helpers of the manager tests: a site over a small simulated library (two drives), jobs
with explicit resources, and a dispatcher bound to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import JobState
from engine.manager import queue
from engine.manager.clock import ManualClock
from engine.manager.config import ManagerConfig, StoragePolicy
from engine.manager.dispatcher import Dispatcher
from engine.manager.probe import SiteProber
from engine.site import Site
from tests.engine.backup.backup_util import make_site

CONFIG = ManagerConfig(
    lease_s=30.0,
    heartbeat_s=0.2,
    cleanup_interval_min=0.0,
    storage_policies={"P": StoragePolicy("P", "lib1", 2)},
)


def site_at(tmp: Path) -> Site:
    return make_site(tmp)


def add_job(
    site: Site,
    type_: str,
    resources: list[dict[str, Any]],
    *,
    priority: int = 100,
    owner: str | None = None,
    clock: ManualClock | None = None,
) -> int:
    jobs = JobsStore(site.catalog())
    job_id = jobs.create_job(type_, f"{type_} {resources}", {"resources": resources}, priority)
    queue.submit(site.catalog(), job_id, owner=owner, **({"clock": clock} if clock else {}))
    return job_id


def dispatcher(site: Site, clock: ManualClock, config: ManagerConfig = CONFIG) -> Dispatcher:
    return Dispatcher(site.catalog(), config, SiteProber(site, config), clock=clock)


def start(site: Site, job_id: int) -> None:
    """What the runner does first: the job is RUNNING with a run open."""
    jobs = JobsStore(site.catalog())
    jobs.transition(job_id, JobState.RUNNING, actor="test", reason="Started.")
    jobs.start_run(job_id)


ONE_DRIVE_LIBRARY = """
[library]
name = "one"
serial = "ONE0000001"
slots = 6
ie_slots = 1

[[drives]]
name = "drive0"
model = "LTO-8"
serial = "DRV1000001"

[[cartridge_range]]
prefix = "TST"
first = 1
count = 3
suffix = "L8"
slot = 1
capacity = "256MiB"
"""


def daemon_site_config(tmp: Path, library: str = ONE_DRIVE_LIBRARY) -> tuple[Any, Any]:
    """A hwsim daemon serving a fresh library, and a site configuration naming it ``lib1``
    (so several Sites, threads and processes share the library)."""
    from engine.site_config import LibrarySpec, SiteConfig
    from tests.hwsim.daemon_util import Daemon

    config_file = tmp / "library.toml"
    config_file.write_text(library)
    state = tmp / "state"
    daemon = Daemon(state).start(config_file)
    site_config = SiteConfig(
        libraries=(LibrarySpec("lib1", state_dir=state),),
        catalog=f"sqlite:///{tmp / 'catalog.sqlite'}",
    )
    return daemon, site_config


def site_config_toml(tmp: Path) -> Path:
    """The same site as a tapir.toml for CLI subprocesses."""
    path = tmp / "tapir.toml"
    path.write_text(
        f'catalog = "sqlite:///{tmp / "catalog.sqlite"}"\n\n'
        f'[[libraries]]\nname = "lib1"\nhwsim = "{tmp / "state"}"\n'
    )
    return path


def wait_until(predicate: Any, what: str, timeout_s: float = 60.0) -> None:
    """Poll ``predicate`` (bounded: a failure names what never happened)."""
    import time

    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)
