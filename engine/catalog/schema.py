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

# -- jobs, runs, sessions, files (migration 0002) -------------------------------------------

KIND_LEN = 32
"""Job types, file kinds, exception categories and reason codes, phases, change kinds."""
CHECKSUM_LEN = 16
"""xxh3-128 digest bytes (engine/format/index.py stores the same value as hex)."""

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("type", sa.String(KIND_LEN), nullable=False, index=True),
    sa.Column("name", sa.String(NAME_LEN), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("client", sa.String(NAME_LEN), nullable=True, index=True),
    sa.Column("source", sa.Text, nullable=True),
    sa.Column("state", sa.String(KIND_LEN), nullable=False, index=True),
    sa.Column("state_reason", sa.Text, nullable=False),
    sa.Column("state_actor", sa.String(NAME_LEN), nullable=False),
    sa.Column("state_since", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(KIND_LEN), nullable=True),
    sa.Column("detail", sa.String(KIND_LEN), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.Column("created_by", sa.String(NAME_LEN), nullable=False),
)
"""One row per job. ``state`` is the lifecycle state now; ``status``/``detail`` repeat the
completion status of its last ended run so a job list needs no join."""

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("level", sa.String(KIND_LEN), nullable=True),
    sa.Column("base_run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=True),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("started_ns", sa.BigInteger, nullable=True),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("status", sa.String(KIND_LEN), nullable=True, index=True),
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
    sa.Column("heartbeat_at", UtcDateTime, nullable=True),
    sa.Column("files_upto", sa.BigInteger, nullable=True),  # migration 0005
    sa.UniqueConstraint("job_id", "number", name="uq_runs_job_number"),
    sa.Index("ix_runs_ended_at", "ended_at"),
)
"""One row per run of a job (its history). ``started_at`` is NULL for a run that never
started (canceled before start, missed); ``base_run_id`` is the run an incremental or
differential compared against, so the chain of a point in time can be followed.
``files_upto``: the catalog lists a ``files`` row of the run only if its ``id`` is at most
this, or this is NULL (``LISTED`` below; engine/catalog/files_staging.py says why)."""

job_transitions = sa.Table(
    "job_transitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=True),
    sa.Column("old_state", sa.String(KIND_LEN), nullable=True),
    sa.Column("new_state", sa.String(KIND_LEN), nullable=False),
    sa.Column("status", sa.String(KIND_LEN), nullable=True),
    sa.Column("detail", sa.String(KIND_LEN), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(NAME_LEN), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_job_transitions_job_at", "job_id", "at"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("target", sa.String(NAME_LEN), nullable=False),
    sa.Column("source", sa.LargeBinary, nullable=False),
    sa.Column("record_size", sa.Integer, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("files", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Index("ix_sessions_run", "run_id"),
)
"""One per job run per target: one tape file (or disk volume file) per volume it spans."""

session_parts = sa.Table(
    "session_parts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id",
        sa.Integer,
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("volume", sa.String(NAME_LEN), nullable=False, index=True),
    sa.Column("tape_file", sa.Integer, nullable=False),
    sa.Column("first_record", sa.BigInteger, nullable=False),
    sa.Column("record_count", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("session_id", "seq", name="uq_session_parts_session_seq"),
)

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id",
        sa.Integer,
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
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
    sa.Index("ix_files_run_parent_name", "run_id", "parent", "name"),
    sa.Index("ix_files_parent_name", "parent", "name"),
    sa.Index(
        "ix_files_run_exception",
        "run_id",
        "exception_category",
        sqlite_where=sa.text("exception_category IS NOT NULL"),  # migration 0006
        postgresql_where=sa.text("exception_category IS NOT NULL"),
    ),
)
"""One row per file a run stored, skipped or found deleted (engine/catalog/files_store.py).
``run_id`` repeats the session's run so the indexes that serve "a directory as of a run" and
"the exceptions of a run" need no join. The path is split into ``parent`` and ``name`` (raw
bytes); ``part``/``record``/``offset`` are NULL for a file that was never archived."""

LISTED = sa.or_(runs.c.files_upto.is_(None), files.c.id <= runs.c.files_upto)
"""The rows the catalog lists (``runs.files_upto``): every read of ``files`` joins its run
with this (``LISTED_FILES``; files_read.LISTED_JOIN is the same rule as SQL text). Rows above
the bound are a backup's, inserted as it runs and not yet covered by a checkpoint."""
LISTED_FILES = files.join(runs, sa.and_(runs.c.id == files.c.run_id, LISTED))

# -- the job manager (migration 0003) --------------------------------------------------------

HOLDER_LEN = 255
"""``job:N run:M pid:P@host``: who holds a lease (engine/manager/leases.py)."""

job_queue = sa.Table(
    "job_queue",
    metadata,
    sa.Column(
        "job_id",
        sa.Integer,
        sa.ForeignKey("jobs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("owner", sa.String(HOLDER_LEN), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=True),
    sa.Column("request", sa.JSON, nullable=True),
    sa.Column("blocked_by", sa.JSON, nullable=True),
    sa.Column("control", sa.String(KIND_LEN), nullable=True),
    sa.Column("control_status", sa.String(KIND_LEN), nullable=True),
    sa.Column("control_reason", sa.Text, nullable=True),
    sa.Column("control_actor", sa.String(NAME_LEN), nullable=True),
    sa.Column("control_at", UtcDateTime, nullable=True),
)
"""The manager's bookkeeping of a submitted job. ``owner``: the process that runs it (a
foreground ``tapir backup``), NULL when any ``tapir server`` may. ``attempts`` and
``next_attempt_at``: its retry policy's progress. ``request``: the resources it asked for at
its last attempt (JSON of engine/manager/resources.py ``Request``), so a dispatcher pass in
another process can keep them for it by priority. ``blocked_by``: job ids it preempted and
waits for. ``control``: an administrator's or the manager's pending request (``cancel``,
``suspend``, ``interrupt``) with the completion status a cancel ends with (CANCELED or
CANCELED_TIMED_OUT), its reason, actor and time (engine/manager/control.py)."""

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("holder", sa.String(HOLDER_LEN), primary_key=True),
    sa.Column(
        "job_id",
        sa.Integer,
        sa.ForeignKey("jobs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("run_id", sa.Integer, nullable=True),
    sa.Column("host", sa.String(NAME_LEN), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)
"""One per job execution holding resources: renewed by its heartbeat; the sweeper ends the
run and releases the reservations of a lease that expired (engine/manager/sweeper.py)."""

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "holder",
        sa.String(HOLDER_LEN),
        sa.ForeignKey("leases.holder", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("job_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(KIND_LEN), nullable=False),
    sa.Column("key", sa.String(NAME_LEN), nullable=False),
    sa.Column("grp", sa.String(NAME_LEN), nullable=False),
    sa.Column("reserved_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("kind", "key", name="uq_reservations_kind_key"),
)
"""One row per resource held: ``(kind, key)`` is unique, so the database itself refuses two
holders of one drive, medium, mount path or stream slot (``key`` of a stream is
``POLICY#i``). ``grp``: the drive pool, storage policy, media pool or mount path group."""

manager_counters = sa.Table(
    "manager_counters",
    metadata,
    sa.Column("name", sa.String(KIND_LEN), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
"""``released``: bumped whenever resources are released, so waiting jobs in any process retry
at once; ``dispatch``: the row a reservation transaction locks (FOR UPDATE on PostgreSQL;
SQLite's BEGIN IMMEDIATE already serialises writers)."""

# -- copies of sessions (migration 0004) ------------------------------------------------------

copy_parts = sa.Table(
    "copy_parts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id",
        sa.Integer,
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("copy", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("volume", sa.String(NAME_LEN), nullable=False, index=True),
    sa.Column("tape_file", sa.Integer, nullable=False),
    sa.Column("first_record", sa.BigInteger, nullable=False),
    sa.Column("record_count", sa.BigInteger, nullable=True),
    sa.Column("target", sa.String(NAME_LEN), nullable=False),
    sa.Column("copy_job_id", sa.Integer, nullable=True),
    sa.Column("usable", sa.Boolean, nullable=False),
    sa.UniqueConstraint("session_id", "copy", "seq", name="uq_copy_parts_session_copy_seq"),
)
"""Copy 2, 3, ... of a session (copy 1 is ``session_parts``): one row per part, written
record-for-record by a copy job (engine/copy), so a member's (part, record, offset) is the same
in every copy and only the volume, tape file and first record differ. ``target`` is the mount
path of a disk copy (its volume files live there), else the library or drive. ``usable`` is set
only once the whole copy job completed: a copy that failed half-way is never read."""
