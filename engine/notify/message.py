"""What a notice says: the subject and text of an email, the JSON of a webhook, for one job
event. Both carry the same facts: the job, its definition, the event, the status in tapir's
words and in Backup Exec's (engine/jobs/vocabulary.py), the reason, and the run's counts.
"""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Any

from engine.catalog.jobs_model import Job, Run
from engine.jobs.vocabulary import Detail, Vocabulary, display_name
from engine.notify.config import Event

SUBJECT_PREFIX = "tapir"


def job_facts(job: Job, run: Run | None, definition: str, event: Event) -> dict[str, Any]:
    """The webhook document (and the source of the email's lines)."""
    shown = job.status.value if job.status is not None else job.state.value
    return {
        "event": event.value,
        "host": socket.gethostname(),
        "definition": definition,
        "job": {
            "id": job.id,
            "name": job.name,
            "type": job.type,
            "state": job.state.value,
            "status": job.status.value if job.status else None,
            "status_backupexec": _backupexec(job),
            "reason": job.state_reason,
            "since": _iso(job.state_since),
            "shown": shown,
        },
        "run": _run(run),
    }


def subject(facts: dict[str, Any]) -> str:
    job = facts["job"]
    ended = job["state"] == "ENDED" and job["status"]
    what = job["status"] if ended else f"{job['state']} ({facts['event']})"
    return f"{SUBJECT_PREFIX}: job {job['id']} {facts['definition']}: {what}"


def body(facts: dict[str, Any]) -> str:
    job, run = facts["job"], facts["run"]
    lines = [
        f"Job {job['id']} ({job['type']}, definition {facts['definition']}) on {facts['host']}:",
        f"  event:   {facts['event']}",
        f"  state:   {job['state']}",
    ]
    if job["status"]:
        lines.append(f"  status:  {job['status']} (Backup Exec: {job['status_backupexec']})")
    lines.append(f"  reason:  {job['reason']}")
    lines.append(f"  since:   {job['since']}")
    if run is not None:
        lines += [
            f"  run:     {run['number']}, started {run['started_at'] or 'never'}, "
            f"ended {run['ended_at'] or '-'}",
            f"  files:   {run['files']} ({run['bytes']} bytes), "
            f"{run['exceptions']} with exceptions",
        ]
        if run["error"]:
            lines.append(f"  error:   {run['error']}")
    lines.append(f"Details: tapir jobs show {job['id']}")
    return "\n".join(lines) + "\n"


def _run(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "number": run.number,
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "status": run.status.value if run.status else None,
        "files": run.files,
        "bytes": run.bytes,
        "exceptions": run.exceptions,
        "error": run.error,
    }


def _backupexec(job: Job) -> str | None:
    if job.status is None:
        return None
    return display_name(Vocabulary.BACKUPEXEC, job.state, job.status, job.detail or Detail.NONE)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None
