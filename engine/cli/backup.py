"""``tapir backup SOURCE --to TARGET``: run one backup now, as a job in the catalog.

The job itself is engine/backup/job.py ``run_backup``; this module turns options into a
``BackupSpec``, shows progress (backup_progress.py) and reports the outcome.

TARGET: a library (``lib1``: a scratch or appendable medium of the pool in any free drive,
spanning to the next one), ``LIB:DRIVE`` (only that drive), a standalone drive, or a disk
mount path of the site configuration (its path).

Exit codes: 0 COMPLETED; 1 COMPLETED_WITH_EXCEPTIONS (files in use, skipped or corrupted:
``tapir jobs show N --exceptions`` lists them); 2 the run failed or never started (bad option,
missing source, unknown target, no writable medium, a disabled or full mount path, a device
failure): one line on stderr saying what to do. Option values are checked before anything is
opened; every refusal after that is recorded in the catalog as the job's FAILED_TO_START run,
so nothing is written without a record. 130 when interrupted (the run is recorded CANCELED).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from devices.disk import format_bytes
from engine.backup.levels import Level
from engine.backup.scan import ScanOptions
from engine.cli.backup_options import (
    BadOption,
    check_patterns,
    parse_checkpoint_bytes,
    parse_in_use,
    parse_record_size,
)
from engine.cli.backup_progress import BAR, ProgressView, Sizer, choose_mode
from engine.cli.common import ACTOR, CatalogOpt, JsonOpt, open_site, print_json
from engine.cli.errors import fail

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
SHOWN_EXCEPTIONS = 10
"""Files with exceptions listed after a run; the rest are one command away."""


def backup(
    source: Annotated[str, typer.Argument(help="The directory to back up.")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="A library (lib1), one of its drives (lib1:drive0), a standalone drive, or a "
            "disk mount path.",
        ),
    ],
    level: Annotated[
        Level, typer.Option("--level", help="full, or what changed since the last backup.")
    ] = Level.FULL,
    pool: Annotated[
        str | None, typer.Option("--pool", help="Media pool (default: the target's).")
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", help="Back up only what matches (gitignore-like; repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Leave out what matches (gitignore-like; repeatable)."),
    ] = None,
    one_file_system: Annotated[
        bool, typer.Option("--one-file-system", help="Do not descend into other file systems.")
    ] = False,
    in_use: Annotated[
        str,
        typer.Option(
            "--in-use",
            help="Files open for writing by others: flag (store, flag), skip, retry:N "
            "(then flag) or retry:N:skip.",
        ),
    ] = "flag",
    record_size: Annotated[
        str,
        typer.Option("--record-size", help="Tape block / tar record size (K = 1024), e.g. 256K."),
    ] = "256K",
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Job name; runs with the same name form the incremental history."
        ),
    ] = None,
    checkpoint_bytes: Annotated[
        str | None,
        typer.Option(
            "--checkpoint-bytes",
            help="Flush and commit the catalog every this many bytes (e.g. 16G; default: the "
            "engine's, chosen to keep a drive streaming).",
        ),
    ] = None,
    checkpoint_seconds: Annotated[
        float | None,
        typer.Option("--checkpoint-seconds", min=0.001, help="... or every this many seconds."),
    ] = None,
    restarts: Annotated[
        int,
        typer.Option(
            "--restarts",
            min=0,
            help="Checkpoint restart: after a device failure (power loss, drive lost), continue "
            "as a new run from the last checkpoint on other media, up to N times.",
        ),
    ] = 0,
    drive_wait: Annotated[
        float | None,
        typer.Option(
            "--drive-wait",
            min=0,
            help="Seconds to wait for a drive that stopped answering mid-write (default 60).",
        ),
    ] = None,
    resume: Annotated[
        int | None,
        typer.Option(
            "--resume",
            help="Run backup job N again; it continues from the last checkpoint of its "
            "previous run if that run did not complete.",
        ),
    ] = None,
    submit: Annotated[
        bool,
        typer.Option(
            "--submit",
            help="Queue the job for tapir server instead of running it here; print its number.",
        ),
    ] = False,
    priority: Annotated[
        int, typer.Option("--priority", help="Job priority; lower numbers go first.")
    ] = 100,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """Back up SOURCE to TARGET now; exit 0 clean, 1 with file exceptions, 2 failed."""
    from engine.backup.job import BackupSpec  # SQLAlchemy and the pipeline: only when needed
    from engine.backup.pipeline import DEFAULT_CHECKPOINT_BYTES, DEFAULT_CHECKPOINT_SECONDS

    try:
        spec = BackupSpec(
            source=source,
            target=to,
            level=level,
            pool=pool,
            includes=check_patterns("--include", include or []),
            excludes=check_patterns("--exclude", exclude or []),
            one_file_system=one_file_system,
            in_use_policy=parse_in_use(in_use),
            record_size=parse_record_size(record_size),
            name=name,
            checkpoint_bytes=(
                parse_checkpoint_bytes(checkpoint_bytes)
                if checkpoint_bytes is not None
                else DEFAULT_CHECKPOINT_BYTES
            ),
            checkpoint_seconds=checkpoint_seconds or DEFAULT_CHECKPOINT_SECONDS,
            restarts=restarts,
            **({"drive_wait_s": drive_wait} if drive_wait is not None else {}),
        )
    except BadOption as exc:
        fail(str(exc))
    if submit:
        _submit(spec, catalog=catalog, priority=priority, as_json=as_json)
        return
    outcome = _run(spec, as_json=as_json, catalog=catalog, job_id=resume, priority=priority)
    if as_json:
        print_json(json_result(outcome))
    else:
        for text in summary_lines(outcome):
            typer.echo(text)
    if outcome.error:
        typer.echo(f"tapir: {error_line(outcome)}", err=True)
    raise typer.Exit(outcome.exit_code)


def _submit(spec: Any, *, catalog: str | None, priority: int, as_json: bool) -> None:
    """``--submit``: the job is QUEUED for any ``tapir server``; nothing runs here."""
    from engine.backup.job import JOB_TYPE
    from engine.catalog.jobs_store import JobsStore
    from engine.manager.queue import submit

    with open_site(catalog) as site:
        cat = site.catalog()
        jobs = JobsStore(cat)
        job_id = jobs.create_job(
            JOB_TYPE, spec.job_name(), spec.to_dict(), priority=priority, actor=ACTOR
        )
        submit(cat, job_id, actor=ACTOR)
    if as_json:
        print_json({"job": job_id, "state": "QUEUED"})
    else:
        typer.echo(f"job {job_id}: QUEUED for tapir server")


def _run(
    spec: Any,
    *,
    as_json: bool,
    catalog: str | None,
    job_id: int | None = None,
    priority: int = 100,
) -> Any:
    """The backup as a job of the job manager (engine/manager/foreground.py): reserved
    all-or-nothing, waiting (the reason on stderr) while other jobs hold what it needs, run
    with a progress display; the outcome (never raises for a refusal)."""
    from engine.backup.job import JOB_TYPE
    from engine.catalog.jobs_store import JobsStore
    from engine.manager.config import load_manager_config
    from engine.manager.foreground import run_managed

    mode = choose_mode(as_json=as_json)
    with open_site(catalog) as site:
        cat = site.catalog()  # open (and migrate) before the display starts
        config = load_manager_config()
        sizer = None
        if mode == BAR and spec.level == Level.FULL:
            options = ScanOptions(spec.includes, spec.excludes, spec.one_file_system)
            sizer = Sizer(spec.source, options)
        resume = _resume_args(cat, job_id) if job_id is not None else {}
        jobs = JobsStore(cat)
        run_id = resume.get("job_id")
        if run_id is None:
            run_id = jobs.create_job(
                JOB_TYPE, spec.job_name(), spec.to_dict(), priority=priority, actor=ACTOR
            )
        view = ProgressView(mode, sizer)
        extras = {"spec": spec, "progress": view.update, **resume}
        try:
            outcome = run_managed(
                site, cat, run_id, config, actor=ACTOR, extras=extras, on_wait=_waiting
            )
        except KeyboardInterrupt:
            view.close()
            fail("interrupted: the job is recorded as CANCELED", EXIT_INTERRUPTED)
        finally:
            view.close()
        if outcome is None:
            job = jobs.get_job(run_id)
            status = job.status.value if job.status else job.state.value
            fail(f"{job.state_reason} (job {run_id}: {status})")
        return outcome


def _waiting(job: Any, reason: str) -> None:
    typer.echo(f"job {job.id}: {job.state.value.lower()}: {reason}", err=True)


def _resume_args(catalog: Any, job_id: int) -> dict[str, Any]:
    """``--resume N``: run job N again if it waits to run; if it ended, a new job continues
    from its last run. Refusals are one line (exit 2)."""
    from engine.catalog.jobs_model import UnknownJob
    from engine.catalog.jobs_store import JobsStore
    from engine.jobs.states import JobState

    try:
        job = JobsStore(catalog).get_job(job_id)
    except UnknownJob as exc:
        fail(f"{exc} See tapir jobs list.")
    if job.type != "backup":
        fail(f"Job {job_id} is a {job.type} job, not a backup.")
    if job.state is JobState.ENDED:
        return {"resume_from": job_id}
    if job.state not in (JobState.NOT_SUBMITTED, JobState.QUEUED, JobState.WAITING):
        fail(
            f"Job {job_id} is {job.state.value}; only a queued or waiting job can run (a run "
            "whose process died is ended by the job manager's sweeper)."
        )
    return {"job_id": job_id}


def error_line(outcome: Any) -> str:
    """The failure sentence, with the job that records it."""
    return f"{str(outcome.error).rstrip()} (job {outcome.job_id}: {outcome.status.value})"


def json_result(outcome: Any) -> dict[str, Any]:
    """``RunOutcome.to_dict`` plus the counts scripts test first."""
    result = outcome.to_dict()
    result["exit_code"] = outcome.exit_code
    result["files_with_exceptions"] = outcome.counters.with_exceptions
    result["exceptions_count"] = outcome.counters.exceptions
    return result


def summary_lines(outcome: Any) -> list[str]:
    """What a person reads after the run (stdout); a failure's sentence goes to stderr."""
    if outcome.run_id is None:
        return []  # never started: the error line says why
    c = outcome.counters
    head = f"job {outcome.job_id}: {outcome.status.value}"
    level = outcome.level.value
    if outcome.promoted:
        level += f" ({outcome.promoted.rstrip('.')})"
    volumes = ", ".join(outcome.volumes) or "no volume"
    rate = format_bytes(int(c.bytes / outcome.seconds)) + "/s" if outcome.seconds else ""
    lines = [
        head,
        f"  level:   {level}",
        f"  stored:  {c.files} files, {c.directories} directories, {c.others} other, "
        f"{format_bytes(c.bytes)} in {outcome.seconds:.1f} s ({rate})",
        f"  volumes: {volumes}",
    ]
    if c.unchanged or c.excluded:
        lines.append(f"  not stored: {c.unchanged} unchanged, {c.excluded} excluded")
    if c.with_exceptions:
        lines.append(
            f"  exceptions: {c.in_use} in use, {c.skipped} skipped, {c.corrupted} corrupted"
        )
        for exc in outcome.exceptions[:SHOWN_EXCEPTIONS]:
            kept = "stored" if exc.stored else "not stored"
            lines.append(f"    {exc.category.value} ({kept}): {exc.sentence}")
        more = c.exceptions - min(len(outcome.exceptions), SHOWN_EXCEPTIONS)
        tail = f"{more} more; " if more > 0 else ""
        lines.append(f"  ({tail}all: tapir jobs show {outcome.job_id} --exceptions)")
    return lines
