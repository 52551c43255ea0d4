"""The engine process killed (SIGKILL) mid-backup: the catalog lists only what the drive had
flushed, and the job's next run (``tapir backup --resume``) continues from the checkpoint;
the whole tree restores afterwards. Real ``tapir`` subprocesses on a simulated library."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from engine.catalog.db import open_catalog
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.catalog.schema import files as files_table
from engine.jobs.states import CompletionStatus, JobState
from tests.engine.backup.backup_util import LIBRARY, RECORD, tape_files
from tests.engine.backup.conftest import Writer
from tests.engine.cli_util import Tapir
from tests.engine.format.treecmp import compare_trees
from tests.hwsim.daemon_util import REPO, cli_env

FILES = 60
SIZE = 100_000
HOLD_ON = ("--in-use", "retry:10000", "--json")
WAIT_S = 120.0
"""Upper bound on waiting for the first checkpoint (a hung test fails instead of blocking)."""


def site_config(tmp: Path) -> Path:
    (tmp / "library.toml").write_text(LIBRARY)
    config = tmp / "tapir.toml"
    config.write_text(
        f'catalog = "sqlite:///{tmp / "catalog.sqlite"}"\n'
        f'[[libraries]]\nname = "lib1"\nhwsim = "{tmp / "state"}"\n'
        f'hwsim_config = "{tmp / "library.toml"}"\n'
    )
    return config


def committed_rows(url: str) -> int:
    with open_catalog(url) as cat, cat.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(files_table)).scalar())


def test_sigkill_mid_backup_keeps_the_catalog_consistent_and_the_next_run_resumes(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(FILES):
        (src / f"f{i:02d}").write_bytes(os.urandom(SIZE))
    held = src / "zz-held"
    held.write_bytes(b"being written\n")
    tapir = Tapir(tmp_path, config=site_config(tmp_path))
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    args = ["--to", "lib1", "--record-size", "64K", "--checkpoint-bytes", "256K"]
    # the last file is held open for writing by another process, and the job retries it for
    # ages: the run stops there, after checkpoints committed everything before it
    writer = Writer(held, hold=True)
    env = cli_env(tapir.home)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env["TAPIR_CONFIG"] = str(tapir.config)
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "backup", str(src), *args, *HOLD_ON],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while committed_rows(url) < FILES // 2:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint was committed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    writer.stop()

    with open_catalog(url) as cat:
        jobs, files = JobsStore(cat), FilesStore(cat)
        (job_row,) = jobs.list_jobs()
        job_id = job_row.job.id
        (run,) = jobs.runs(job_id)
        rows = files.descendants(run.id, os.fsencode(src))
        (session,) = files.sessions(run.id)
        (part,) = files.parts(session.id)
        assert jobs.get_job(job_id).state is JobState.RUNNING and run.ended_at is None
        # only flushed members are listed: each ends in a record that reached the tape
        on_tape = tape_files(tmp_path / "state", part.volume)[part.tape_file]
        for row in rows:
            assert row.record is not None
            end = row.record * RECORD + row.offset + 512 + row.size
            assert end <= len(on_tape) * RECORD, row.path
        done = len([r for r in rows if r.kind == "file"])
        assert FILES // 2 <= done < FILES + 1
        # what the job manager's sweeper does for a run whose process died
        jobs.end_run(run.id, CompletionStatus.FAILED, error="The engine process died.")
        jobs.transition(job_id, JobState.QUEUED, actor="sweeper", reason="Holder died.")

    resumed = tapir.json("backup", str(src), *args, "--resume", str(job_id))
    assert resumed["status"] == "COMPLETED", resumed
    assert resumed["job"] == job_id and resumed["resumed_from"] == 1
    assert resumed["counters"]["files"] == FILES + 1 - done
    restored = tapir("restore", str(src), "--to", str(tmp_path / "dst"), "--as-of", str(job_id))
    assert restored.returncode == 0, restored.stderr
    assert compare_trees(src, tmp_path / "dst" / str(src).lstrip("/")) == []
    with open_catalog(url) as cat:
        history = [(r.number, r.status) for r in JobsStore(cat).runs(job_id)]
    assert history == [(1, CompletionStatus.FAILED), (2, CompletionStatus.COMPLETED)]
