"""``MemoryMediaStore``: the ``MediaStore`` and ``MountPathStore`` Protocols kept in memory.

For setups without a catalog (a single ``tapir`` command against a simulated library, device
tests). It enforces the same contract as the catalog store (engine/catalog/media_store.py):
stale-state checks, unknown media, ordering. Not shared between processes; not thread-safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from devices.disk import MountPathState
from devices.media import (
    DriveStatus,
    MediaError,
    MediaState,
    Medium,
    MediumExists,
    StaleMedium,
    StateChange,
    UnknownMedium,
)


class MemoryMediaStore:
    def __init__(self) -> None:
        self._media: dict[str, Medium] = {}
        self._history: dict[str, list[StateChange]] = {}
        self._errors: list[MediaError] = []
        self._drives: dict[str, DriveStatus] = {}
        self._mount_paths: dict[str, MountPathState] = {}

    def get_medium(self, barcode: str) -> Medium | None:
        return self._media.get(barcode)

    def add_medium(self, medium: Medium, change: StateChange) -> None:
        if medium.barcode in self._media:
            raise MediumExists(f"Medium {medium.barcode} is already in the catalog.")
        self._media[medium.barcode] = medium
        self._history[medium.barcode] = [change]

    def _stored(self, barcode: str) -> Medium:
        stored = self._media.get(barcode)
        if stored is None:
            raise UnknownMedium(f"Medium {barcode} is not in the catalog.")
        return stored

    def update_medium(self, medium: Medium) -> None:
        stored = self._stored(medium.barcode)
        if stored.state is not medium.state:
            raise StaleMedium(
                f"Medium {medium.barcode} is {stored.state.value} now, not {medium.state.value}."
            )
        self._media[medium.barcode] = medium

    def record_state_change(self, medium: Medium, change: StateChange) -> None:
        stored = self._stored(medium.barcode)
        if stored.state is not change.old:
            old = change.old.value if change.old else "new"
            raise StaleMedium(
                f"Medium {medium.barcode} is {stored.state.value} now, not {old}; "
                "another process changed it."
            )
        self._media[medium.barcode] = medium
        self._history[medium.barcode].append(change)

    def list_media(
        self, *, pool: str | None = None, states: Iterable[MediaState] | None = None
    ) -> list[Medium]:
        wanted = set(states) if states is not None else None
        return [
            m
            for _, m in sorted(self._media.items())
            if (pool is None or m.pool == pool) and (wanted is None or m.state in wanted)
        ]

    def state_history(self, barcode: str) -> list[StateChange]:
        return list(self._history.get(barcode, []))

    def add_error(self, error: MediaError) -> None:
        self._stored(error.barcode)
        self._errors.append(error)

    def list_errors(
        self,
        *,
        barcode: str | None = None,
        drive: str | None = None,
        since: datetime | None = None,
    ) -> list[MediaError]:
        found = [
            e
            for e in self._errors
            if (barcode is None or e.barcode == barcode)
            and (drive is None or e.drive == drive)
            and (since is None or e.at >= since)
        ]
        return sorted(found, key=lambda e: e.at)

    def get_drive(self, name: str) -> DriveStatus | None:
        return self._drives.get(name)

    def set_drive(self, status: DriveStatus) -> None:
        self._drives[status.name] = status

    def list_drives(self) -> list[DriveStatus]:
        return [s for _, s in sorted(self._drives.items())]

    def get_mount_path(self, path: str) -> MountPathState | None:
        return self._mount_paths.get(path)

    def set_mount_path(self, state: MountPathState) -> None:
        self._mount_paths[state.path] = state
