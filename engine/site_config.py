"""The site configuration: which libraries, drives, disk mount paths and catalog this host uses.

One TOML file, found at ``$TAPIR_CONFIG`` or ``<config dir>/tapir.toml`` (engine/paths.py
``config_dir``). Without a file, the embedded default applies: one library ``lib1``, the
default simulated library (``engine.paths.default_sim_state_dir``, created on first use), so a
fresh install works with no setup. Schema::

    catalog = "sqlite:////var/lib/tapir/catalog.sqlite"   # default <data dir>/catalog.sqlite
    default_pool = "default"                               # pool of media labeled without --pool
    job_definitions = "jobs.toml"  # scheduled jobs (engine/schedule); default <data dir>/jobs.toml

    [[libraries]]                  # a real (or daemon-served) library: changer + drives
    name = "lib1"
    changer = "/dev/sg5"           # an endpoint (drivers/transport/endpoints.py)
    drives = { drive0 = "/dev/sg6", drive1 = "/dev/sg7" }
    pool = "offsite"               # overrides default_pool for media labeled in this library

    [[libraries]]                  # a simulated library (hwsim state directory)
    name = "sim"
    hwsim = "/srv/hwsim/sim"       # daemon socket if one serves it, else opened in-process
    hwsim_config = "sim.toml"      # optional: create the state from this library file

    [[drives]]                     # a standalone drive
    name = "lto9"
    endpoint = "/dev/sg3"

    [[mount_paths]]
    path = "/srv/backup/disk1"
    reserve = "10GiB"
    pool = "disk"
    hwsim = { capacity = "64MiB", faults = [{ kind = "gone", at_byte = 1048576 }] }
                                   # optional: the directory sits on a simulated disk
                                   # (hwsim/disk.py: its size; "full"/"gone" at a byte)

Relative paths are relative to the file's directory. Every problem is one ``SiteConfigError``
naming the file, the place and the problem ("tapir.toml: libraries[2]: ..."), counted from 1 as
an operator reads the file (the same style as hwsim/config.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.paths import config_dir, default_sim_state_dir

if TYPE_CHECKING:
    from hwsim.disk import DiskSpec

# The endpoint and size parsers (drivers.transport.endpoints, hwsim.config) and tomllib are
# imported where a configuration file is validated: ``tapir ls`` and ``tapir jobs list`` load
# the configuration only for its catalog URL, and without a file importing the simulator and
# the transports would be most of their start-up time (issue 5).

CONFIG_ENV = "TAPIR_CONFIG"
CONFIG_FILE = "tapir.toml"
DEFAULT_LIBRARY_NAME = "lib1"
DEFAULT_POOL = "default"
BUILTIN_SOURCE = "<built-in default configuration>"
DEFAULT_RESERVE = 2 * 1024**3  # devices.disk.DEFAULT_RESERVE_BYTES
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_POOL_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TOP_KEYS = {
    "catalog": str,
    "default_pool": str,
    "job_definitions": str,
    "libraries": list,
    "drives": list,
    "mount_paths": list,
}
_LIBRARY_KEYS = {
    "name": str,
    "changer": str,
    "drives": dict,
    "hwsim": str,
    "hwsim_config": str,
    "pool": str,
}
_DRIVE_KEYS = {"name": str, "endpoint": str}
_MOUNT_KEYS = {"path": str, "reserve": (int, str), "pool": str, "hwsim": dict}


class SiteConfigError(Exception):
    """A site configuration that cannot be used; ``str()`` is the whole sentence."""

    code = "site.config"

    def __init__(self, source: str, where: str, problem: str) -> None:
        super().__init__(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")
        self.source = source
        self.where = where
        self.problem = problem


class SiteError(Exception):
    """A name the configuration does not know (library, drive, barcode); one sentence."""

    code = "site.unknown"


@dataclass(frozen=True, slots=True)
class LibrarySpec:
    """One library. Either ``changer`` + ``drives`` endpoints, or a hwsim ``state_dir``."""

    name: str
    changer: str | None = None
    drives: tuple[tuple[str, str], ...] = ()
    state_dir: Path | None = None
    hwsim_config: Path | None = None
    create: bool = False  # create the simulated library on first use
    pool: str | None = None

    @property
    def simulated(self) -> bool:
        return self.state_dir is not None


@dataclass(frozen=True, slots=True)
class DriveSpec:
    name: str
    endpoint: str


@dataclass(frozen=True, slots=True)
class MountPathSpec:
    path: Path
    reserve_bytes: int = DEFAULT_RESERVE
    pool: str | None = None
    sim: DiskSpec | None = None
    """A simulated disk under the directory (tests, the simulator); None: the real one."""


@dataclass(frozen=True, slots=True)
class SiteConfig:
    libraries: tuple[LibrarySpec, ...] = ()
    drives: tuple[DriveSpec, ...] = ()
    mount_paths: tuple[MountPathSpec, ...] = ()
    catalog: str | None = None
    default_pool: str = DEFAULT_POOL
    source: str = BUILTIN_SOURCE
    job_definitions: Path | None = None
    """The job definitions file (engine/schedule/store.py); None: <data dir>/jobs.toml."""

    def library(self, name: str | None) -> LibrarySpec:
        """The library called ``name`` (None: the first one). SiteError naming the known ones."""
        if name is None and self.libraries:
            return self.libraries[0]
        for lib in self.libraries:
            if lib.name == name:
                return lib
        known = ", ".join(lib.name for lib in self.libraries) or "none"
        what = f"No library {name!r}" if name is not None else "No library"
        raise SiteError(
            f"{what} in {self.source} (libraries: {known}): name one of those, or add it "
            "to the site configuration."
        )

    def pool_for(self, library: LibrarySpec | None) -> str:
        return (library.pool if library is not None else None) or self.default_pool


def config_path() -> Path:
    """``$TAPIR_CONFIG`` or ``<config dir>/tapir.toml`` (which need not exist)."""
    if env := os.environ.get(CONFIG_ENV):
        return Path(env).expanduser()
    return config_dir() / CONFIG_FILE


def builtin_config() -> SiteConfig:
    """The embedded default: library ``lib1`` is the default simulated library."""
    lib = LibrarySpec(DEFAULT_LIBRARY_NAME, state_dir=default_sim_state_dir(), create=True)
    return SiteConfig(libraries=(lib,))


def load_site_config(path: Path | None = None) -> SiteConfig:
    """The configuration in force. Without ``path``: ``$TAPIR_CONFIG`` (which must exist), else
    ``<config dir>/tapir.toml`` if it exists, else the built-in default. SiteConfigError."""
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    path = path or config_path()
    if not explicit and not path.exists():
        return builtin_config()
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SiteConfigError(source, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteConfigError(source, "", f"cannot read: {exc}") from None
    return parse_site_config(text, source, base=path.absolute().parent)


def parse_site_config(text: str, source: str, *, base: Path) -> SiteConfig:
    """Validate TOML text; ``source`` names it in errors, relative paths start at ``base``."""
    import tomllib  # only when there is a file: see the imports above

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SiteConfigError(source, "", f"TOML syntax error: {exc}") from None
    return _Validator(source, base).run(raw)


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", list: "an array", dict: "a table"}.get(
        kind, kind.__name__
    )


def check_endpoint(endpoint: str) -> str | None:
    """Why ``endpoint`` is no endpoint form tapir knows, or None (nothing is opened)."""
    from drivers.transport.endpoints import HWSIM_SCHEME, SG_NODE, parse_hwsim  # see imports

    if endpoint.startswith(HWSIM_SCHEME):
        try:
            parse_hwsim(endpoint)
        except ValueError as exc:
            return str(exc)
        return None
    if SG_NODE.match(endpoint):
        return None
    return f"{endpoint!r} is not an endpoint; use /dev/sgN or hwsim:/path/to/state#DEVICE"


class _Validator:
    def __init__(self, source: str, base: Path) -> None:
        self.source = source
        self.base = base

    def fail(self, where: str, problem: str) -> SiteConfigError:
        return SiteConfigError(self.source, where, problem)

    def table(self, raw: Any, where: str, keys: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise self.fail(where, "must be a table")
        unknown = sorted(set(raw) - set(keys))
        if unknown:
            known = ", ".join(sorted(keys))
            raise self.fail(where, f"unknown key {unknown[0]!r}; known keys: {known}")
        for key, value in raw.items():
            kinds = keys[key] if isinstance(keys[key], tuple) else (keys[key],)
            if isinstance(value, bool) or not isinstance(value, kinds):
                names = " or ".join(_type_name(k) for k in kinds)
                raise self.fail(where, f"{key} must be {names}, not {value!r}")
        return dict(raw)

    def path(self, text: str) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.base / path

    def name(self, where: str, value: Any, what: str) -> str:
        if not isinstance(value, str) or not _NAME_RE.match(value):
            raise self.fail(where, f"{what} {value!r} must be 1..32 of A-Z a-z 0-9 _ . -")
        return value

    def pool(self, where: str, value: str | None) -> str | None:
        if value is not None and not _POOL_RE.match(value):
            raise self.fail(where, f"pool {value!r} must be 1..64 of A-Z a-z 0-9 _ . -")
        return value

    def endpoint(self, where: str, value: str) -> str:
        problem = check_endpoint(value)
        if problem:
            raise self.fail(where, problem)
        return value

    def run(self, raw: Mapping[str, Any]) -> SiteConfig:
        top = self.table(raw, "", _TOP_KEYS)
        default_pool = self.pool("default_pool", top.get("default_pool")) or DEFAULT_POOL
        catalog = top.get("catalog")
        if catalog is not None and not catalog.strip():
            raise self.fail("catalog", "must be a SQLAlchemy URL, not empty")
        definitions = top.get("job_definitions")
        if definitions is not None and not definitions.strip():
            raise self.fail("job_definitions", "must be a file path, not empty")
        libraries = [
            self.library(f"libraries[{i}]", entry)
            for i, entry in enumerate(top.get("libraries", []), 1)
        ]
        drives = [
            self.drive(f"drives[{i}]", entry) for i, entry in enumerate(top.get("drives", []), 1)
        ]
        mounts = [
            self.mount(f"mount_paths[{i}]", entry)
            for i, entry in enumerate(top.get("mount_paths", []), 1)
        ]
        self.unique("libraries", [lib.name for lib in libraries], "library name")
        self.unique("drives", [d.name for d in drives], "drive name")
        self.unique("mount_paths", [str(m.path) for m in mounts], "path")
        return SiteConfig(
            libraries=tuple(libraries),
            drives=tuple(drives),
            mount_paths=tuple(mounts),
            catalog=catalog,
            default_pool=default_pool,
            source=self.source,
            job_definitions=self.path(definitions) if definitions else None,
        )

    def unique(self, section: str, names: list[str], what: str) -> None:
        seen: set[str] = set()
        for i, name in enumerate(names, 1):
            if name in seen:
                raise self.fail(f"{section}[{i}]", f"{what} {name!r} is used twice")
            seen.add(name)

    def library(self, where: str, entry: Any) -> LibrarySpec:
        lib = self.table(entry, where, _LIBRARY_KEYS)
        if "name" not in lib:
            raise self.fail(where, "name is required")
        name = self.name(where, lib["name"], "name")
        pool = self.pool(where, lib.get("pool"))
        if "hwsim" in lib:
            if "changer" in lib or "drives" in lib:
                raise self.fail(
                    where, "give either hwsim (a simulated library) or changer + drives, not both"
                )
            config = lib.get("hwsim_config")
            return LibrarySpec(
                name,
                state_dir=self.path(lib["hwsim"]),
                hwsim_config=self.path(config) if config else None,
                create=config is not None,
                pool=pool,
            )
        if "hwsim_config" in lib:
            raise self.fail(where, "hwsim_config needs hwsim (the state directory)")
        if "changer" not in lib:
            raise self.fail(where, "needs changer (an endpoint) and drives, or hwsim")
        changer = self.endpoint(where, lib["changer"])
        drives = []
        for drive, endpoint in lib.get("drives", {}).items():
            self.name(f"{where}.drives", drive, "drive name")
            if not isinstance(endpoint, str):
                raise self.fail(f"{where}.drives", f"{drive} must be an endpoint string")
            drives.append((drive, self.endpoint(f"{where}.drives.{drive}", endpoint)))
        if not drives:
            raise self.fail(where, "drives must name at least one drive: { drive0 = ENDPOINT }")
        return LibrarySpec(name, changer=changer, drives=tuple(drives), pool=pool)

    def drive(self, where: str, entry: Any) -> DriveSpec:
        d = self.table(entry, where, _DRIVE_KEYS)
        for key in ("name", "endpoint"):
            if key not in d:
                raise self.fail(where, f"{key} is required")
        return DriveSpec(self.name(where, d["name"], "name"), self.endpoint(where, d["endpoint"]))

    def mount(self, where: str, entry: Any) -> MountPathSpec:
        m = self.table(entry, where, _MOUNT_KEYS)
        if "path" not in m:
            raise self.fail(where, "path is required")
        from hwsim.config import parse_size  # see the imports at the top
        from hwsim.disk import DiskSpecError, parse_disk

        try:
            reserve = parse_size(m.get("reserve", DEFAULT_RESERVE))
        except ValueError as exc:
            raise self.fail(where, f"reserve: {exc}") from None
        sim = None
        if "hwsim" in m:
            table = dict(m["hwsim"])
            try:
                if "capacity" in table:
                    table["capacity"] = parse_size(table["capacity"])
                sim = parse_disk(table)
            except (ValueError, DiskSpecError) as exc:
                raise self.fail(f"{where}.hwsim", str(exc)) from None
        return MountPathSpec(self.path(m["path"]), reserve, self.pool(where, m.get("pool")), sim)
