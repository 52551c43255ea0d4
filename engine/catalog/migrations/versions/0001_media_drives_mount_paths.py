"""Media with state history and error history, drive up/down, disk mount paths.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NAME_LEN = 128
STATE_LEN = 16
PATH_LEN = 4096


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("barcode", sa.String(NAME_LEN), nullable=False),
        sa.Column("pool", sa.String(NAME_LEN), nullable=False),
        sa.Column("media_type", sa.String(NAME_LEN), nullable=False),
        sa.Column("state", sa.String(STATE_LEN), nullable=False),
        sa.Column("state_reason", sa.Text, nullable=False),
        sa.Column("state_actor", sa.String(NAME_LEN), nullable=False),
        sa.Column("state_since", sa.DateTime, nullable=False),
        sa.Column("volume_uuid", sa.String(36), nullable=True),
        sa.Column("files_written", sa.Integer, nullable=False),
        sa.Column("bytes_written", sa.BigInteger, nullable=False),
        sa.Column("errors_cleared_at", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.UniqueConstraint("barcode", name=op.f("uq_media_barcode")),
    )
    op.create_index(op.f("ix_media_pool"), "media", ["pool"])
    op.create_index(op.f("ix_media_state"), "media", ["state"])

    op.create_table(
        "media_state_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("medium_id", sa.Integer, nullable=False),
        sa.Column("old_state", sa.String(STATE_LEN), nullable=True),
        sa.Column("new_state", sa.String(STATE_LEN), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(NAME_LEN), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_state_changes")),
        sa.ForeignKeyConstraint(
            ["medium_id"],
            ["media.id"],
            name=op.f("fk_media_state_changes_medium_id_media"),
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_media_state_changes_medium_at", "media_state_changes", ["medium_id", "at"])

    op.create_table(
        "media_errors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("medium_id", sa.Integer, nullable=False),
        sa.Column("drive", sa.String(NAME_LEN), nullable=False),
        sa.Column("kind", sa.String(STATE_LEN), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("block", sa.BigInteger, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_errors")),
        sa.ForeignKeyConstraint(
            ["medium_id"],
            ["media.id"],
            name=op.f("fk_media_errors_medium_id_media"),
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_media_errors_medium_at", "media_errors", ["medium_id", "at"])
    op.create_index("ix_media_errors_drive_at", "media_errors", ["drive", "at"])

    op.create_table(
        "drives",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(NAME_LEN), nullable=False),
        sa.Column("up", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(NAME_LEN), nullable=False),
        sa.Column("since", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drives")),
        sa.UniqueConstraint("name", name=op.f("uq_drives_name")),
    )

    op.create_table(
        "mount_paths",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.String(PATH_LEN), nullable=False),
        sa.Column("marker", sa.String(36), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(NAME_LEN), nullable=False),
        sa.Column("since", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mount_paths")),
        sa.UniqueConstraint("path", name=op.f("uq_mount_paths_path")),
    )


def downgrade() -> None:
    op.drop_table("mount_paths")
    op.drop_table("drives")
    op.drop_index("ix_media_errors_drive_at", table_name="media_errors")
    op.drop_index("ix_media_errors_medium_at", table_name="media_errors")
    op.drop_table("media_errors")
    op.drop_index("ix_media_state_changes_medium_at", table_name="media_state_changes")
    op.drop_table("media_state_changes")
    op.drop_index(op.f("ix_media_state"), table_name="media")
    op.drop_index(op.f("ix_media_pool"), table_name="media")
    op.drop_table("media")
