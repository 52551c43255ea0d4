"""The job manager: the queue's bookkeeping per job, leases of running holders, reservations.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NAME_LEN = 128
KIND_LEN = 32
HOLDER_LEN = 255


def upgrade() -> None:
    op.create_table(
        "job_queue",
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(HOLDER_LEN), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=True),
        sa.Column("request", sa.JSON, nullable=True),
        sa.Column("blocked_by", sa.JSON, nullable=True),
        sa.Column("control", sa.String(KIND_LEN), nullable=True),
        sa.Column("control_status", sa.String(KIND_LEN), nullable=True),
        sa.Column("control_reason", sa.Text, nullable=True),
        sa.Column("control_actor", sa.String(NAME_LEN), nullable=True),
        sa.Column("control_at", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_queue")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_queue_job_id_jobs"), ondelete="CASCADE"
        ),
    )
    op.create_table(
        "leases",
        sa.Column("holder", sa.String(HOLDER_LEN), nullable=False),
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("host", sa.String(NAME_LEN), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", sa.DateTime, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("holder", name=op.f("pk_leases")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_leases_job_id_jobs"), ondelete="CASCADE"
        ),
    )
    op.create_index(op.f("ix_leases_job_id"), "leases", ["job_id"])
    op.create_index(op.f("ix_leases_expires_at"), "leases", ["expires_at"])
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("holder", sa.String(HOLDER_LEN), nullable=False),
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(KIND_LEN), nullable=False),
        sa.Column("key", sa.String(NAME_LEN), nullable=False),
        sa.Column("grp", sa.String(NAME_LEN), nullable=False),
        sa.Column("reserved_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.ForeignKeyConstraint(
            ["holder"],
            ["leases.holder"],
            name=op.f("fk_reservations_holder_leases"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("kind", "key", name="uq_reservations_kind_key"),
    )
    op.create_index(op.f("ix_reservations_holder"), "reservations", ["holder"])
    op.create_table(
        "manager_counters",
        sa.Column("name", sa.String(KIND_LEN), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_manager_counters")),
    )


def downgrade() -> None:
    op.drop_table("manager_counters")
    op.drop_index(op.f("ix_reservations_holder"), table_name="reservations")
    op.drop_table("reservations")
    op.drop_index(op.f("ix_leases_expires_at"), table_name="leases")
    op.drop_index(op.f("ix_leases_job_id"), table_name="leases")
    op.drop_table("leases")
    op.drop_table("job_queue")
