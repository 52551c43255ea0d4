"""What a job needs, resolved against the site now: ``SiteProber.request_for(job)``.

- backup to a library (``lib1``, ``lib1:drive0``): one drive of the library's drive pool (or
  that drive), one writable medium of the pool in the library (the backup target's own choice
  order: appendable first), and a stream of the target's storage policy if one is configured;
- backup to a disk directory: a writer slot of the mount path if it is present, enabled and
  has room ("Mount path is offline." / "There are no disk paths that are enabled and with the
  required space.");
- restore: each source medium by barcode ("The requested media is not in any slot of the
  library." when no library holds it) and one drive of the library holding the first one;
- any job whose spec has ``resources`` (a list of tables: ``{drive = "lib1"}``,
  ``{medium = "BARCODE"}``, ``{scratch = "POOL", library = "lib1"}``,
  ``{streams = 2, policy = "P"}``, ``{mount_path = "/path", bytes = N}``): exactly those.
A library that cannot be opened or inventoried is offline: its needs are unavailable with
"The library is offline." A drive marked down in the catalog is no candidate.

Not thread-safe (it uses its own ``Site``); one prober per dispatcher.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devices.disk import MountPathError
from engine.backup.job import DEVICE_FAILURES
from engine.backup.targets import BackupError, resolve_target
from engine.catalog.jobs_model import Job
from engine.catalog.media_store import CatalogMediaStore
from engine.manager import reasons
from engine.manager import resources as r
from engine.manager.config import ManagerConfig
from engine.manager.dispatcher import ProbeRefused
from engine.site import Site
from engine.site_config import SiteError
from hwsim.library import StateError

MOUNT_WRITERS = 4
"""Sessions written to one mount path at once: enough for parallel streams, few enough that
the disk is not thrashed by interleaved writers."""
LIBRARY_FAILURES = (*DEVICE_FAILURES, SiteError, StateError)
"""A library that fails to open or answer this way is offline for the manager."""


class SiteProber:
    def __init__(self, site: Site, config: ManagerConfig) -> None:
        self.site = site
        self.config = config
        self.store = CatalogMediaStore(site.catalog())

    def request_for(self, job: Job) -> r.Request:
        from engine.manager.executors import refresh_inventories

        refresh_inventories(self.site)  # other processes move cartridges too
        spec = job.spec
        if "resources" in spec:
            return r.Request(tuple(self._explicit(item) for item in spec["resources"]))
        if job.type == "backup":
            return self._backup(spec)
        if job.type == "restore":
            return self._restore(spec)
        if job.type == "verify":
            return self._verify(spec)
        if job.type == "copy":
            return self._copy(spec)
        return r.Request()

    # -- backups ---------------------------------------------------------------------------

    def _backup(self, spec: dict[str, Any]) -> r.Request:
        from engine.backup.target_disk import DiskTarget
        from engine.backup.target_tape import LibraryTarget

        text = str(spec.get("target"))
        try:
            target = resolve_target(text, self.site, self.store, pool=spec.get("pool"))
        except BackupError as exc:
            raise ProbeRefused(exc.sentence) from exc
        needs: list[r.Need] = []
        policy = self.config.policy_for(text, spec.get("storage_policy"))
        if policy is not None:
            needs.append(r.streams(policy.name, policy.streams, int(spec.get("streams", 1))))
        if isinstance(target, LibraryTarget):
            needs.append(self._drives(target.library_name, target.drive))
            try:
                media = [barcode for barcode, _ in target.candidates([])]
            except LIBRARY_FAILURES:
                needs.append(r.media_from_pool(target.pool, []))
            else:
                needs.append(r.media_from_pool(target.pool, media))
        elif isinstance(target, DiskTarget):
            needs.append(self._mount_path(target.mount.path, 0, target.mount))
        else:  # a standalone drive or an endpoint: that drive
            needs.append(r.drives(text, [text]))
        return r.Request(tuple(needs))

    # -- restores --------------------------------------------------------------------------

    def _restore(self, spec: dict[str, Any]) -> r.Request:
        from engine.restore.asof import NoSuchPoint
        from engine.restore.job import RestoreSpec, plan_restore
        from engine.restore.select import SelectionError

        restore = RestoreSpec.from_dict(spec)
        try:
            plan = plan_restore(restore, self.site, catalog=self.site.catalog())
        except (SelectionError, NoSuchPoint) as exc:
            raise ProbeRefused(str(exc)) from exc
        return self._read_needs(plan)

    def _verify(self, spec: dict[str, Any]) -> r.Request:
        from engine.verify.job import VerifyRefused, VerifySpec, plan_verify

        try:
            _run, plan = plan_verify(VerifySpec.from_dict(spec), self.site, self.site.catalog())
        except VerifyRefused as exc:
            raise ProbeRefused(str(exc)) from exc
        return self._read_needs(plan)

    def _copy(self, spec: dict[str, Any]) -> r.Request:
        """Copy 1's media and a drive to read them (as a verify), plus what writing the copy
        takes (as a backup to the target), minus copy 1's media; one library for both: two
        of its drives."""
        from engine.copy.job import CopyRefused, CopySpec, plan_copy

        copy = CopySpec.from_dict(spec)
        try:
            source = plan_copy(copy, self.site, self.site.catalog())
        except CopyRefused as exc:
            raise ProbeRefused(str(exc)) from exc
        read = list(self._read_needs(source.plan).needs)
        write = list(self._backup({"target": copy.target, "pool": source.pool}).needs)
        avoid = source.volumes
        for n, need in enumerate(write):
            if need.kind is r.Kind.MEDIUM:
                keys = tuple(k for k in need.candidates if k not in avoid)
                write[n] = r.media_from_pool(need.grp, list(keys))
        reading = next((n for n in read if n.kind is r.Kind.DRIVE), None)
        writing = next((n for n in write if n.kind is r.Kind.DRIVE), None)
        if (
            reading is not None
            and writing is not None
            and set(reading.candidates) & set(writing.candidates)
        ):
            assert reading is not None and writing is not None
            keys = tuple(dict.fromkeys((*reading.candidates, *writing.candidates)))
            both = r.drives(reading.grp, list(keys), 2, unavailable=reading.unavailable)
            read = [both if n is reading else n for n in read]
            write = [n for n in write if n is not writing]
        return r.Request(tuple(read + write))

    def _read_needs(self, plan: Any) -> r.Request:
        """What reading ``plan``'s tapes takes: each medium, and one drive of its library."""
        from engine.restore.plan import DISK

        needs: list[r.Need] = []
        library = None
        for volume in plan.volumes:
            if volume.kind == DISK:
                continue
            where = volume.where
            if where is None or where.library is None:
                needs.append(r.medium(volume.volume, "?", unavailable=reasons.MEDIA_NOT_IN_LIBRARY))
                continue
            library = library or where.library
            needs.append(r.medium(volume.volume, where.library))
        if library is not None:
            needs.insert(0, self._drives(library, None))
        return r.Request(tuple(needs))

    # -- explicit resources ----------------------------------------------------------------

    def _explicit(self, item: dict[str, Any]) -> r.Need:
        if "drive" in item:
            library, _, drive = str(item["drive"]).partition(":")
            return self._drives(library, drive or None, int(item.get("count", 1)))
        if "medium" in item:
            return self._medium(str(item["medium"]))
        if "scratch" in item:
            return self._pool_media(str(item["scratch"]), str(item["library"]))
        if "streams" in item:
            name = str(item["policy"])
            policy = self.config.storage_policies.get(name)
            if policy is None:
                raise ProbeRefused(f"No storage policy {name!r} in the manager configuration.")
            return r.streams(name, policy.streams, int(item["streams"]))
        if "mount_path" in item:
            return self._mount_path(Path(item["mount_path"]), int(item.get("bytes", 0)))
        raise ProbeRefused(f"Unknown resource {item!r} in the job's spec.")

    # -- resolution ------------------------------------------------------------------------

    def _drives(self, library: str, drive: str | None, count: int = 1) -> r.Need:
        pool = self.config.pool_of_drive(library, drive)
        try:
            names = list(self.site.endpoints(library).drives)
        except LIBRARY_FAILURES:
            return r.drives(pool, [], count, unavailable=reasons.LIBRARY_OFFLINE)
        configured = self.config.drive_pools.get(pool)
        if drive is not None:
            names = [d for d in names if d == drive]
        elif configured is not None:
            names = [d for d in names if d in configured.drives]
        up = [d for d in names if self._drive_up(library, d) and self._answers(library, d)]
        return r.drives(pool, [f"{library}:{d}" for d in up], count)

    def _answers(self, library: str, drive: str) -> bool:
        """A drive that does not answer (powered off, gone) is not reserved: the job gets
        another, or waits with "No drives available for reservation."."""
        try:
            tape = self.site.library(library, store=self.store).drives.get(drive)
        except LIBRARY_FAILURES:
            return False
        return tape is None or tape.answers()

    def _drive_up(self, library: str, drive: str) -> bool:
        for name in (f"{library}:{drive}", drive):
            status = self.store.get_drive(name)
            if status is not None:
                return status.up
        return True

    def _inventory_holds(self, library: str, barcode: str) -> bool | None:
        """Whether the library holds ``barcode`` in a slot or drive; None: library offline."""
        try:
            inventory = self.site.library(library, store=self.store).inventory()
        except LIBRARY_FAILURES:
            return None
        element = inventory.find(barcode)
        return element is not None and element.kind.name != "IMPORT_EXPORT"

    def _medium(self, barcode: str) -> r.Need:
        offline = False
        for spec in self.site.config.libraries:
            held = self._inventory_holds(spec.name, barcode)
            if held:
                return r.medium(barcode, spec.name)
            offline = offline or held is None
        why = reasons.LIBRARY_OFFLINE if offline else reasons.MEDIA_NOT_IN_LIBRARY
        return r.medium(barcode, "?", unavailable=why)

    def _pool_media(self, pool: str, library: str) -> r.Need:
        from engine.backup.target_tape import LibraryTarget

        target = LibraryTarget(self.site, library, self.store, pool)
        try:
            return r.media_from_pool(pool, [b for b, _ in target.candidates([])])
        except LIBRARY_FAILURES:
            return r.Need(r.Kind.MEDIUM, pool, 1, (), reasons.LIBRARY_OFFLINE)

    def _mount_path(self, path: Path, needed: int, mount: Any = None) -> r.Need:
        from engine.backup.target_disk import find_mount_path

        group = str(path)
        try:
            mount = mount or find_mount_path(path, self.site, self.store)
            refusal = mount.refusal(needed)
        except (MountPathError, BackupError):
            return r.mount_path_writers(group, [], 0, unavailable=reasons.MOUNT_PATH_OFFLINE)
        paths = [] if refusal is not None else [group]
        return r.mount_path_writers(group, paths, MOUNT_WRITERS)
