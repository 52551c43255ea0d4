"""What must hold after every scenario, whatever failed (issue 7 "Proven by simulation"):

- every run ended in a terminal status, a failed or continued one with its reason, and the job
  is ENDED with a reason;
- every file the catalog lists restores byte-exact, run by run (each run's own rows, read from
  the media they name: a run cut by a fault included);
- no suspect tape was appended to: no session on it started after it became suspect;
- once the operator put the faults right, the job completed (from its checkpoint) and the whole
  tree restores from it.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from devices.media import MediaState
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.catalog.media_store import CatalogMediaStore
from engine.catalog.schema import session_parts, sessions
from engine.jobs.states import SUCCESS_STATUSES, JobState
from engine.restore.asof import AsOf
from engine.restore.execute import PlanRunner
from engine.restore.extract import Extractor, FileResult, Outcome, Overwrite
from engine.restore.job import RestoreSpec, run_restore
from engine.restore.plan import build_plan, locate_volumes
from engine.restore.select import Chosen
from engine.site import Site
from tests.engine.format.treecmp import compare_trees
from tests.sim.harness import Result


def check_all(site: Site, result: Result) -> None:
    runs_are_terminal(site)
    every_row_restores(site, result)
    no_suspect_tape_appended(site)
    the_job_completed_and_restores(site, result)


def runs_are_terminal(site: Site) -> None:
    jobs = JobsStore(site.catalog())
    for row in jobs.list_jobs():
        job = jobs.get_job(row.job.id)
        if job.type != "backup":
            continue
        assert job.state is JobState.ENDED, f"job {job.id} is {job.state.value}"
        assert job.state_reason, f"job {job.id} ended without a reason"
        for run in jobs.runs(job.id):
            assert run.ended_at is not None and run.status is not None, f"run {run.id} open"
            if run.status not in SUCCESS_STATUSES:
                assert run.error, f"run {run.id} ended {run.status.value} without a reason"


def every_row_restores(site: Site, result: Result) -> None:
    files = FilesStore(site.catalog())
    jobs = JobsStore(site.catalog())
    for row in jobs.list_jobs():
        if row.job.type != "backup":
            continue
        for run in jobs.runs(row.job.id):
            for session in files.sessions(run.id):
                _restore_session(site, files, run.id, int(session.id), result)


def _restore_session(
    site: Site, files: FilesStore, run_id: int, session_id: int, result: Result
) -> None:
    src = os.fsencode(result.src)
    with files.catalog.read() as conn:
        from engine.catalog.files_read import file_row
        from engine.catalog.files_store import _ROW_COLUMNS
        from engine.catalog.schema import files as t

        rows = [
            file_row(r)
            for r in conn.execute(
                sa.select(*_ROW_COLUMNS).where(t.c.session_id == session_id, t.c.kind == "file")
            )
        ]
    chosen = [Chosen(r, session_id) for r in rows if r.checksum is not None]
    if not chosen:
        return
    plan = build_plan(files, chosen)
    locate_volumes(plan, site)
    dst = result.root / f"check-s{session_id}"
    dst.mkdir()
    results: list[FileResult] = []
    extractor = Extractor(os.fsencode(dst), Overwrite.NEVER)
    try:
        PlanRunner(site, site.media_store(), extractor, results.append).run(plan)
    finally:
        extractor.close()
    failed = [r for r in results if r.outcome is not Outcome.RESTORED]
    assert not failed, f"run {run_id}: catalog rows that do not restore: {failed[:3]}"
    assert len(results) == len(chosen), (len(results), len(chosen))
    for c in chosen:
        assert c.row.path.startswith(src)
        restored = Path(os.fsdecode(os.fsencode(dst) + c.row.path))
        original = Path(os.fsdecode(c.row.path))
        assert restored.read_bytes() == original.read_bytes(), c.row.path


def no_suspect_tape_appended(site: Site) -> None:
    store = CatalogMediaStore(site.catalog())
    for medium in store.list_media():
        if medium.state is not MediaState.SUSPECT:
            continue
        query = (
            sa.select(sessions.c.id, sessions.c.started_at)
            .join(session_parts, session_parts.c.session_id == sessions.c.id)
            .where(session_parts.c.volume == medium.barcode)
        )
        with store.catalog.read() as conn:
            found = list(conn.execute(query))
        since = medium.state_since.replace(tzinfo=None)
        for session in found:
            started = session.started_at.replace(tzinfo=None)
            assert started <= since, (
                f"session {session.id} was written to {medium.barcode} after it became suspect"
            )


def the_job_completed_and_restores(site: Site, result: Result) -> None:
    final = result.outcomes[-1]
    assert final.status in SUCCESS_STATUSES, (
        f"after the faults were put right the job did not complete: {final.status.value}: "
        f"{final.error}"
    )
    dst = result.root / "restored"
    out = run_restore(
        RestoreSpec((str(result.src),), root=str(dst), as_of=AsOf(job=final.job_id)), site
    )
    assert out.status.value == "COMPLETED", (out.status.value, out.error, out.results[:3])
    assert compare_trees(result.src, dst / str(result.src).lstrip("/")) == []
