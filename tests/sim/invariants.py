"""What must hold after every scenario, whatever failed (issue 7 "Proven by simulation"):

- every run ended in a terminal status, a failed or continued one with its reason, and the job
  is ENDED with a reason;
- every file the catalog lists restores byte-exact, run by run (each run's own rows, read from
  the media they name: a run cut by a fault included);
- no suspect tape was appended to: no session on it started after it became suspect;
- once the operator put the faults right, the job completed (from its checkpoint) and the whole
  tree restores from it;
- a disk session cut by a fault was closed at its last flushed point (each volume file holds
  exactly the label and the records its part row counts), and a run cut by a mount path
  fault was followed by one on another mount path, or by the job ending with the reason;
- the job manager let go of everything: no lease and no reservation is held, no queue entry
  belongs to a job that has not ended, and every state change in every job's history is one
  the transition table (engine/jobs/states.py ``ALLOWED``) allows, in an unbroken chain from
  NOT_SUBMITTED to the job's state now.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from devices.media import MediaState
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.catalog.media_store import CatalogMediaStore
from engine.catalog.schema import job_queue, job_transitions, jobs, session_parts, sessions
from engine.jobs.states import (
    ALLOWED,
    SUCCESS_STATUSES,
    TERMINAL_STATES,
    CompletionStatus,
    JobState,
)
from engine.manager.reservations import Reservations
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
    nothing_held(site)
    queue_entries_ended(site)
    transitions_are_legal(site)
    runs_are_terminal(site)
    disk_sessions_cut_at_flush(site)
    mount_path_faults_moved_or_failed(site, result)
    every_row_restores(site, result)
    no_suspect_tape_appended(site)
    the_job_completed_and_restores(site, result)


def disk_sessions_cut_at_flush(site: Site) -> None:
    files = FilesStore(site.catalog())
    mounts = {str(os.path.abspath(m.path)) for m in site.config.mount_paths}
    with site.catalog().read() as conn:
        found = list(conn.execute(sa.select(sessions).where(sessions.c.target.in_(mounts))))
    for session in found:
        for part in files.parts(session.id):
            path = Path(session.target) / f"{part.volume}.vol"
            if part.record_count is None or not path.exists():
                continue  # a run killed with its part open: the catalog holds what it flushed
            size = path.stat().st_size
            if part.record_count == 0 and size < session.record_size:
                continue  # cut before its label was whole: the part lists nothing
            assert size == (1 + part.record_count) * session.record_size, (
                f"{path}: {size} bytes, the catalog counts {part.record_count} records"
            )


def mount_path_faults_moved_or_failed(site: Site, result: Result) -> None:
    if result.scenario.target != "disk":
        return
    files = FilesStore(site.catalog())
    jobs_store = JobsStore(site.catalog())
    mounts = [str(os.path.abspath(m.path)) for m in site.config.mount_paths]
    for row in jobs_store.list_jobs():
        runs = jobs_store.runs(row.job.id)
        for run, after in zip(runs, [*runs[1:], None], strict=True):
            named = [m for m in mounts if m in (run.error or "")]
            if run.status in SUCCESS_STATUSES or not named:
                continue
            if after is None:
                assert run.status is not CompletionStatus.RESUMED, f"run {run.id} went nowhere"
                continue
            went = [s.target for s in files.sessions(after.id)]
            moved = bool(went) and named[0] not in went and all(t in mounts for t in went)
            failed = after.status is not CompletionStatus.RESUMED and any(
                m in (after.error or "") for m in mounts
            )
            assert moved or failed, (
                f"run {run.id} lost {named[0]}; run {after.id} wrote to {went} and ended "
                f"{after.status}: {after.error}"
            )


def nothing_held(site: Site) -> None:
    held = Reservations(site.catalog(), lease_s=1.0)
    assert held.leases() == [], f"leases left held: {held.leases()}"
    assert held.held() == [], f"reservations left held: {held.held()}"


def queue_entries_ended(site: Site) -> None:
    query = sa.select(job_queue.c.job_id, job_queue.c.control, jobs.c.state).join(
        jobs, jobs.c.id == job_queue.c.job_id
    )
    with site.catalog().read() as conn:
        rows = list(conn.execute(query))
    for row in rows:
        assert JobState(row.state) in TERMINAL_STATES, f"job {row.job_id} queued as {row.state}"
        assert row.control is None, f"job {row.job_id} ended with a pending {row.control}"


def transitions_are_legal(site: Site) -> None:
    t = job_transitions
    with site.catalog().read() as conn:
        states = {r.id: JobState(r.state) for r in conn.execute(sa.select(jobs.c.id, jobs.c.state))}
        rows = list(conn.execute(sa.select(t).order_by(t.c.id)))
    now: dict[int, JobState | None] = dict.fromkeys(states)
    for row in rows:
        old = JobState(row.old_state) if row.old_state is not None else None
        new = JobState(row.new_state)
        where = f"job {row.job_id}: {row.old_state} -> {row.new_state} ({row.reason})"
        assert old == now[row.job_id], f"{where} follows {now[row.job_id]}: a broken history"
        if old is None:
            assert new is JobState.NOT_SUBMITTED, f"{where}: a job starts NOT_SUBMITTED"
        else:
            assert new in ALLOWED[old], f"{where}: not in the transition table"
        now[row.job_id] = new
    assert now == states, f"histories end elsewhere than the jobs: {now} != {states}"


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
