"""Jobs with their transitions and runs; sessions with their volume parts; file records.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NAME_LEN = 128
KIND_LEN = 32
CHECKSUM_LEN = 16


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, referred: str, ondelete: str | None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{referred}.id"],
        name=op.f(f"fk_{table}_{column}_{referred}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(KIND_LEN), nullable=False),
        sa.Column("name", sa.String(NAME_LEN), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("client", sa.String(NAME_LEN), nullable=True),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("state", sa.String(KIND_LEN), nullable=False),
        sa.Column("state_reason", sa.Text, nullable=False),
        sa.Column("state_actor", sa.String(NAME_LEN), nullable=False),
        sa.Column("state_since", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(KIND_LEN), nullable=True),
        sa.Column("detail", sa.String(KIND_LEN), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(NAME_LEN), nullable=False),
        _pk("jobs"),
    )
    for column in ("type", "client", "state", "created_at"):
        op.create_index(op.f(f"ix_jobs_{column}"), "jobs", [column])

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("level", sa.String(KIND_LEN), nullable=True),
        sa.Column("base_run_id", sa.Integer, nullable=True),
        sa.Column("started_at", sa.DateTime, nullable=True),
        sa.Column("started_ns", sa.BigInteger, nullable=True),
        sa.Column("ended_at", sa.DateTime, nullable=True),
        sa.Column("status", sa.String(KIND_LEN), nullable=True),
        sa.Column("detail", sa.String(KIND_LEN), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("phase", sa.String(KIND_LEN), nullable=True),
        sa.Column("files", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("rate", sa.Float, nullable=True),
        sa.Column("exceptions", sa.Integer, nullable=False),
        sa.Column("volume", sa.String(NAME_LEN), nullable=True),
        sa.Column("drive", sa.String(NAME_LEN), nullable=True),
        sa.Column("counters", sa.JSON, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime, nullable=True),
        _pk("runs"),
        _fk("runs", "job_id", "jobs", "CASCADE"),
        _fk("runs", "base_run_id", "runs", None),
        sa.UniqueConstraint("job_id", "number", name="uq_runs_job_number"),
    )
    op.create_index(op.f("ix_runs_status"), "runs", ["status"])
    op.create_index("ix_runs_ended_at", "runs", ["ended_at"])

    op.create_table(
        "job_transitions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("old_state", sa.String(KIND_LEN), nullable=True),
        sa.Column("new_state", sa.String(KIND_LEN), nullable=False),
        sa.Column("status", sa.String(KIND_LEN), nullable=True),
        sa.Column("detail", sa.String(KIND_LEN), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(NAME_LEN), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        _pk("job_transitions"),
        _fk("job_transitions", "job_id", "jobs", "CASCADE"),
        _fk("job_transitions", "run_id", "runs", None),
    )
    op.create_index("ix_job_transitions_job_at", "job_transitions", ["job_id", "at"])

    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("target", sa.String(NAME_LEN), nullable=False),
        sa.Column("source", sa.LargeBinary, nullable=False),
        sa.Column("record_size", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime, nullable=True),
        sa.Column("files", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        _pk("sessions"),
        _fk("sessions", "run_id", "runs", "CASCADE"),
    )
    op.create_index("ix_sessions_run", "sessions", ["run_id"])

    op.create_table(
        "session_parts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("volume", sa.String(NAME_LEN), nullable=False),
        sa.Column("tape_file", sa.Integer, nullable=False),
        sa.Column("first_record", sa.BigInteger, nullable=False),
        sa.Column("record_count", sa.BigInteger, nullable=True),
        _pk("session_parts"),
        _fk("session_parts", "session_id", "sessions", "CASCADE"),
        sa.UniqueConstraint("session_id", "seq", name="uq_session_parts_session_seq"),
    )
    op.create_index(op.f("ix_session_parts_volume"), "session_parts", ["volume"])

    op.create_table(
        "files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("parent", sa.LargeBinary, nullable=False),
        sa.Column("name", sa.LargeBinary, nullable=False),
        sa.Column("kind", sa.String(KIND_LEN), nullable=False),
        sa.Column("change", sa.String(KIND_LEN), nullable=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mode", sa.Integer, nullable=False),
        sa.Column("uid", sa.BigInteger, nullable=False),
        sa.Column("gid", sa.BigInteger, nullable=False),
        sa.Column("uname", sa.String(NAME_LEN), nullable=True),
        sa.Column("gname", sa.String(NAME_LEN), nullable=True),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("ctime_ns", sa.BigInteger, nullable=False),
        sa.Column("inode", sa.BigInteger, nullable=False),
        sa.Column("dev", sa.BigInteger, nullable=False),
        sa.Column("nlink", sa.Integer, nullable=False),
        sa.Column("link_target", sa.LargeBinary, nullable=True),
        sa.Column("link_group", sa.Integer, nullable=True),
        sa.Column("checksum", sa.LargeBinary(CHECKSUM_LEN), nullable=True),
        sa.Column("part", sa.Integer, nullable=True),
        sa.Column("record", sa.BigInteger, nullable=True),
        sa.Column("offset", sa.Integer, nullable=True),
        sa.Column("exception_category", sa.String(KIND_LEN), nullable=True),
        sa.Column("exception_code", sa.String(KIND_LEN), nullable=True),
        sa.Column("exception_sentence", sa.Text, nullable=True),
        sa.Column("exception_offset", sa.BigInteger, nullable=True),
        _pk("files"),
        _fk("files", "session_id", "sessions", "CASCADE"),
    )
    op.create_index("ix_files_run_parent_name", "files", ["run_id", "parent", "name"])
    op.create_index("ix_files_parent_name", "files", ["parent", "name"])
    op.create_index("ix_files_run_exception", "files", ["run_id", "exception_category"])


def downgrade() -> None:
    for index in ("ix_files_run_exception", "ix_files_parent_name", "ix_files_run_parent_name"):
        op.drop_index(index, table_name="files")
    op.drop_table("files")
    op.drop_index(op.f("ix_session_parts_volume"), table_name="session_parts")
    op.drop_table("session_parts")
    op.drop_index("ix_sessions_run", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_job_transitions_job_at", table_name="job_transitions")
    op.drop_table("job_transitions")
    op.drop_index("ix_runs_ended_at", table_name="runs")
    op.drop_index(op.f("ix_runs_status"), table_name="runs")
    op.drop_table("runs")
    for column in ("created_at", "state", "client", "type"):
        op.drop_index(op.f(f"ix_jobs_{column}"), table_name="jobs")
    op.drop_table("jobs")
