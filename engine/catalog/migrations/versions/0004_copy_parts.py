"""Copies of sessions: where copy 2, 3, ... of each session part is (engine/copy).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NAME_LEN = 128


def upgrade() -> None:
    op.create_table(
        "copy_parts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("copy", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("volume", sa.String(NAME_LEN), nullable=False),
        sa.Column("tape_file", sa.Integer, nullable=False),
        sa.Column("first_record", sa.BigInteger, nullable=False),
        sa.Column("record_count", sa.BigInteger, nullable=True),
        sa.Column("target", sa.String(NAME_LEN), nullable=False),
        sa.Column("copy_job_id", sa.Integer, nullable=True),
        sa.Column("usable", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_copy_parts")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_copy_parts_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("session_id", "copy", "seq", name="uq_copy_parts_session_copy_seq"),
    )
    op.create_index(op.f("ix_copy_parts_volume"), "copy_parts", ["volume"])


def downgrade() -> None:
    op.drop_index(op.f("ix_copy_parts_volume"), table_name="copy_parts")
    op.drop_table("copy_parts")
