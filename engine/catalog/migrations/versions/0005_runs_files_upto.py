"""A run's listed file rows: ``runs.files_upto`` (engine/catalog/files_staging.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("files_upto", sa.BigInteger, nullable=True))


def downgrade() -> None:
    # rows a staging never published (a backup that died) would become listed: drop them
    op.execute(
        "DELETE FROM files WHERE id > (SELECT r.files_upto FROM runs r "
        "WHERE r.id = files.run_id AND r.files_upto IS NOT NULL)"
    )
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("files_upto")
