"""All-or-nothing reservation under contention: many processes reserving at once through one
SQLite catalog never hold one drive twice, and a job that cannot get everything holds nothing.
The unique (kind, key) constraint refuses a second holder even outside the transaction."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.catalog.db import open_catalog
from engine.catalog.jobs_store import JobsStore
from engine.catalog.schema import reservations as reservations_table
from engine.manager import queue
from engine.manager.reservations import Reservations, holder_id
from engine.manager.resources import Grant, Request, drives, media_from_pool, streams

DRIVES = ["lib1:drive0", "lib1:drive1"]
WORKERS = 8


def _reserve(url: str, job_id: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    catalog = open_catalog(url)
    medium = f"TST00{job_id % 3 + 1}L8"  # three media for eight jobs: some collide
    request = Request((drives("lib1", DRIVES), media_from_pool("default", [medium])))
    outcome = Reservations(catalog, lease_s=30).reserve(job_id, holder_id(job_id), request)
    out.put((job_id, isinstance(outcome.result, Grant)))
    catalog.close()


def test_concurrent_processes_never_share_a_drive(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    catalog = open_catalog(url)
    jobs = JobsStore(catalog)
    ids = []
    for n in range(WORKERS):
        job_id = jobs.create_job("verify", f"v{n}", {})
        queue.submit(catalog, job_id)
        ids.append(job_id)
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_reserve, args=(url, j, results)) for j in ids]
    for p in procs:
        p.start()
    got = dict(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(60)
    held = Reservations(catalog, lease_s=30).held()
    catalog.close()
    granted = [j for j, ok in got.items() if ok]
    assert len(granted) == len(DRIVES)
    drive_keys = [h.key for h in held if h.kind == "drive"]
    assert sorted(drive_keys) == DRIVES
    medium_keys = [h.key for h in held if h.kind == "medium"]
    assert len(set(medium_keys)) == len(medium_keys) == len(DRIVES)
    assert {h.job_id for h in held} == set(granted)  # the others hold nothing


def test_a_second_holder_of_a_key_is_refused_by_the_database(tmp_path: Path) -> None:
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    jobs = JobsStore(catalog)
    a, b = jobs.create_job("verify", "a", {}), jobs.create_job("verify", "b", {})
    reservations = Reservations(catalog, lease_s=30)
    assert isinstance(
        reservations.reserve(a, holder_id(a), Request((streams("P", 1),))).result, Grant
    )
    holder = holder_id(b)
    reservations.reserve(b, holder, Request())  # a lease with nothing
    with pytest.raises(sa.exc.IntegrityError), catalog.write() as conn:
        conn.execute(
            sa.insert(reservations_table).values(
                holder=holder, job_id=b, kind="stream", key="P#0", grp="P",
                reserved_at=sa.func.now(),
            )
        )  # fmt: skip
    catalog.close()


def test_claim_adds_one_free_key_to_a_live_holder_only(tmp_path: Path) -> None:
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    jobs = JobsStore(catalog)
    a, b = jobs.create_job("backup", "a", {}), jobs.create_job("backup", "b", {})
    reservations = Reservations(catalog, lease_s=30)
    ha, hb = holder_id(a), holder_id(b)
    reservations.reserve(a, ha, Request((media_from_pool("default", ["T1"]),)))
    reservations.reserve(b, hb, Request())
    assert reservations.claim(hb, b, "medium", "T1", "default") is False  # a's
    assert reservations.claim(hb, b, "medium", "T2", "default") is True
    assert reservations.claim(hb, b, "medium", "T2", "default") is True  # already b's
    assert reservations.claim(ha, a, "medium", "T2", "default") is False
    reservations.unclaim(hb, "medium", "T2")
    assert reservations.claim(ha, a, "medium", "T2", "default") is True
    reservations.release(hb)
    assert reservations.claim(hb, b, "medium", "T3", "default") is False  # its lease is gone
    held = sorted((h.job_id, h.key) for h in reservations.held())
    catalog.close()
    assert held == [(a, "T1"), (a, "T2")]
