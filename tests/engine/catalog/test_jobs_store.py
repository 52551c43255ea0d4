"""JobsStore on real SQLite files: transitions validated and persisted with time, actor and
reason; illegal moves write nothing; two real processes racing on one move, one wins; runs,
history, and job lists filtered and sorted."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest

from engine.catalog.db import Catalog, open_catalog
from engine.catalog.jobs_model import RunConflict, StaleJob, UnknownJob, UnknownRun
from engine.catalog.jobs_query import JobQuery, UnknownColumn
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, IllegalTransition, JobState, MissingReason
from engine.jobs.vocabulary import Detail

S = JobState
C = CompletionStatus
T0 = datetime(2025, 3, 1, 22, 0, 0, 250000, tzinfo=UTC)
MIN = timedelta(minutes=1)


def queued(jobs: JobsStore, name: str = "nightly", **spec: object) -> int:
    job = jobs.create_job("backup", name, {"source": "/srv", **spec}, actor="admin", now=T0)
    jobs.transition(job, S.QUEUED, actor="scheduler", reason="Scheduled.", now=T0 + MIN)
    return job


def test_transitions_are_persisted_with_time_actor_and_reason(jobs: JobsStore) -> None:
    job = queued(jobs, client="host1")
    jobs.transition(
        job,
        S.WAITING,
        actor="dispatcher",
        reason="No drives available for reservation.",
        now=T0 + 2 * MIN,
    )
    jobs.transition(
        job, S.RUNNING, actor="dispatcher", reason="Resources reserved.", now=T0 + 3 * MIN
    )
    got = jobs.get_job(job)
    assert (got.state, got.state_reason, got.state_actor) == (
        S.RUNNING,
        "Resources reserved.",
        "dispatcher",
    )
    assert got.state_since == T0 + 3 * MIN
    assert got.client == "host1" and got.source == "/srv" and got.spec["client"] == "host1"
    history = jobs.transitions(job)
    assert [(t.old, t.new, t.actor, t.at) for t in history] == [
        (None, S.NOT_SUBMITTED, "admin", T0),
        (S.NOT_SUBMITTED, S.QUEUED, "scheduler", T0 + MIN),
        (S.QUEUED, S.WAITING, "dispatcher", T0 + 2 * MIN),
        (S.WAITING, S.RUNNING, "dispatcher", T0 + 3 * MIN),
    ]
    assert history[2].reason == "No drives available for reservation."


def test_illegal_transitions_raise_and_write_nothing(jobs: JobsStore) -> None:
    job = queued(jobs)
    before = jobs.transitions(job)
    with pytest.raises(IllegalTransition, match="cannot go from QUEUED to CANCEL_PENDING"):
        jobs.transition(job, S.CANCEL_PENDING, actor="a", reason="x")
    with pytest.raises(MissingReason):
        jobs.transition(job, S.WAITING, actor="a", reason="")
    with pytest.raises(MissingReason):
        jobs.transition(job, S.ENDED, actor="a", reason="done")  # no status
    with pytest.raises(StaleJob, match="is QUEUED now, not RUNNING"):
        jobs.transition(job, S.ENDED, actor="a", reason="x", status=C.FAILED, expected=S.RUNNING)
    with pytest.raises(UnknownJob):
        jobs.transition(999, S.QUEUED, actor="a", reason="x")
    assert jobs.transitions(job) == before
    assert jobs.get_job(job).state is S.QUEUED
    assert jobs.runs(job) == []


def _race(url: str, job: int, barrier: object, results: multiprocessing.Queue[str]) -> None:
    store = JobsStore(open_catalog(url))
    barrier.wait()  # type: ignore[attr-defined]
    try:
        store.transition(
            job,
            S.RUNNING,
            actor=f"pid{multiprocessing.current_process().pid}",
            reason="Dispatched.",
            expected=S.QUEUED,
        )
        results.put("won")
    except StaleJob:
        results.put("stale")
    finally:
        store.catalog.close()


def test_processes_racing_on_one_transition_one_wins(db_url: str, catalog: Catalog) -> None:
    ctx = multiprocessing.get_context("fork")
    jobs = JobsStore(catalog)
    for _ in range(3):
        job = queued(jobs)
        barrier = ctx.Barrier(4)
        results: multiprocessing.Queue[str] = ctx.Queue()
        procs = [ctx.Process(target=_race, args=(db_url, job, barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        outcome = sorted(results.get(timeout=30) for _ in procs)
        for p in procs:
            p.join(30)
        assert outcome == ["stale", "stale", "stale", "won"]
        moves = [t for t in jobs.transitions(job) if t.new is S.RUNNING]
        assert len(moves) == 1 and moves[0].actor.startswith("pid")
        assert jobs.get_job(job).state is S.RUNNING


def test_runs_progress_and_history(jobs: JobsStore) -> None:
    job = queued(jobs)
    jobs.transition(job, S.RUNNING, actor="d", reason="go", now=T0 + 2 * MIN)
    run = jobs.start_run(job, level="full", now=T0 + 2 * MIN)
    assert (run.number, run.started_at, run.ended_at, run.files) == (1, T0 + 2 * MIN, None, 0)
    with pytest.raises(RunConflict):
        jobs.start_run(job)
    jobs.update_progress(
        run.id,
        phase="write",
        files=10,
        bytes=4096,
        rate=1.5e8,
        volume="A1L8",
        drive="lib1:drive0",
        now=T0 + 3 * MIN,
    )
    live = jobs.open_run(job)
    assert live is not None
    assert (live.phase, live.files, live.volume, live.heartbeat_at) == (
        "write",
        10,
        "A1L8",
        T0 + 3 * MIN,
    )
    with pytest.raises(TypeError, match="unknown progress fields: colour"):
        jobs.update_progress(run.id, colour="red")
    ended = jobs.end_run(
        run.id,
        C.FAILED,
        detail=Detail.WILL_RETRY,
        error="Drive offline.",
        counters={"files": 12, "bytes": 8192, "retries": 1},
        now=T0 + 4 * MIN,
    )
    assert (ended.status, ended.detail, ended.error, ended.files) == (
        C.FAILED,
        Detail.WILL_RETRY,
        "Drive offline.",
        12,
    )
    assert ended.counters == {"files": 12, "bytes": 8192, "retries": 1}
    assert ended.phase == "ended"  # no longer shown as writing
    with pytest.raises(RunConflict):
        jobs.end_run(run.id, C.COMPLETED)
    with pytest.raises(UnknownRun):
        jobs.update_progress(12345, files=1)
    jobs.transition(job, S.WAITING, actor="d", reason="Retry in 20 minutes.", now=T0 + 4 * MIN)
    jobs.transition(job, S.RUNNING, actor="d", reason="retry", now=T0 + 25 * MIN)
    second = jobs.start_run(job, level="full", now=T0 + 25 * MIN)
    jobs.end_run(
        second.id, C.COMPLETED_WITH_EXCEPTIONS, counters={"exceptions": 2}, now=T0 + 30 * MIN
    )
    last = jobs.transition(
        job, S.ENDED, actor="d", reason="Done.", status=C.COMPLETED_WITH_EXCEPTIONS
    )
    assert last.run_id == second.id
    assert [(r.number, r.status) for r in jobs.runs(job)] == [
        (1, C.FAILED),
        (2, C.COMPLETED_WITH_EXCEPTIONS),
    ]
    assert jobs.get_job(job).status is C.COMPLETED_WITH_EXCEPTIONS
    assert [t.run_id for t in jobs.transitions(job)][-1] == second.id


def test_cancel_before_start_and_while_running_are_kept_apart(jobs: JobsStore) -> None:
    early = queued(jobs, "early")
    jobs.transition(early, S.ENDED, actor="admin", reason="Canceled by admin.", status=C.CANCELED)
    [never] = jobs.runs(early)
    assert (never.started_at, never.status, never.detail) == (
        None,
        C.CANCELED,
        Detail.CANCELED_BEFORE_START,
    )

    late = queued(jobs, "late")
    jobs.transition(late, S.RUNNING, actor="d", reason="go")
    jobs.start_run(late)
    jobs.transition(late, S.CANCEL_PENDING, actor="admin", reason="Kill requested.")
    jobs.transition(late, S.ENDED, actor="d", reason="Killed.", status=C.CANCELED)
    [run] = jobs.runs(late)
    assert (run.status, run.detail) == (C.CANCELED, Detail.CANCELED_WHILE_RUNNING)
    assert run.ended_at is not None and jobs.open_run(late) is None
    assert jobs.get_job(late).detail is Detail.CANCELED_WHILE_RUNNING


def test_list_and_history_filter_and_sort(jobs: JobsStore) -> None:
    a = jobs.create_job("backup", "a", {"client": "h1"}, priority=5, now=T0)
    b = jobs.create_job("restore", "b", {"client": "h2"}, priority=1, now=T0 + MIN)
    c = jobs.create_job("backup", "c", {"client": "h2"}, priority=9, now=T0 + 2 * MIN)
    for job in (b, c):
        jobs.transition(job, S.QUEUED, actor="s", reason="q", now=T0 + 3 * MIN)
        jobs.transition(job, S.RUNNING, actor="s", reason="r", now=T0 + 3 * MIN)
        run = jobs.start_run(job, now=T0 + 3 * MIN)
        jobs.end_run(
            run.id, C.COMPLETED if job == b else C.FAILED, counters={"files": job}, now=T0 + 9 * MIN
        )
        jobs.transition(
            job,
            S.ENDED,
            actor="s",
            reason="e",
            status=jobs.get_run(run.id).status,
            now=T0 + 9 * MIN,
        )

    def ids(rows: list) -> list[int]:
        return [r.job.id for r in rows]

    assert ids(jobs.list_jobs()) == [a, b, c]
    assert ids(jobs.list_jobs(JobQuery(sort=("priority",)))) == [b, a, c]
    assert ids(jobs.list_jobs(JobQuery(sort=("-files",)))) == [c, b, a]  # no run last
    assert ids(jobs.list_jobs(JobQuery(types=frozenset({"backup"})))) == [a, c]
    assert ids(jobs.list_jobs(JobQuery(clients=frozenset({"h2"})))) == [b, c]
    assert ids(jobs.list_jobs(JobQuery(states=frozenset({S.NOT_SUBMITTED})))) == [a]
    assert ids(jobs.list_jobs(JobQuery(statuses=frozenset({C.FAILED})))) == [c]
    assert ids(jobs.list_jobs(JobQuery(since=T0 + 5 * MIN))) == [b, c]
    assert ids(jobs.list_jobs(JobQuery(until=T0 + 30 * timedelta(seconds=1)))) == [a]
    rows = jobs.list_jobs(JobQuery(job_ids=frozenset({b})))
    assert rows[0].runs == 1 and rows[0].run is not None and rows[0].run.files == b
    assert [(r.job.id, r.run.number) for r in jobs.history()] == [(b, 1), (c, 1)]
    assert ids(jobs.history(JobQuery(statuses=frozenset({C.COMPLETED})))) == [b]
    assert ids(jobs.history(JobQuery(since=T0 + 10 * MIN))) == []
    with pytest.raises(UnknownColumn, match="Cannot sort by 'colour'; columns: bytes, client"):
        jobs.list_jobs(JobQuery(sort=("colour",)))
