"""The index of a run's exceptions holds the exception rows only (a partial index).

Why: nearly every row of a backup is a clean file, with no exception; the full index had an
entry for each, one more B-tree insert per row for the catalog staging (~10% of its CPU for a
small-files backup, measured) and megabytes per million rows, for the one query that uses it
(``FilesStore.exceptions``: ``run_id = ? AND exception_category IS NOT NULL``), which SQLite
and PostgreSQL answer from the partial index. Other databases ignore the condition and keep
the full index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEX = "ix_files_run_exception"
COLUMNS = ["run_id", "exception_category"]
EXCEPTIONS_ONLY = "exception_category IS NOT NULL"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="files")
    op.create_index(
        INDEX,
        "files",
        COLUMNS,
        sqlite_where=sa.text(EXCEPTIONS_ONLY),
        postgresql_where=sa.text(EXCEPTIONS_ONLY),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="files")
    op.create_index(INDEX, "files", COLUMNS)
