"""How ``tapir jobs`` prints: a job's status word in a vocabulary, the ``--json`` documents, and
``tapir jobs show N``: its definition and state, its runs, its transitions, and the files of
one run (``--exceptions``: each with category and reason; ``--changes``: added, changed,
deleted). The commands and their queries are engine/cli/jobs.py."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.jobs.states import JobState
from engine.jobs.vocabulary import Detail, Vocabulary, display_name

if TYPE_CHECKING:  # rich is imported by the functions that draw: tapir ls needs none of it
    from rich.console import Console
    from rich.table import Table


def print_job(
    console: Console,
    row: Any,
    runs: list[Any],
    transitions: list[Any],
    listed: dict[str, list[Any]],
    vocab: Vocabulary,
    chosen: Any,
) -> None:
    job = row.job
    console.print(f"Job {job.id}: {job.name} ({job.type}), priority {job.priority}")
    if job.client or job.source:
        console.print(f"Client {job.client or '-'}, source {job.source or '-'}")
    console.print(f"Status: {shown_status(vocab, row)} since {when(job.state_since)}")
    console.print(f"Reason: {job.state_reason} ({job.state_actor})")
    console.print(runs_table(runs, row, vocab))
    console.print(transitions_table(transitions))
    if "exceptions" in listed:
        console.print(exceptions_table(listed["exceptions"], chosen.number))
    if "changes" in listed:
        console.print(changes_table(listed["changes"], chosen.number))


def runs_table(runs: list[Any], row: Any, vocab: Vocabulary) -> Table:
    from rich.table import Table

    table = Table(title="Runs")
    for column in (
        "Run",
        "Status",
        "Level",
        "Started",
        "Ended",
        "Phase",
        "Files",
        "Bytes",
        "Exceptions",
        "Volume",
        "Error",
    ):
        table.add_column(column)
    for run in runs:
        table.add_row(
            str(run.number),
            shown_status(vocab, row, run=run),
            run.level or "",
            when(run.started_at) or "never started",
            when(run.ended_at),
            run.phase or "",
            str(run.files),
            str(run.bytes),
            str(run.exceptions),
            run.volume or "",
            run.error or "",
        )
    return table


def transitions_table(transitions: list[Any]) -> Table:
    from rich.table import Table

    table = Table(title="Transitions")
    for column in ("At", "From", "To", "Status", "Actor", "Reason"):
        table.add_column(column)
    for t in transitions:
        table.add_row(
            when(t.at),
            t.old.value if t.old else "",
            t.new.value,
            t.status.value if t.status else "",
            t.actor,
            t.reason,
        )
    return table


def exceptions_table(found: list[Any], number: int) -> Table:
    from rich.table import Table

    table = Table(title=f"Exceptions of run {number}: {len(found)} file(s)")
    for column in ("Path", "Category", "Reason code", "Offset", "Stored", "Reason"):
        table.add_column(column)
    for f in found:
        offset = str(f.exception_offset) if f.exception_offset is not None else ""
        table.add_row(
            shown_path(f.path),
            f.exception_category or "",
            f.exception_code or "",
            offset,
            "yes" if f.stored else "no",
            f.exception_sentence or "",
        )
    return table


def changes_table(found: list[Any], number: int) -> Table:
    from rich.table import Table

    table = Table(title=f"Changes in run {number}: {len(found)} file(s)")
    for column in ("Change", "Kind", "Size", "Path"):
        table.add_column(column)
    for f in found:
        table.add_row(f.change.value if f.change else "", f.kind, str(f.size), shown_path(f.path))
    return table


def shown_status(vocab: Vocabulary, row: Any, *, run: Any = None) -> str:
    """The word for a job (or one of its runs) in ``vocab``."""
    job = row.job
    if run is not None and run.status is not None:
        return display_name(vocab, JobState.ENDED, run.status, run.detail or Detail.NONE)
    if job.state is JobState.ENDED:
        return display_name(vocab, job.state, job.status, job.detail or Detail.NONE)
    detail = Detail.NONE
    if job.state is JobState.WAITING and row.run is not None and row.run.started_at is not None:
        detail = Detail.HAS_RUN
    return display_name(vocab, job.state, None, detail)


def when(at: datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if at is not None else ""


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def shown_path(path: bytes) -> str:
    return path.decode("utf-8", "backslashreplace")


def run_dict(run: Any, vocab: Vocabulary) -> dict[str, Any]:
    return {
        "id": run.id,
        "number": run.number,
        "status": run.status.value if run.status else None,
        "detail": run.detail.value if run.detail else None,
        "shown": (
            display_name(vocab, JobState.ENDED, run.status, run.detail or Detail.NONE)
            if run.status
            else None
        ),
        "level": run.level,
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "phase": run.phase,
        "files": run.files,
        "bytes": run.bytes,
        "rate": run.rate,
        "exceptions": run.exceptions,
        "volume": run.volume,
        "drive": run.drive,
        "error": run.error,
        "counters": run.counters,
    }


def job_dict(row: Any, vocab: Vocabulary) -> dict[str, Any]:
    job = row.job
    return {
        "id": job.id,
        "type": job.type,
        "name": job.name,
        "client": job.client,
        "source": job.source,
        "priority": job.priority,
        "state": job.state.value,
        "status": job.status.value if job.status else None,
        "detail": job.detail.value if job.detail else None,
        "shown": shown_status(vocab, row),
        "reason": job.state_reason,
        "actor": job.state_actor,
        "since": _iso(job.state_since),
        "created_at": _iso(job.created_at),
        "runs": row.runs,
        "run": run_dict(row.run, vocab) if row.run is not None else None,
    }


def transition_dict(t: Any) -> dict[str, Any]:
    return {
        "old": t.old.value if t.old else None,
        "new": t.new.value,
        "status": t.status.value if t.status else None,
        "reason": t.reason,
        "actor": t.actor,
        "at": _iso(t.at),
        "run_id": t.run_id,
    }


def file_dict(f: Any) -> dict[str, Any]:
    return {
        "path": shown_path(f.path),
        "kind": f.kind,
        "change": f.change.value if f.change else None,
        "size": f.size,
        "stored": f.stored,
        "category": f.exception_category,
        "code": f.exception_code,
        "reason": f.exception_sentence,
        "offset": f.exception_offset,
    }


def copies_of_runs(catalog: Any, runs: list[Any]) -> list[dict[str, Any]]:
    """The usable copies of a backup job's runs (tapir copy), one entry per run and copy."""
    from engine.catalog.copies_store import CopiesStore

    store = CopiesStore(catalog)
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for run in runs:
        for c in store.of_run(run.id):
            entry = out.setdefault(
                (run.number, c.copy),
                {
                    "run": run.number,
                    "copy": c.copy,
                    "copy_job": c.job_id,
                    "target": c.target,
                    "volumes": [],
                },
            )
            for p in c.parts:
                if p.volume not in entry["volumes"]:
                    entry["volumes"].append(p.volume)
    return list(out.values())
