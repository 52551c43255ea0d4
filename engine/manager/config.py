"""The manager's configuration: storage policies and their streams, drive pools, leases,
the sweeper's interval and per-type overrides. One TOML file, ``$TAPIR_MANAGER_CONFIG`` or
``<config dir>/manager.toml``; without it every default applies. Schema::

    lease_s = 60                    # a holder that has not heart-beaten for this long is dead
    heartbeat_s = 15                # how often a running job renews its lease
    cleanup_interval_min = 1440     # the sweeper's interval (seed 004 default; 0: every tick)
    dispatch_interval_s = 2         # the server's dispatcher pass when nothing was released

    [storage_policies.nightly]      # a backup to this target takes one of its streams
    target = "lib1"
    streams = 2

    [drive_pools.fast]              # default: one pool per library with all its drives
    library = "lib1"
    drives = ["drive0"]

    [job_types.restore]             # any field of jobtypes.JobType, and the retry policy
    preemptable = false
    retry_interval_s = 1200
    retry_max_attempts = 144
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.manager.jobtypes import JobType, job_type
from engine.paths import config_dir

CONFIG_ENV = "TAPIR_MANAGER_CONFIG"
CONFIG_FILE = "manager.toml"
DEFAULT_LEASE_S = 60.0
"""Long enough for a catalog write stalled behind a big checkpoint commit; short enough that a
dead holder's drive is back within a minute once the sweeper runs."""
DEFAULT_HEARTBEAT_S = 15.0
"""A quarter of the lease: three heartbeats may be late before the holder counts as dead."""
DEFAULT_CLEANUP_MIN = 1440.0
"""Seed 004: the media and drive reservations of killed jobs are cleaned up every 1440 min."""
DEFAULT_DISPATCH_S = 2.0
TYPE_KEYS = {
    "preemptable",
    "restartable",
    "preempts",
    "phases",
    "retry_interval_s",
    "retry_max_attempts",
}


class ManagerConfigError(Exception):
    code = "manager.config"


@dataclass(frozen=True, slots=True)
class StoragePolicy:
    name: str
    target: str
    streams: int


@dataclass(frozen=True, slots=True)
class DrivePool:
    name: str
    library: str
    drives: tuple[str, ...]


@dataclass(frozen=True)
class ManagerConfig:
    lease_s: float = DEFAULT_LEASE_S
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    cleanup_interval_min: float = DEFAULT_CLEANUP_MIN
    dispatch_interval_s: float = DEFAULT_DISPATCH_S
    storage_policies: Mapping[str, StoragePolicy] = field(default_factory=dict)
    drive_pools: Mapping[str, DrivePool] = field(default_factory=dict)
    job_types: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def job_type(self, name: str) -> JobType:
        return job_type(name, self.job_types)

    def policy_for(self, target: str, named: str | None = None) -> StoragePolicy | None:
        """The storage policy named, else the one whose target is ``target`` (or its
        library, for ``LIB:DRIVE``); None when no policy limits the streams."""
        if named is not None:
            if named not in self.storage_policies:
                raise ManagerConfigError(f"No storage policy {named!r} in the manager config.")
            return self.storage_policies[named]
        library = target.split(":", 1)[0]
        for policy in self.storage_policies.values():
            if policy.target in (target, library):
                return policy
        return None

    def pool_of_drive(self, library: str, drive: str | None) -> str:
        """The drive pool a library's drives are reserved in (a configured pool holding
        ``drive``, else the library itself)."""
        for pool in self.drive_pools.values():
            if pool.library == library and (drive is None or drive in pool.drives):
                return pool.name
        return library


def config_path() -> Path:
    if env := os.environ.get(CONFIG_ENV):
        return Path(env).expanduser()
    return config_dir() / CONFIG_FILE


def load_manager_config(path: Path | None = None) -> ManagerConfig:
    path = path or config_path()
    if not path.exists():
        if os.environ.get(CONFIG_ENV):
            raise ManagerConfigError(f"{path}: no such file")
        return ManagerConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ManagerConfigError(f"{path}: cannot read: {exc}") from None
    return parse_manager_config(raw, str(path))


def parse_manager_config(raw: Mapping[str, Any], source: str) -> ManagerConfig:
    """Validate the TOML tables; each problem is one ``ManagerConfigError`` naming the key."""

    def number(key: str, default: float) -> float:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ManagerConfigError(f"{source}: {key} must be a number >= 0, not {value!r}")
        return float(value)

    known = {
        "lease_s",
        "heartbeat_s",
        "cleanup_interval_min",
        "dispatch_interval_s",
        "storage_policies",
        "drive_pools",
        "job_types",
    }
    if unknown := sorted(set(raw) - known):
        raise ManagerConfigError(f"{source}: unknown key {unknown[0]!r}")
    policies = {}
    for name, table in dict(raw.get("storage_policies", {})).items():
        streams = table.get("streams")
        if not isinstance(streams, int) or isinstance(streams, bool) or streams < 1:
            raise ManagerConfigError(
                f"{source}: storage_policies.{name}.streams must be an integer >= 1"
            )
        if not isinstance(table.get("target"), str):
            raise ManagerConfigError(f"{source}: storage_policies.{name}.target must be a string")
        policies[name] = StoragePolicy(name, table["target"], streams)
    pools = {}
    for name, table in dict(raw.get("drive_pools", {})).items():
        drives = table.get("drives")
        if not isinstance(table.get("library"), str) or not isinstance(drives, list):
            raise ManagerConfigError(
                f"{source}: drive_pools.{name} needs library (a string) and drives (an array)"
            )
        pools[name] = DrivePool(name, table["library"], tuple(str(d) for d in drives))
    types = {}
    for name, table in dict(raw.get("job_types", {})).items():
        if unknown := sorted(set(table) - TYPE_KEYS):
            raise ManagerConfigError(f"{source}: job_types.{name}: unknown key {unknown[0]!r}")
        types[name] = dict(table)
    return ManagerConfig(
        lease_s=number("lease_s", DEFAULT_LEASE_S),
        heartbeat_s=number("heartbeat_s", DEFAULT_HEARTBEAT_S),
        cleanup_interval_min=number("cleanup_interval_min", DEFAULT_CLEANUP_MIN),
        dispatch_interval_s=number("dispatch_interval_s", DEFAULT_DISPATCH_S),
        storage_policies=policies,
        drive_pools=pools,
        job_types=types,
    )
