"""Opening a catalog without alembic when it is at head (engine/catalog/db.py HEAD_REVISION),
and with alembic when it is older, new or newer."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from engine.catalog.db import (
    HEAD_REVISION,
    CatalogTooNew,
    _alembic_config,
    head_revision,
    open_catalog,
)
from tests.hwsim.daemon_util import REPO

OLD_REVISION = "0002"


def test_head_constant_is_alembics_head() -> None:
    assert head_revision() == HEAD_REVISION


def _tables(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()


def test_catalog_at_an_old_revision_is_upgraded_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), OLD_REVISION)
    engine.dispose()
    assert "job_queue" not in _tables(path)  # 0003's table: the file really is at 0002

    with open_catalog(f"sqlite:///{path}") as catalog:
        assert catalog.revision() == (HEAD_REVISION,)
    assert "job_queue" in _tables(path)


def test_a_revision_this_code_does_not_know_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    open_catalog(f"sqlite:///{path}").close()
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.close()
    with pytest.raises(CatalogTooNew, match="9999"):
        open_catalog(f"sqlite:///{path}")


def test_opening_a_catalog_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'head.sqlite'}"
    open_catalog(url).close()
    code = (
        "import sys\n"
        "from engine.catalog.db import open_catalog\n"
        f"with open_catalog({url!r}) as c:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_a_catalog_at_0003_gains_copy_parts_and_downgrades_back(tmp_path: Path) -> None:
    """0004 (copies): a catalog written before it is upgraded on open; downgrading to 0003
    drops only the new table."""
    path = tmp_path / "at3.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0003")
    engine.dispose()
    assert "copy_parts" not in _tables(path)
    with open_catalog(f"sqlite:///{path}") as catalog:
        assert catalog.revision() == (HEAD_REVISION,)
    assert "copy_parts" in _tables(path)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0003")
    engine.dispose()
    tables = _tables(path)
    assert "copy_parts" not in tables and {"sessions", "session_parts", "job_queue"} <= tables


def test_a_catalog_at_0004_gains_files_upto_and_downgrades_without_unlisted_rows(
    tmp_path: Path,
) -> None:
    """0005 (``runs.files_upto``): upgrading lists every row there was (NULL bound);
    downgrading deletes the rows a bound hid, which 0004 would otherwise list."""
    path = tmp_path / "at4.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0004")
    engine.dispose()
    con = sqlite3.connect(path)
    with con:
        con.execute(
            "INSERT INTO jobs (id, type, name, spec, priority, state, state_reason, "
            "state_actor, state_since, created_at, created_by) VALUES "
            "(1, 'backup', 'j', '{}', 0, 'running', '', 't', '2026-01-01', '2026-01-01', 't')"
        )
        for run in (1, 2):
            con.execute(
                "INSERT INTO runs (id, job_id, number, files, bytes, exceptions, counters) "
                "VALUES (?, 1, ?, 0, 0, 0, '{}')",
                (run, run),
            )
            con.execute(
                "INSERT INTO sessions (id, run_id, target, source, record_size, started_at, "
                "files, bytes) VALUES (?, ?, 'lib1', x'2f', 512, '2026-01-01', 0, 0)",
                (run, run),
            )
        for file_id, run in ((1, 1), (2, 2), (3, 1), (4, 2)):
            con.execute(
                "INSERT INTO files (id, session_id, run_id, parent, name, kind, size, mode, "
                "uid, gid, mtime_ns, ctime_ns, inode, dev, nlink) "
                "VALUES (?, ?, ?, x'2f', ?, 'file', 0, 0, 0, 0, 0, 0, 0, 0, 1)",
                (file_id, run, run, b"f%d" % file_id),
            )
    con.close()
    with open_catalog(f"sqlite:///{path}") as catalog:
        assert catalog.revision() == (HEAD_REVISION,)
    con = sqlite3.connect(path)
    with con:
        assert con.execute("SELECT id, files_upto FROM runs").fetchall() == [(1, None), (2, None)]
        con.execute("UPDATE runs SET files_upto = 1 WHERE id = 1")  # file 3 is unlisted
    con.close()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0004")
    engine.dispose()
    con = sqlite3.connect(path)
    try:
        assert [r[0] for r in con.execute("SELECT id FROM files ORDER BY id")] == [1, 2, 4]
        assert "files_upto" not in [r[1] for r in con.execute("PRAGMA table_info(runs)")]
    finally:
        con.close()
