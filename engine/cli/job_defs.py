"""``tapir job create|edit|delete|list|show|run-now``: job definitions (engine/schedule).

A definition names what to back up, where, when (a cron schedule in a time zone) and within
which rules (start window, max run time, duplicates, retries, notifications). The file is the
site configuration's ``job_definitions``, else ``<data dir>/jobs.toml``; ``--file`` names
another. Options are checked by the same rules as the file (engine/schedule/validate.py), so
a bad value is one line naming the option. ``run-now`` is "Backup Now": a job for the
definition goes into the queue at once, and ``tapir server`` runs it.

Exit codes: 0 done; 2 bad option, unknown or existing definition, a definitions file with a
mistake (it is then left untouched), or a catalog that cannot be opened.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from engine.cli.common import ACTOR, CatalogOpt, JsonOpt, open_site, print_json
from engine.cli.errors import fail, friendly_errors
from engine.cli.job_options import (
    OPTION_NAMES,
    DescriptionOpt,
    DuplicatesOpt,
    EmailOpt,
    EnabledOpt,
    ExcludeOpt,
    IncludeOpt,
    LevelOpt,
    MaxRunOpt,
    NameArg,
    NotifyOnOpt,
    OneFsOpt,
    Options,
    PoolOpt,
    PriorityOpt,
    RetryIntervalOpt,
    RetryOpt,
    ScheduleOpt,
    TimezoneOpt,
    WaitingOpt,
    WebhookOpt,
    WindowOpt,
    make_options,
    option_problem,
)
from engine.schedule.durations import format_duration

app = typer.Typer(
    help="Job definitions: schedules, windows, retries, notifications; Backup Now.",
    no_args_is_help=True,
)

FileOpt = Annotated[
    Path | None,
    typer.Option("--file", help="Definitions file (default: site configuration, else "
                 "<data dir>/jobs.toml)."),
]  # fmt: skip
SHOWN_RUNS = 5
SHOWN_OCCURRENCES = 3


@contextlib.contextmanager
def _definitions(file: Path | None) -> Iterator[Any]:
    """The definitions store, with its errors as one line and exit 2."""
    from engine.schedule.fields import DefinitionError
    from engine.schedule.store import (
        DefinitionExists,
        DefinitionsStore,
        UnknownDefinition,
        definitions_path,
    )
    from engine.site_config import load_site_config

    with friendly_errors():
        path = file if file is not None else definitions_path(load_site_config())
        try:
            yield DefinitionsStore(path)
        except (DefinitionError, UnknownDefinition, DefinitionExists) as exc:
            fail(str(exc))


def _parse(store: Any, name: str, table: dict[str, Any]) -> Any:
    """The definition ``table`` describes, or one line naming the option that is wrong."""
    from engine.schedule.fields import DefinitionError
    from engine.schedule.validate import parse_definition

    try:
        return parse_definition(str(store.path), name, table)
    except DefinitionError as exc:
        fail(option_problem(name, exc))


@app.command("create")
def create_cli(
    name: NameArg,
    source: Annotated[str, typer.Option("--source", help="Directory to back up.")],
    to: Annotated[str, typer.Option("--to", help="Target, as tapir backup --to.")],
    level: LevelOpt = None,
    pool: PoolOpt = None,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    one_file_system: OneFsOpt = None,
    priority: PriorityOpt = None,
    schedule: ScheduleOpt = None,
    timezone: TimezoneOpt = None,
    window: WindowOpt = None,
    max_run_time: MaxRunOpt = None,
    duplicates: DuplicatesOpt = None,
    retry: RetryOpt = None,
    retry_interval: RetryIntervalOpt = None,
    notify_email: EmailOpt = None,
    notify_webhook: WebhookOpt = None,
    notify_on: NotifyOnOpt = None,
    waiting_after: WaitingOpt = None,
    description: DescriptionOpt = None,
    enabled: EnabledOpt = None,
    file: FileOpt = None,
) -> None:
    """Create a job definition (without --schedule: on demand only, by run-now)."""
    opts = make_options({k: v for k, v in locals().items() if k in OPTION_NAMES})
    create_command(name, source, to, opts, file)


@app.command("edit")
def edit_cli(
    name: NameArg,
    source: Annotated[str | None, typer.Option("--source", help="Directory to back up.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Target.")] = None,
    level: LevelOpt = None,
    pool: PoolOpt = None,
    include: IncludeOpt = None,
    exclude: ExcludeOpt = None,
    one_file_system: OneFsOpt = None,
    priority: PriorityOpt = None,
    schedule: ScheduleOpt = None,
    timezone: TimezoneOpt = None,
    window: WindowOpt = None,
    max_run_time: MaxRunOpt = None,
    duplicates: DuplicatesOpt = None,
    retry: RetryOpt = None,
    retry_interval: RetryIntervalOpt = None,
    notify_email: EmailOpt = None,
    notify_webhook: WebhookOpt = None,
    notify_on: NotifyOnOpt = None,
    waiting_after: WaitingOpt = None,
    description: DescriptionOpt = None,
    enabled: EnabledOpt = None,
    no_schedule: Annotated[
        bool, typer.Option("--no-schedule", help="On demand only from now on.")
    ] = False,
    no_max_run_time: Annotated[
        bool, typer.Option("--no-max-run-time", help="Let runs take as long as they take.")
    ] = False,
    no_notify: Annotated[bool, typer.Option("--no-notify", help="Drop all rules.")] = False,
    file: FileOpt = None,
) -> None:
    """Change the fields given; the others keep their values. New rules replace the old."""
    values = {k: v for k, v in locals().items() if k in OPTION_NAMES}
    values["source"], values["target"] = source, to
    clear = [
        key
        for key, flag in (
            ("schedule", no_schedule),
            ("max_run_time", no_max_run_time),
            ("notify", no_notify),
        )
        if flag
    ]
    edit_command(name, make_options(values), file, clear)


def create_command(name: str, source: str, to: str, opts: Options, file: Path | None) -> None:
    with _definitions(file) as store:
        opts.source, opts.target = source, to
        definition = _parse(store, name, opts.apply({}))
        store.create(definition)
    typer.echo(f"job definition {name} created in {store.path}")
    if definition.schedule:
        typer.echo(f"  next run: {_next(definition) or 'none'}")


def edit_command(name: str, opts: Options, file: Path | None, clear: list[str]) -> None:
    from engine.schedule.definitions import definition_to_toml

    with _definitions(file) as store:
        table = definition_to_toml(store.get(name))
        for key in clear:
            table.pop(key, None)
        definition = _parse(store, name, opts.apply(table))
        store.replace(definition)
    typer.echo(f"job definition {name} changed in {store.path}")


def _next(definition: Any, count: int = 1) -> str | None:
    from engine.manager.clock import SYSTEM_CLOCK
    from engine.schedule.cron import CronSchedule
    from engine.schedule.submit import show_time

    if definition.schedule is None or not definition.enabled:
        return None
    cron = CronSchedule(definition.schedule, definition.timezone)
    when, shown = SYSTEM_CLOCK.now(), []
    for _ in range(count):
        when = cron.next_after(when)
        shown.append(show_time(when))
    return ", ".join(shown)


def definition_dict(definition: Any) -> dict[str, Any]:
    from engine.schedule.definitions import definition_to_toml

    out = {"name": definition.name, **definition_to_toml(definition)}
    out["enabled"] = definition.enabled
    out["next_run"] = _next(definition)
    return out


@app.command("delete")
def delete_command(
    name: Annotated[str, typer.Argument(help="Definition name.")], file: FileOpt = None
) -> None:
    """Delete a definition; its past jobs stay in the catalog."""
    with _definitions(file) as store:
        store.delete(name)
    typer.echo(f"job definition {name} deleted from {store.path}")


@app.command("list")
def list_command(file: FileOpt = None, as_json: JsonOpt = False) -> None:
    """Every definition with its schedule and next run (UTC)."""
    with _definitions(file) as store:
        defs = store.load()
    if as_json:
        print_json([definition_dict(d) for d in defs.jobs.values()])
        return
    if not defs.jobs:
        typer.echo(f"no job definitions in {store.path}; add one with tapir job create")
        return
    table = Table(title=f"Job definitions ({store.path})")
    for column in ("Name", "Source", "Target", "Level", "Schedule", "Window", "Next run"):
        table.add_column(column)
    for d in defs.jobs.values():
        schedule = f"{d.schedule} ({d.timezone})" if d.schedule else "on demand"
        if not d.enabled:
            schedule += " [disabled]"
        table.add_row(
            d.name,
            d.source,
            d.target,
            d.level.value,
            schedule,
            format_duration(d.window),
            _next(d) or "",
        )
    Console().print(table)


@app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="Definition name.")],
    file: FileOpt = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """One definition, its next runs and its latest jobs."""
    from engine.notify.records import notices
    from engine.schedule import queries

    with _definitions(file) as store:
        definition = store.get(name)
    with open_site(catalog) as site:
        recent = []
        for job, info in queries.definition_jobs(site.catalog(), name):
            recent.append((job, info))
            if len(recent) == SHOWN_RUNS:
                break
    out = definition_dict(definition)
    out["next_runs"] = _next(definition, SHOWN_OCCURRENCES)
    out["jobs"] = [
        {
            "job": job.id,
            "trigger": info.trigger.value,
            "state": job.state.value,
            "status": job.status.value if job.status else None,
            "reason": job.state_reason,
            "notices": notices(job.spec),
        }
        for job, info in recent
    ]
    if as_json:
        print_json(out)
        return
    for key, value in out.items():
        if key != "jobs":
            typer.echo(f"{key + ':':<16}{_shown(key, value)}")
    typer.echo("jobs:" if recent else "jobs:           none yet")
    for entry in out["jobs"]:
        status = entry["status"] or entry["state"]
        typer.echo(f"  job {entry['job']} ({entry['trigger']}): {status}: {entry['reason']}")
        for key, notice in entry["notices"].items():
            for d in notice.get("deliveries", []):
                result = "sent" if d["ok"] else f"not delivered: {d['error']}"
                typer.echo(f"    notice {key} by {d['channel']} to {d['to']}: {result}")


def _shown(key: str, value: Any) -> str:
    """A field as ``show`` prints it: lists and rules in words, not Python literals."""
    if key == "retry":
        return f"{value['attempts']} more attempts, {value['interval']} apart"
    if key == "notify":
        from engine.notify.config import DEFAULT_EVENTS

        default = sorted(e.value for e in DEFAULT_EVENTS)
        rules = []
        for rule in value:
            to = [*rule.get("email", []), *([rule["webhook"]] if "webhook" in rule else [])]
            on = ", ".join(rule.get("on", default))
            rules.append(f"{on} -> {', '.join(to)}")
        return "; ".join(rules)
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


@app.command("run-now")
def run_now_command(
    name: Annotated[str, typer.Argument(help="Definition name.")],
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Run it here, now (waiting for its resources), not by "
            "tapir server; exit as tapir backup does.",
        ),
    ] = False,
    file: FileOpt = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """Backup Now: queue a job for the definition at once (tapir server runs it)."""
    from engine.manager.clock import SYSTEM_CLOCK
    from engine.schedule.submit import run_now

    with _definitions(file) as store:
        definition = store.get(name)
    with open_site(catalog) as site:
        job_id = run_now(site.catalog(), definition, clock=SYSTEM_CLOCK, actor=ACTOR)
    if not wait:
        if as_json:
            print_json({"job": job_id, "definition": name, "state": "QUEUED"})
        else:
            typer.echo(f"job {job_id}: QUEUED ({name}, Backup Now); see tapir jobs show {job_id}")
        return
    _run_here(definition, job_id, as_json=as_json, catalog=catalog)


def _run_here(definition: Any, job_id: int, *, as_json: bool, catalog: str | None) -> None:
    """The queued job run by this process exactly as ``tapir backup`` runs one (through the
    job manager's foreground path, with its progress, reports and exit codes)."""
    from engine.cli.backup import _run, error_line, json_result, summary_lines
    from engine.schedule.jobspec import backup_spec

    outcome = _run(backup_spec(definition), as_json=as_json, catalog=catalog, job_id=job_id)
    if as_json:
        print_json(json_result(outcome))
    else:
        for line in summary_lines(outcome):
            typer.echo(line)
    if outcome.error:
        typer.echo(f"tapir: {error_line(outcome)}", err=True)
    raise typer.Exit(outcome.exit_code)
