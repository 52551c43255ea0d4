"""Opening what the site configuration (engine/site_config.py) declares, for one command.

``Site`` opens libraries, drives and the catalog on demand and closes them together
(``with Site(config) as site:``). A configured library is a changer endpoint plus drive
endpoints (drivers/transport/endpoints.py). A simulated library (``hwsim = STATE``) is reached
through its daemon's socket when a daemon serves the state directory, and otherwise opened
in-process (``hwsim.library.SimLibrary``, which takes the state directory's lock) with
``HwsimLocalTransport``s; ``close`` then flushes and saves the simulated library, so state
persists from one command to the next exactly as it does under a daemon.

Drive names: ``LIB:DRIVE`` (a drive of a library), a standalone drive's name, a drive name
that exactly one library has, or an endpoint string (/dev/sgN, hwsim:STATE#DRIVE).

Not thread-safe: one command, one thread.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devices.disk import REAL_OS, DiskOs
from devices.media import MediaStore
from devices.tape_drive import TapeDrive
from devices.tape_library import TapeLibrary
from drivers.transport.contract import Transport, TransportError
from drivers.transport.endpoints import open_endpoint
from drivers.transport.hwsim_local import HwsimLocalTransport
from drivers.transport.hwsim_socket import HwsimConnection, HwsimSocketTransport
from engine.site_config import (
    DriveSpec,
    LibrarySpec,
    MountPathSpec,
    SiteConfig,
    SiteError,
    check_endpoint,
)
from hwsim.config import CHANGER_NAME, load_config
from hwsim.disk import SimDisk
from hwsim.library import SimLibrary, StateError
from hwsim.server import socket_path_for
from hwsim.state import holds_library

if TYPE_CHECKING:
    from engine.catalog.db import Catalog
    from engine.catalog.media_store import CatalogMediaStore

__all__ = ["LibraryEndpoints", "Site", "SiteError", "daemon_serving"]

DRIVE_SEPARATOR = ":"
ENDPOINT_PREFIXES = ("/dev/", "hwsim:")


@dataclass(frozen=True)
class LibraryEndpoints:
    """How a library is reached: ``mode`` is "daemon", "in-process" or "endpoint"; ``where``
    shows the endpoint of each device (``changer`` first)."""

    spec: LibrarySpec
    changer: Transport
    drives: dict[str, Transport]
    mode: str
    where: dict[str, str]


def daemon_serving(state_dir: Path) -> dict[str, Any] | None:
    """The HELLO info of the hwsim daemon serving ``state_dir``, or None if none answers."""
    path = socket_path_for(state_dir)
    if not path.exists():
        return None
    conn = HwsimConnection(path)
    try:
        return conn.hello()
    except TransportError:
        return None
    finally:
        conn.close()


class Site:
    """The configured devices and catalog of one command; everything opened is closed once."""

    def __init__(self, config: SiteConfig, *, catalog_url: str | None = None) -> None:
        self.config = config
        self.catalog_url = catalog_url or config.catalog
        self._stack = contextlib.ExitStack()
        self._endpoints: dict[str, LibraryEndpoints] = {}
        self._libraries: dict[str, TapeLibrary] = {}
        self._catalog: Catalog | None = None
        self._disks: dict[str, DiskOs] = {}

    # --- libraries ---------------------------------------------------------------------------

    def library_spec(self, name: str | None) -> LibrarySpec:
        return self.config.library(name)

    def endpoints(self, name: str | None) -> LibraryEndpoints:
        """Transports to the changer and drives of library ``name`` (opened once per Site)."""
        spec = self.library_spec(name)
        if spec.name not in self._endpoints:
            self._endpoints[spec.name] = self._open_endpoints(spec)
        return self._endpoints[spec.name]

    def _open_endpoints(self, spec: LibrarySpec) -> LibraryEndpoints:
        if spec.state_dir is None:
            assert spec.changer is not None
            changer = self._open(spec.changer, f"{spec.name}:{CHANGER_NAME}")
            drives = {d: self._open(e, f"{spec.name}:{d}") for d, e in spec.drives}
            where = {CHANGER_NAME: spec.changer, **dict(spec.drives)}
            return LibraryEndpoints(spec, changer, drives, "endpoint", where)
        state = spec.state_dir
        hello = daemon_serving(state)
        if hello is not None:
            names = [d for d in hello.get("devices", []) if d != CHANGER_NAME]
            sock = socket_path_for(state)
            changer = self._socket(sock, CHANGER_NAME, spec.name)
            drives = {d: self._socket(sock, d, spec.name) for d in names}
            where = {d: f"hwsim:{state}#{d}" for d in (CHANGER_NAME, *names)}
            return LibraryEndpoints(spec, changer, drives, "daemon", where)
        sim = self._open_sim(spec)
        changer = HwsimLocalTransport(sim.changer, name=f"{spec.name}:{CHANGER_NAME}")
        drives: dict[str, Transport] = {
            d: HwsimLocalTransport(dev, name=f"{spec.name}:{d}") for d, dev in sim.drives.items()
        }
        where = {d: f"hwsim:{state}#{d}" for d in (CHANGER_NAME, *sim.drives)}
        return LibraryEndpoints(spec, changer, drives, "in-process", where)

    def _open(self, endpoint: str, label: str) -> Transport:
        problem = check_endpoint(endpoint)
        if problem:
            raise SiteError(f"{label}: {problem}.")
        transport = open_endpoint(endpoint)
        self._stack.callback(transport.close)
        return transport

    def _socket(self, sock: Path, device: str, library: str) -> Transport:
        transport = HwsimSocketTransport(sock, device, name=f"{library}:{device}")
        self._stack.callback(transport.close)
        return transport

    def _open_sim(self, spec: LibrarySpec) -> SimLibrary:
        state = spec.state_dir
        assert state is not None
        if spec.create:
            config = load_config(spec.hwsim_config) if spec.hwsim_config else None
            sim = SimLibrary.open_or_create(state, config)
        elif not holds_library(state):
            raise StateError(
                f"{state}: no simulated library here (library {spec.name} in "
                f"{self.config.source}); create one with tapir sim start --config FILE "
                f"--state {state}, or set hwsim_config"
            )
        else:
            sim = SimLibrary.open(state)
        self._stack.callback(sim.close)
        return sim

    def library(self, name: str | None = None, *, store: MediaStore | None = None) -> TapeLibrary:
        """The ``TapeLibrary`` called ``name`` (None: the first configured). What it does to
        media is recorded in ``store``, by default the site's catalog: the first call creates
        the library, so a caller that only wants an inventory must not leave it without the
        catalog's media records for the jobs that use it next."""
        ends = self.endpoints(name)
        key = ends.spec.name
        if key not in self._libraries:
            store = store if store is not None else self.media_store()
            self._libraries[key] = TapeLibrary(key, ends.changer, ends.drives, store=store)
        return self._libraries[key]

    # --- drives ------------------------------------------------------------------------------

    def drive_names(self) -> list[str]:
        """Every drive the configuration names, as ``LIB:DRIVE`` or a standalone name."""
        names = [d.name for d in self.config.drives]
        for spec in self.config.libraries:
            if spec.simulated:
                with contextlib.suppress(StateError, TransportError, OSError):
                    names += [f"{spec.name}:{d}" for d in self.endpoints(spec.name).drives]
            else:
                names += [f"{spec.name}:{d}" for d, _ in spec.drives]
        return names

    def resolve_drive(self, text: str) -> tuple[str, Transport, LibrarySpec | None]:
        """(display name, transport, library or None) for a drive named as in the module doc."""
        if text.startswith(ENDPOINT_PREFIXES):
            return text, self._open(text, text), None
        lib_name, sep, drive = text.rpartition(DRIVE_SEPARATOR)
        if sep:
            ends = self.endpoints(lib_name)
            if drive not in ends.drives:
                known = ", ".join(ends.drives) or "none"
                raise SiteError(
                    f"Library {lib_name} has no drive {drive!r} (drives: {known}); "
                    "see tapir devices scan."
                )
            return text, ends.drives[drive], ends.spec
        standalone = next((d for d in self.config.drives if d.name == text), None)
        if standalone is not None:
            return text, self._standalone(standalone), None
        owners = [s for s in self.config.libraries if text in self._library_drives(s)]
        if len(owners) == 1:
            ends = self.endpoints(owners[0].name)
            return f"{owners[0].name}:{text}", ends.drives[text], ends.spec
        if len(owners) > 1:
            which = " or ".join(f"{s.name}:{text}" for s in owners)
            raise SiteError(f"Drive {text!r} is in several libraries: write {which}.")
        known = ", ".join(self.drive_names()) or "none"
        raise SiteError(
            f"No drive {text!r} in {self.config.source} (drives: {known}); name one of those "
            "or an endpoint such as /dev/sg3."
        )

    def _library_drives(self, spec: LibrarySpec) -> list[str]:
        if not spec.simulated:
            return [d for d, _ in spec.drives]
        try:
            return list(self.endpoints(spec.name).drives)
        except (StateError, TransportError, OSError):
            return []

    def _standalone(self, spec: DriveSpec) -> Transport:
        return self._open(spec.endpoint, spec.name)

    def drive(self, text: str) -> TapeDrive:
        """A ``TapeDrive`` for a drive named as in the module doc."""
        name, transport, _ = self.resolve_drive(text)
        return TapeDrive(name, transport)

    # --- disk mount paths --------------------------------------------------------------------

    def disk_os(self, spec: MountPathSpec) -> DiskOs:
        """What a mount path's writes and free-space checks reach: the real OS, or the
        simulated disk its ``hwsim`` table describes (one per Site, so its byte counts and
        faults last for the command)."""
        if spec.sim is None:
            return REAL_OS
        key = os.path.abspath(spec.path)
        if key not in self._disks:
            self._disks[key] = SimDisk.from_spec(key, spec.sim)
        return self._disks[key]

    # --- catalog -----------------------------------------------------------------------------

    def catalog(self) -> Catalog:
        """The catalog (``--catalog`` URL, else the configuration's, else the default)."""
        from engine.catalog.db import open_catalog  # SQLAlchemy + Alembic: only when needed

        if self._catalog is None:
            self._catalog = open_catalog(self.catalog_url)
            self._stack.callback(self._catalog.close)
        return self._catalog

    def media_store(self) -> CatalogMediaStore:
        from engine.catalog.media_store import CatalogMediaStore

        return CatalogMediaStore(self.catalog())

    # --- life --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close transports, save in-process simulated libraries, close the catalog."""
        self._libraries.clear()
        self._endpoints.clear()
        self._stack.close()

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
