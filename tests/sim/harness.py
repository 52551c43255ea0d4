"""Running one scenario (scenario.py) against the in-process hwsim: the source tree, the site,
the faults armed, the backup job run under a watchdog, then what the operator does (power,
drives, door, mount paths back, faults cleared) and a retry of the job from its checkpoint.

Every job runs through the job manager (managed.py), as the CLI and the server run them.
A SIGKILL scenario runs the first attempt in a child process (child.py, itself a managed
``tapir backup``) that kills itself at the chosen checkpoint, leaving its lease and
reservations behind; then either ``tapir backup --resume N`` or a restarted ``tapir server``
finds the holder dead, its sweeper ends the run (RESUMED and queued again, or FAILED when the
backup type is configured not to restart) and releases what it held, and the job runs again
from the checkpoint (a FAILED one as a new job continuing it).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.disk import DiskMountPath
from devices.media_rules import set_drive_state
from engine.backup.job import BackupSpec
from engine.backup.pipeline import PipelineOptions
from engine.catalog.jobs_store import JobsStore
from engine.catalog.media_store import CatalogMediaStore
from engine.jobs.states import SUCCESS_STATUSES
from engine.site import Site
from engine.site_config import LibrarySpec, MountPathSpec, SiteConfig
from hwsim.disk import DISK_FAULTS, DiskFault, DiskSpec, SimDisk
from tests.engine.backup.fault_util import power_returns, quick_robot
from tests.sim.managed import (
    Ended,
    manager_config,
    resume_as_cli,
    run_as_cli,
    serve_until_idle,
)
from tests.sim.scenario import DRIVES, LIBRARY, RECORD, Scenario

HANG_S = 120.0
"""A run still going after this long is a hang (the runs here take well under a second)."""
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    scenario: Scenario
    src: Path
    root: Path
    outcomes: list[Ended] = field(default_factory=list)
    killed: bool = False
    fired: list[str] = field(default_factory=list)
    """The hwsim faults that fired (kind on target), for the soak's summary."""


def build_tree(scenario: Scenario, root: Path) -> Path:
    """The source tree; each file's bytes come from the seed and its path."""
    src = root / "src"
    src.mkdir()
    for rel, size in scenario.files:
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(random.Random(f"{scenario.seed}:{rel}").randbytes(size))
    return src


def site_config(root: Path, scenario: Scenario) -> SiteConfig:
    """The library and two mount paths of one pool; the first sits on a simulated disk
    (hwsim/disk.py) with the scenario's capacity and its ``full`` or ``gone`` fault."""
    (root / "library.toml").write_text(LIBRARY)
    lib = LibrarySpec(
        "lib1", state_dir=root / "state", hwsim_config=root / "library.toml", create=True
    )
    faults = ()
    if scenario.disk_fault in DISK_FAULTS and scenario.capacity is None:
        faults = (DiskFault(scenario.disk_fault, scenario.disk_fault_at),)
    disk = DiskSpec(scenario.capacity, faults)
    mounts = (
        MountPathSpec(root / "disk1", reserve_bytes=0, sim=disk),
        MountPathSpec(root / "disk2", reserve_bytes=0),
    )
    for m in mounts:
        m.path.mkdir(exist_ok=True)
    return SiteConfig(
        libraries=(lib,), mount_paths=mounts, catalog=f"sqlite:///{root / 'catalog.sqlite'}"
    )


def backup_spec(scenario: Scenario, src: Path, root: Path, hook: Callable[[], bool] | None):
    target = "lib1" if scenario.target == "tape" else str(root / "disk1")
    return BackupSpec(
        str(src),
        target,
        record_size=RECORD,
        checkpoint_bytes=scenario.checkpoint_bytes,
        restarts=scenario.restarts,
        drive_wait_s=0.5 if scenario.power_returns else 0.05,
        tuning=PipelineOptions(batch_files=8, should_stop=hook),
        name="sim",
    )


