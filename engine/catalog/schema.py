"""The catalog tables as of the newest migration (SQLAlchemy Core).

Code reads and writes through these ``Table`` objects; the migrations create them. When a
table changes, add a revision in ``migrations/versions`` and change this file to match:
tests/engine/test_catalog.py compares a migrated database with this metadata.

Times are stored as naive UTC (``UtcDateTime``) so SQLite and PostgreSQL agree; states and kinds
are short strings validated by the code's enums (devices/media.py), so adding a state needs no
table rebuild on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Named constraints, so later migrations can alter them (SQLite batch mode needs names)."""

NAME_LEN = 128
"""Barcodes, pools, media types, drive names, actors."""
STATE_LEN = 16
PATH_LEN = 4096
"""PATH_MAX on Linux."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` in code, naive UTC in the database."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("catalog times must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

media = sa.Table(
    "media",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("barcode", sa.String(NAME_LEN), nullable=False, unique=True),
    sa.Column("pool", sa.String(NAME_LEN), nullable=False, index=True),
    sa.Column("media_type", sa.String(NAME_LEN), nullable=False),
    sa.Column("state", sa.String(STATE_LEN), nullable=False, index=True),
    sa.Column("state_reason", sa.Text, nullable=False),
    sa.Column("state_actor", sa.String(NAME_LEN), nullable=False),
    sa.Column("state_since", UtcDateTime, nullable=False),
    sa.Column("volume_uuid", sa.String(36), nullable=True),
    sa.Column("files_written", sa.Integer, nullable=False),
    sa.Column("bytes_written", sa.BigInteger, nullable=False),
    sa.Column("errors_cleared_at", UtcDateTime, nullable=True),
)

media_state_changes = sa.Table(
    "media_state_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "medium_id", sa.Integer, sa.ForeignKey("media.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("old_state", sa.String(STATE_LEN), nullable=True),
    sa.Column("new_state", sa.String(STATE_LEN), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(NAME_LEN), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_media_state_changes_medium_at", "medium_id", "at"),
)

media_errors = sa.Table(
    "media_errors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "medium_id", sa.Integer, sa.ForeignKey("media.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("drive", sa.String(NAME_LEN), nullable=False),
    sa.Column("kind", sa.String(STATE_LEN), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("block", sa.BigInteger, nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_media_errors_medium_at", "medium_id", "at"),
    sa.Index("ix_media_errors_drive_at", "drive", "at"),
)

drives = sa.Table(
    "drives",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(NAME_LEN), nullable=False, unique=True),
    sa.Column("up", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(NAME_LEN), nullable=False),
    sa.Column("since", UtcDateTime, nullable=False),
)

mount_paths = sa.Table(
    "mount_paths",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("path", sa.String(PATH_LEN), nullable=False, unique=True),
    sa.Column("marker", sa.String(36), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(NAME_LEN), nullable=False),
    sa.Column("since", UtcDateTime, nullable=False),
)
