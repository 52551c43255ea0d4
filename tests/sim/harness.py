"""Running one scenario (scenario.py) against the in-process hwsim: the source tree, the site,
the faults armed, the backup job run under a watchdog, then what the operator does (power,
drives, door, mount paths back, faults cleared) and a retry of the job from its checkpoint.

A SIGKILL scenario runs the first attempt in a child process (child.py) that kills itself at
the chosen checkpoint; the harness then plays the job manager's sweeper (the run ends FAILED,
the job is queued again) and runs the job again, resuming from the checkpoint.
"""

from __future__ import annotations

import os
import random
import shutil
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
from engine.backup.job import BackupSpec, RunOutcome, run_backup
from engine.backup.pipeline import PipelineOptions
from engine.catalog.jobs_store import JobsStore
from engine.catalog.media_store import CatalogMediaStore
from engine.jobs.states import SUCCESS_STATUSES, CompletionStatus, JobState
from engine.site import Site
from engine.site_config import LibrarySpec, MountPathSpec, SiteConfig
from tests.engine.backup.fault_util import power_returns, quick_robot
from tests.sim.scenario import DRIVES, LIBRARY, RECORD, Scenario

HANG_S = 120.0
"""A run still going after this long is a hang (the runs here take well under a second)."""
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    scenario: Scenario
    src: Path
    root: Path
    outcomes: list[RunOutcome] = field(default_factory=list)
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


def site_config(root: Path) -> SiteConfig:
    (root / "library.toml").write_text(LIBRARY)
    lib = LibrarySpec(
        "lib1", state_dir=root / "state", hwsim_config=root / "library.toml", create=True
    )
    mounts = tuple(MountPathSpec(root / name, reserve_bytes=0) for name in ("disk1", "disk2"))
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


def watched(run: Callable[[], RunOutcome]) -> RunOutcome:
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
    """A ``should_stop`` that never stops but makes the mount path fault at its checkpoint."""
    if scenario.disk_fault is None:
        return None
    calls: list[int] = []

    def hook() -> bool:
        calls.append(1)
        if len(calls) == scenario.disk_fault_at:
            if scenario.disk_fault == "disabled":
                mount = DiskMountPath(root / "disk1", CatalogMediaStore(site.catalog()))
                mount.set_enabled(False, actor="sim", reason="Disabled by the simulation.")
            else:
                shutil.move(root / "disk1", root / "disk1-away")
        return False

    return hook


def run_scenario(scenario: Scenario, root: Path) -> Result:
    src = build_tree(scenario, root)
    result = Result(scenario, src, root)
    config = site_config(root)
    if scenario.kill_at is not None:
        result.killed = run_child(scenario, root)
    with Site(config) as site:
        quick_robot(site)
        jobs = JobsStore(site.catalog())
        job_id = None
        if result.killed:
            job_id = sweep(jobs)
        else:
            faults = site.endpoints("lib1").changer.device.faults
            for fault in scenario.faults:
                faults.arm(dict(fault))
            hook = disk_hook(scenario, root, site)
            spec = backup_spec(scenario, src, root, hook)
            returns = power_returns(site) if scenario.power_returns else nullcontext()
            with returns:
                result.outcomes.append(watched(lambda: run_backup(spec, site, actor="sim")))
            job_id = result.outcomes[-1].job_id
        plan = site.endpoints("lib1").changer.device.faults
        result.fired = [f"{f.kind} on {f.target}" for f in plan.fired]
        operator_fixes(site, root)
        spec = backup_spec(scenario, src, root, None)
        if result.killed:
            result.outcomes.append(watched(lambda: run_backup(spec, site, job_id=job_id)))
        if result.outcomes[-1].status not in SUCCESS_STATUSES:
            last = result.outcomes[-1].job_id
            result.outcomes.append(watched(lambda: run_backup(spec, site, resume_from=last)))
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


def sweep(jobs: JobsStore) -> int:
    """What the job manager's sweeper does for a run whose process died: the run ends FAILED
    with the reason, the job is queued again (its next run resumes from the checkpoint)."""
    (row,) = jobs.list_jobs()
    job_id = row.job.id
    run = jobs.open_run(job_id)
    assert run is not None, "a killed run is still open until the sweeper ends it"
    jobs.end_run(run.id, CompletionStatus.FAILED, error="The engine process died (SIGKILL).")
    jobs.transition(job_id, JobState.QUEUED, actor="sweeper", reason="Its holder died.")
    return job_id


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
    away = root / "disk1-away"
    if away.exists():
        shutil.move(away, root / "disk1")
    mount = DiskMountPath(root / "disk1", store)
    if store.get_mount_path(os.path.abspath(root / "disk1")) and not mount.enabled:
        mount.set_enabled(True, actor="sim", reason="Back in service.")