def watched(run: Callable[[], Ended]) -> Ended:
    """``run()`` in a thread; a run that does not end within ``HANG_S`` fails the scenario."""
    box: list[Any] = []

    def body() -> None:
        try:
            box.append(run())
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=body, name="sim-job", daemon=True)
    thread.start()
    thread.join(HANG_S)
    assert not thread.is_alive(), f"the backup job hung (no end after {HANG_S} s)"
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def disk_hook(scenario: Scenario, root: Path, site: Site) -> Callable[[], bool] | None:
    """A ``should_stop`` that never stops but has an administrator disable the mount path at
    its checkpoint (a full or gone disk is the simulated disk's own fault)."""
    if scenario.disk_fault != "disabled":
        return None
    calls: list[int] = []

    def hook() -> bool:
        calls.append(1)
        if len(calls) == scenario.disk_fault_at:
            mount = DiskMountPath(root / "disk1", CatalogMediaStore(site.catalog()))
            mount.set_enabled(False, actor="sim", reason="Disabled by the simulation.")
        return False

    return hook


def run_scenario(scenario: Scenario, root: Path) -> Result:
    src = build_tree(scenario, root)
    result = Result(scenario, src, root)
    config = site_config(root, scenario)
    manager = manager_config(scenario.restartable)
    if scenario.target == "disk" and not scenario.spare_mount:
        with Site(config) as site:
            no_spare(site, root)
    if scenario.kill_at is not None:
        result.killed = run_child(scenario, root)
    with Site(config) as site:
        quick_robot(site)
        jobs = JobsStore(site.catalog())
        if not result.killed:
            faults = site.endpoints("lib1").changer.device.faults
            for fault in scenario.faults:
                faults.arm(dict(fault))
            hook = disk_hook(scenario, root, site)
            spec = backup_spec(scenario, src, root, hook)
            returns = power_returns(site) if scenario.power_returns else nullcontext()
            with returns:
                result.outcomes.append(watched(lambda: run_as_cli(site, manager, spec)))
        plan = site.endpoints("lib1").changer.device.faults
        result.fired = [f"{f.kind} on {f.target}" for f in plan.fired]
        disk = site.disk_os(config.mount_paths[0])
        result.fired += [f"disk {f.kind} at byte {f.at_byte}" for f in getattr(disk, "fired", [])]
        operator_fixes(site, root)
        spec = backup_spec(scenario, src, root, None)
        if result.killed:
            (row,) = jobs.list_jobs()
            job_id = row.job.id
            assert jobs.open_run(job_id) is not None, "a killed run stays open until swept"
            if scenario.restart_by == "daemon":
                again = watched(lambda: serve_until_idle(site, manager, job_id))
            else:
                again = watched(lambda: resume_as_cli(site, manager, spec, job_id))
            result.outcomes.append(again)
        if result.outcomes[-1].status not in SUCCESS_STATUSES:
            last = result.outcomes[-1].job_id
            result.outcomes.append(
                watched(lambda: run_as_cli(site, manager, spec, resume_from=last))
            )
        from tests.sim.invariants import check_all

        check_all(site, result)
    return result


def run_child(scenario: Scenario, root: Path) -> bool:
    """The first attempt in a child process killing itself at checkpoint ``kill_at``; True if
    it was killed (a backup shorter than that ends normally)."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.sim.child", str(scenario.seed), str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    if proc.returncode == -9:
        return True
    assert proc.returncode == 0, proc.stderr
    return False


def no_spare(site: Site, root: Path) -> None:
    """The pool's second mount path is registered but disabled: a job cannot move there."""
    store = CatalogMediaStore(site.catalog())
    mount = DiskMountPath.register(root / "disk2", store, actor="sim", reserve_bytes=0)
    mount.set_enabled(False, actor="sim", reason="Disabled by the simulation (no spare).")


def operator_fixes(site: Site, root: Path) -> None:
    """Everything a fault left broken is put right, as an administrator would."""
    sim = site.endpoints("lib1")
    sim.changer.device.faults.clear()
    sim.changer.device.door_open = False
    for name in DRIVES:
        device = sim.drives[name].device
        device.offline = False
        device.power_on()
    store = CatalogMediaStore(site.catalog())
    for status in store.list_drives():
        if not status.up:
            set_drive_state(store, status.name, up=True, reason="Serviced.", actor="sim")
    disk = site.disk_os(site.config.mount_paths[0])
    assert isinstance(disk, SimDisk)
    disk.remount()  # the disk is mounted again, with room: a bigger one, space freed
    disk.clear()
    mount = DiskMountPath(root / "disk1", store)
    if store.get_mount_path(os.path.abspath(root / "disk1")) and not mount.enabled:
        mount.set_enabled(True, actor="sim", reason="Back in service.")
