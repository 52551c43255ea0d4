"""``CatalogMediaStore``: devices.media.MediaStore and devices.disk.MountPathStore on the catalog.

Each method is one transaction (writers through ``Catalog.write``, which on SQLite takes the
write lock at BEGIN). ``record_state_change`` updates the medium only if its stored
state is still ``change.old`` (compare-and-set in the UPDATE's WHERE clause), so two processes
sharing the catalog cannot both move a medium from the same state; the loser gets
``StaleMedium``. Safe to use from several threads (each call takes its own connection).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from devices.disk import MountPathState
from devices.media import (
    DriveStatus,
    ErrorKind,
    MediaError,
    MediaState,
    Medium,
    MediumExists,
    StaleMedium,
    StateChange,
    UnknownMedium,
)
from engine.catalog.db import Catalog
from engine.catalog.schema import drives, media, media_errors, media_state_changes, mount_paths

_MEDIUM_FIELDS = (
    "pool",
    "media_type",
    "state_reason",
    "state_actor",
    "state_since",
    "volume_uuid",
    "files_written",
    "bytes_written",
    "errors_cleared_at",
)


def _medium_row(m: Medium) -> dict[str, Any]:
    row = {name: getattr(m, name) for name in _MEDIUM_FIELDS}
    row["state"] = m.state.value
    return row


def _medium(row: sa.Row[Any]) -> Medium:
    values = {name: getattr(row, name) for name in _MEDIUM_FIELDS}
    return Medium(barcode=row.barcode, state=MediaState(row.state), **values)


def _unknown(barcode: str) -> UnknownMedium:
    return UnknownMedium(f"Medium {barcode} is not in the catalog.")


class CatalogMediaStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- media ---------------------------------------------------------------------------

    def get_medium(self, barcode: str) -> Medium | None:
        with self.catalog.read() as conn:
            row = conn.execute(sa.select(media).where(media.c.barcode == barcode)).first()
        return _medium(row) if row is not None else None

    def _medium_id(self, conn: sa.Connection, barcode: str) -> int:
        found = conn.execute(sa.select(media.c.id).where(media.c.barcode == barcode)).scalar()
        if found is None:
            raise _unknown(barcode)
        return found

    def add_medium(self, medium: Medium, change: StateChange) -> None:
        try:
            with self.catalog.write() as conn:
                medium_id = conn.execute(
                    sa.insert(media).values(barcode=medium.barcode, **_medium_row(medium))
                ).inserted_primary_key[0]
                self._insert_change(conn, medium_id, change)
        except sa.exc.IntegrityError as exc:
            raise MediumExists(f"Medium {medium.barcode} is already in the catalog.") from exc

    def update_medium(self, medium: Medium) -> None:
        with self.catalog.write() as conn:
            done = conn.execute(
                sa.update(media)
                .where(media.c.barcode == medium.barcode, media.c.state == medium.state.value)
                .values(**_medium_row(medium))
            ).rowcount
            if done != 1:
                self._raise_stale(conn, medium.barcode, medium.state)

    def record_state_change(self, medium: Medium, change: StateChange) -> None:
        if change.old is None:
            raise ValueError("a registration (old state None) goes through add_medium")
        with self.catalog.write() as conn:
            done = conn.execute(
                sa.update(media)
                .where(media.c.barcode == medium.barcode, media.c.state == change.old.value)
                .values(**_medium_row(medium))
            ).rowcount
            if done != 1:
                self._raise_stale(conn, medium.barcode, change.old)
            self._insert_change(conn, self._medium_id(conn, medium.barcode), change)

    def _raise_stale(self, conn: sa.Connection, barcode: str, expected: MediaState) -> None:
        now = conn.execute(sa.select(media.c.state).where(media.c.barcode == barcode)).scalar()
        if now is None:
            raise _unknown(barcode)
        raise StaleMedium(
            f"Medium {barcode} is {now} now, not {expected.value}; another process changed it."
        )

    def _insert_change(self, conn: sa.Connection, medium_id: int, change: StateChange) -> None:
        conn.execute(
            sa.insert(media_state_changes).values(
                medium_id=medium_id,
                old_state=change.old.value if change.old else None,
                new_state=change.new.value,
                reason=change.reason,
                actor=change.actor,
                at=change.at,
            )
        )

    def list_media(
        self, *, pool: str | None = None, states: Iterable[MediaState] | None = None
    ) -> list[Medium]:
        query = sa.select(media).order_by(media.c.barcode)
        if pool is not None:
            query = query.where(media.c.pool == pool)
        if states is not None:
            query = query.where(media.c.state.in_([s.value for s in states]))
        with self.catalog.read() as conn:
            return [_medium(row) for row in conn.execute(query)]

    def state_history(self, barcode: str) -> list[StateChange]:
        query = (
            sa.select(media_state_changes)
            .join(media, media.c.id == media_state_changes.c.medium_id)
            .where(media.c.barcode == barcode)
            .order_by(media_state_changes.c.at, media_state_changes.c.id)
        )
        with self.catalog.read() as conn:
            return [
                StateChange(
                    barcode,
                    MediaState(r.old_state) if r.old_state is not None else None,
                    MediaState(r.new_state),
                    r.reason,
                    r.actor,
                    r.at,
                )
                for r in conn.execute(query)
            ]

    # -- errors --------------------------------------------------------------------------

    def add_error(self, error: MediaError) -> None:
        with self.catalog.write() as conn:
            conn.execute(
                sa.insert(media_errors).values(
                    medium_id=self._medium_id(conn, error.barcode),
                    drive=error.drive,
                    kind=error.kind.value,
                    at=error.at,
                    block=error.block,
                    detail=error.detail,
                )
            )

    def list_errors(
        self,
        *,
        barcode: str | None = None,
        drive: str | None = None,
        since: datetime | None = None,
    ) -> list[MediaError]:
        query = (
            sa.select(media.c.barcode, media_errors)
            .join(media, media.c.id == media_errors.c.medium_id)
            .order_by(media_errors.c.at, media_errors.c.id)
        )
        if barcode is not None:
            query = query.where(media.c.barcode == barcode)
        if drive is not None:
            query = query.where(media_errors.c.drive == drive)
        if since is not None:
            query = query.where(media_errors.c.at >= since)
        with self.catalog.read() as conn:
            return [
                MediaError(r.barcode, r.drive, ErrorKind(r.kind), r.at, r.block, r.detail)
                for r in conn.execute(query)
            ]

    # -- drives --------------------------------------------------------------------------

    def get_drive(self, name: str) -> DriveStatus | None:
        with self.catalog.read() as conn:
            r = conn.execute(sa.select(drives).where(drives.c.name == name)).first()
        return DriveStatus(r.name, r.up, r.reason, r.actor, r.since) if r is not None else None

    def set_drive(self, status: DriveStatus) -> None:
        values = {
            "up": status.up,
            "reason": status.reason,
            "actor": status.actor,
            "since": status.since,
        }
        with self.catalog.write() as conn:
            self._upsert(conn, drives, drives.c.name, status.name, values)

    def list_drives(self) -> list[DriveStatus]:
        with self.catalog.read() as conn:
            rows = conn.execute(sa.select(drives).order_by(drives.c.name))
            return [DriveStatus(r.name, r.up, r.reason, r.actor, r.since) for r in rows]

    # -- disk mount paths ----------------------------------------------------------------

    def get_mount_path(self, path: str) -> MountPathState | None:
        with self.catalog.read() as conn:
            r = conn.execute(sa.select(mount_paths).where(mount_paths.c.path == path)).first()
        if r is None:
            return None
        return MountPathState(r.path, r.marker, r.enabled, r.reason, r.actor, r.since)

    def set_mount_path(self, state: MountPathState) -> None:
        values = {
            "marker": state.marker,
            "enabled": state.enabled,
            "reason": state.reason,
            "actor": state.actor,
            "since": state.since,
        }
        with self.catalog.write() as conn:
            self._upsert(conn, mount_paths, mount_paths.c.path, state.path, values)

    @staticmethod
    def _upsert(
        conn: sa.Connection,
        table: sa.Table,
        key: sa.Column[Any],
        key_value: str,
        values: dict[str, Any],
    ) -> None:
        """Update-then-insert: portable across SQLite and PostgreSQL without dialect upserts."""
        done = conn.execute(sa.update(table).where(key == key_value).values(**values)).rowcount
        if done == 0:
            conn.execute(sa.insert(table).values({key.name: key_value, **values}))
