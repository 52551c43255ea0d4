"""A job holder as a real process (for the sweeper tests): runs job N through the manager
with an executor that marks the run started, says ``holding`` and then holds its
reservations until killed. Usage: python -m tests.engine.manager.holder STATE CATALOG JOB."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import JobState
from engine.manager.executors import EXECUTORS
from engine.manager.foreground import run_managed
from engine.manager.runner import JobContext
from engine.site import Site
from engine.site_config import LibrarySpec, SiteConfig
from tests.engine.manager.manager_util import CONFIG


def hold(ctx: JobContext) -> None:
    jobs = JobsStore(ctx.catalog)
    jobs.transition(ctx.job.id, JobState.RUNNING, actor="holder", reason="Started.")
    jobs.start_run(ctx.job.id)
    print("holding", flush=True)
    sys.stdin.read()  # until killed


def main() -> None:
    state, catalog, job = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    config = SiteConfig(libraries=(LibrarySpec("lib1", state_dir=state),), catalog=catalog)
    for kind in ("verify", "label"):
        EXECUTORS[kind] = hold
    with Site(config) as site:
        run_managed(site, site.catalog(), job, CONFIG)


if __name__ == "__main__":
    main()
