"""``tapir jobs list|history|show``: what runs, what waits and why, what happened last night.

Statuses print in the vocabulary the administrator knows (``--as tapir|backupexec|hmc|ccp|
commvault|history``, engine/jobs/vocabulary.py). ``--status`` takes a tapir state or completion
status (``RUNNING``, ``completed_with_exceptions``) or a word of the chosen vocabulary
("Completed with exceptions" with ``--as backupexec``); a tapir name wins over a vocabulary word
spelled the same ("Failed" is FAILED). ``--sort`` takes any column shown
(``-files`` sorts descending). Dates are ISO 8601; without an offset they are local time, and a
bare date given to ``--until`` means the end of that day.

Paths print with undecodable bytes as ``\\xNN`` escapes, in tables and in ``--json``.

Exit codes: 0 done; 2 unknown job or run, bad option value, or a catalog that cannot be opened.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, time
from typing import Annotated, Any

import typer

from engine.cli.common import CatalogOpt, JsonOpt, open_catalog_of, print_json
from engine.cli.errors import fail
from engine.cli.jobs_show import (
    copies_of_runs,
    file_dict,
    job_dict,
    print_job,
    run_dict,
    shown_status,
    transition_dict,
    when,
)
from engine.jobs.states import CompletionStatus, JobState
from engine.jobs.vocabulary import Vocabulary

app = typer.Typer(
    help="Jobs in the catalog: list, history, show; cancel, suspend, resume, priority.",
    no_args_is_help=True,
)

AsOpt = Annotated[Vocabulary, typer.Option("--as", help="Name statuses as this product does.")]
StatusOpt = Annotated[
    list[str] | None,
    typer.Option("--status", help="State, completion status or vocabulary word (repeatable)."),
]
TypeOpt = Annotated[list[str] | None, typer.Option("--type", help="Job type (repeatable).")]
ClientOpt = Annotated[list[str] | None, typer.Option("--client", help="Client (repeatable).")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Active since (ISO 8601).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Active until (ISO 8601).")]
SortOpt = Annotated[
    list[str] | None, typer.Option("--sort", help="Column to sort by; -COLUMN descends.")
]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="At most N rows.")]


@contextlib.contextmanager
def stores(catalog: str | None) -> Iterator[tuple[Any, Any]]:
    """The jobs and files stores on the catalog, inside ``friendly_errors``
    (``open_catalog_of``: the catalog alone, not the devices of the site); the catalog's own
    errors (unknown job, bad sort column) become one line too."""
    from engine.catalog.files_store import FilesStore  # SQLAlchemy only for catalog commands
    from engine.catalog.jobs_model import JobsError
    from engine.catalog.jobs_query import UnknownColumn
    from engine.catalog.jobs_store import JobsStore

    with open_catalog_of(catalog) as opened:
        try:
            yield JobsStore(opened), FilesStore(opened)
        except (JobsError, UnknownColumn) as exc:
            fail(str(exc))


def parse_when(text: str | None, option: str, *, end_of_day: bool = False) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not an ISO 8601 date or time (e.g. 2025-03-01T22:00).")
    if end_of_day and len(text) <= len("2025-03-01"):
        when = datetime.combine(when.date(), time.max)
    return when.astimezone()  # naive means local time


def status_filter(
    values: list[str] | None,
) -> tuple[set[JobState], set[CompletionStatus], set[str]]:
    """Split ``--status`` values into states, completion statuses and vocabulary words."""
    states: set[JobState] = set()
    statuses: set[CompletionStatus] = set()
    words: set[str] = set()
    for value in values or []:
        key = value.strip().upper().replace("-", "_").replace(" ", "_")
        if key in JobState.__members__:
            states.add(JobState(key))
        elif key in CompletionStatus.__members__:
            statuses.add(CompletionStatus(key))
        else:
            words.add(value.strip().lower())
    return states, statuses, words


def build_query(
    status: list[str] | None,
    types: list[str] | None,
    clients: list[str] | None,
    since: str | None,
    until: str | None,
    sort: list[str] | None,
    limit: int | None,
    job_ids: frozenset[int] = frozenset(),
) -> tuple[Any, set[str]]:
    from engine.catalog.jobs_query import JobQuery

    states, statuses, words = status_filter(status)
    query = JobQuery(
        states=frozenset(states),
        statuses=frozenset(statuses),
        types=frozenset(types or ()),
        clients=frozenset(clients or ()),
        job_ids=job_ids,
        since=parse_when(since, "--since"),
        until=parse_when(until, "--until", end_of_day=True),
        sort=tuple(sort or ("id",)),
        limit=None if words else limit,
    )
    return query, words


def _matching(
    rows: list[Any], words: set[str], vocab: Vocabulary, limit: int | None, *, per_run: bool
) -> list[Any]:
    if words:
        rows = [
            r
            for r in rows
            if shown_status(vocab, r, run=r.run if per_run else None).lower() in words
        ]
    return rows[:limit] if limit is not None else rows


@app.command("list")
def list_command(
    vocab: AsOpt = Vocabulary.TAPIR,
    status: StatusOpt = None,
    type_: TypeOpt = None,
    client: ClientOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    sort: SortOpt = None,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """Jobs with their state now (or how their last run ended) and their latest run."""
    query, words = build_query(status, type_, client, since, until, sort, limit)
    with stores(catalog) as (jobs, _):
        rows = _matching(jobs.list_jobs(query), words, vocab, limit, per_run=False)
    if as_json:
        print_json([job_dict(r, vocab) for r in rows])
        return
    if not rows:
        typer.echo("no jobs match")
        return
    from rich.table import Table  # only to draw: --json needs none of rich

    table = Table(title="Jobs")
    for column in (
        "Job",
        "Type",
        "Name",
        "Client",
        "Status",
        "Priority",
        "Since",
        "Run",
        "Files",
        "Bytes",
        "Reason",
    ):
        table.add_column(column)
    for r in rows:
        j, run = r.job, r.run
        table.add_row(
            str(j.id),
            j.type,
            j.name,
            j.client or "",
            shown_status(vocab, r),
            str(j.priority),
            when(j.state_since),
            str(run.number) if run else "",
            str(run.files) if run else "",
            str(run.bytes) if run else "",
            j.state_reason,
        )
    _console().print(table)


@app.command("history")
def history_command(
    job: Annotated[int | None, typer.Option("--job", help="Only this job's runs.")] = None,
    vocab: AsOpt = Vocabulary.TAPIR,
    status: StatusOpt = None,
    type_: TypeOpt = None,
    client: ClientOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    sort: SortOpt = None,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """One row per run: how each run of each job went."""
    ids = frozenset({job}) if job is not None else frozenset()
    query, words = build_query(status, type_, client, since, until, sort, limit, ids)
    with stores(catalog) as (jobs, _):
        if job is not None:
            jobs.get_job(job)  # unknown job: one-line error
        rows = _matching(jobs.history(query), words, vocab, limit, per_run=True)
    if as_json:
        print_json(
            [{**job_dict(r, vocab), "shown": shown_status(vocab, r, run=r.run)} for r in rows]
        )
        return
    if not rows:
        typer.echo("no runs match")
        return
    from rich.table import Table  # only to draw: --json needs none of rich

    table = Table(title="Job history")
    for column in (
        "Job",
        "Run",
        "Type",
        "Name",
        "Client",
        "Status",
        "Level",
        "Started",
        "Ended",
        "Files",
        "Bytes",
        "Exceptions",
        "Error",
    ):
        table.add_column(column)
    for r in rows:
        j, run = r.job, r.run
        table.add_row(
            str(j.id),
            str(run.number),
            j.type,
            j.name,
            j.client or "",
            shown_status(vocab, r, run=run),
            run.level or "",
            when(run.started_at),
            when(run.ended_at),
            str(run.files),
            str(run.bytes),
            str(run.exceptions),
            run.error or "",
        )
    _console().print(table)


@app.command("show")
def show_command(
    job_id: Annotated[int, typer.Argument(metavar="JOB", help="The job's number.")],
    exceptions: Annotated[
        bool, typer.Option("--exceptions", help="List each file that did not back up cleanly.")
    ] = False,
    changes: Annotated[
        bool, typer.Option("--changes", help="List files added, changed and deleted.")
    ] = False,
    run_number: Annotated[
        int | None, typer.Option("--run", help="Which run (default: the latest).")
    ] = None,
    vocab: AsOpt = Vocabulary.TAPIR,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """One job: its definition, state and reason, every run, and optionally the files."""
    from engine.catalog.jobs_query import JobQuery

    with stores(catalog) as (jobs, files):
        [row] = jobs.list_jobs(JobQuery(job_ids=frozenset({job_id}))) or [None]
        if row is None:
            fail(f"Job {job_id} is not in the catalog: tapir jobs list shows the jobs it holds.")
        runs = jobs.runs(job_id)
        chosen = _choose_run(runs, run_number, job_id)
        transitions = jobs.transitions(job_id)
        listed = {}
        if exceptions and chosen is not None:
            listed["exceptions"] = files.exceptions(chosen.id)
        if changes and chosen is not None:
            listed["changes"] = files.changes(chosen.id)
        copies = copies_of_runs(files.catalog, runs) if row.job.type == "backup" else []
    if as_json:
        doc = job_dict(row, vocab)
        doc["copies"] = copies
        doc["spec"] = row.job.spec
        doc["runs"] = [run_dict(r, vocab) for r in runs]
        doc["transitions"] = [transition_dict(t) for t in transitions]
        for key, found in listed.items():
            doc[key] = [file_dict(f) for f in found]
        print_json(doc)
        return
    console = _console()
    print_job(console, row, runs, transitions, listed, vocab, chosen)
    for c in copies:
        console.print(
            f"Copy {c['copy']} of run {c['run']}: {', '.join(c['volumes'])} "
            f"(copy job {c['copy_job']}, {c['target']})"
        )


def _console() -> Any:
    from rich.console import Console  # only to draw: --json needs none of rich

    return Console()


def _choose_run(runs: list[Any], number: int | None, job_id: int) -> Any:
    if number is None:
        return runs[-1] if runs else None
    for run in runs:
        if run.number == number:
            return run
    fail(f"Job {job_id} has no run {number}; it has {len(runs)} run(s).")


def _register_control() -> None:
    from engine.cli.jobs_control import register  # it imports ``stores`` from this module

    register(app)


_register_control()
