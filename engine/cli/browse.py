"""``tapir ls PATH [--as-of JOB|run:RUN|DATE]`` and ``tapir browse PATH [--job J]``: what the
catalog holds, without touching a tape (issue 5 "Verify and browse").

``ls`` lists a directory's entries as they were at a point in time (engine/restore/asof.py:
the latest backups, a job, a run, or an ISO date/time), like ``ls -l``, each with the run its
version comes from and what happened to it at backup (in use, corrupted, skipped). ``browse``
lists every version of one path the catalog holds, oldest first: run, job, when the run ended,
the change the run found (added, changed, deleted, ...), size, mtime and status. Both are a
few indexed queries (``ix_files_parent_name``, ``ix_files_run_parent_name``), so they answer
quickly on a catalog of millions of files (bench/catalog_scale.py prints the times).

Paths print with undecodable bytes as ``\\xNN`` escapes. Exit codes: 0 listed; 2 nothing at
that path or point, or a bad option value.
"""

from __future__ import annotations

import os
import stat
from typing import Annotated, Any

import typer

from engine.cli.common import CatalogOpt, JsonOpt, open_file_reads, print_json
from engine.cli.errors import fail
from engine.cli.jobs_show import shown_path, when

PathArg = Annotated[str, typer.Argument(help="An absolute path as backed up.")]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Point in time: a backup job id (7 or job:7), a run (run:12), or an ISO date or "
        "date-time (local time unless a zone is given). Default: the latest backups.",
    ),
]
KIND_CHAR = {"directory": "d", "symlink": "l", "fifo": "p", "chardev": "c", "blockdev": "b"}


def status_of(row: Any) -> str:
    """What happened to this version at backup, in a word or two."""
    if row.change is not None and row.change.value == "deleted":
        return "deleted"
    if not row.stored and row.mode == 0 and row.kind == "directory":
        return "not backed up: on the way to a backup"  # asof.PointInTime.sources_below
    if not row.stored:
        category = (row.exception_category or "").replace("_", " ")
        return f"{category}, not stored" if category else "not stored"
    if row.exception_category:
        return row.exception_category.replace("_", " ")
    return "ok"


def _mode(row: Any) -> str:
    if stat.S_IFMT(row.mode):
        return stat.filemode(row.mode)
    return KIND_CHAR.get(row.kind, "-") + stat.filemode(row.mode)[1:]


def _ns_time(ns: int) -> str:
    from datetime import UTC, datetime

    return when(datetime.fromtimestamp(ns / 1e9, UTC)) if ns else "-"


def entry_dict(row: Any) -> dict[str, Any]:
    return {
        "path": shown_path(row.path),
        "name": shown_path(row.name),
        "kind": row.kind,
        "mode": _mode(row),
        "uid": row.uid,
        "gid": row.gid,
        "owner": row.uname,
        "group": row.gname,
        "size": row.size,
        "mtime_ns": row.mtime_ns,
        "link_target": shown_path(row.link_target) if row.link_target else None,
        "run": row.run_id,
        "status": status_of(row),
        "reason": row.exception_sentence,
    }


def ls(
    path: PathArg,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """List a directory's entries as of a point in time, from the catalog."""
    from engine.restore.asof import AsOfError, NoSuchPoint, list_as_of, parse_as_of

    try:
        point_in_time = parse_as_of(as_of)
    except AsOfError as exc:
        fail(str(exc))
    with open_file_reads(catalog) as reads:
        try:
            point, found, rows = list_as_of(reads, path, point_in_time)
        except NoSuchPoint as exc:
            fail(str(exc))
    run = point.run(found.run_id) if found is not None else None
    job = run.job_id if run is not None else None
    if as_json:
        print_json(
            {
                "path": shown_path(found.row.path if found else os.fsencode(path)),
                "as_of": point_in_time.to_dict(),
                "run": found.run_id if found is not None else None,
                "job": job,
                "entries": [entry_dict(r) for r in rows],
            }
        )
        return
    if found is None:
        typer.echo(
            f"{shown_path(os.fsencode(path))} as of {point_in_time.describe()}: not backed up "
            "itself; the way to the "
            f"{len(rows)} backed-up path(s) below it"
        )
    else:
        ended = when(run.ended_at) if run is not None else ""
        typer.echo(
            f"{shown_path(found.row.path)} as of {point_in_time.describe()}: run "
            f"{found.run_id} (job {job}, ended {ended}), {len(rows)} entries"
        )
    lines = []
    for r in rows:
        name = shown_path(r.name) + ("/" if r.kind == "directory" else "")
        if r.link_target:
            name += f" -> {shown_path(r.link_target)}"
        status = status_of(r)
        flag = f"  [{status}]" if status != "ok" else ""
        lines.append(
            f"{_mode(r)} {r.uname or r.uid!s:>8} {r.gname or r.gid!s:>8} {r.size:>12} "
            f"{_ns_time(r.mtime_ns):<19}  run {r.run_id:<5} {name}{flag}"
        )
    typer.echo("\n".join(lines))


def browse(
    path: PathArg,
    job: Annotated[int | None, typer.Option("--job", help="Only this backup job's runs.")] = None,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """List every version of one path the catalog holds, oldest first."""
    with open_file_reads(catalog) as reads:
        versions = reads.versions(path, job_id=job)
    if not versions:
        fail(
            f"{shown_path(os.fsencode(path))} is in no backup of the catalog; check the path "
            "(absolute, as backed up)."
        )
    if as_json:
        print_json(
            [
                {
                    "run": v.row.run_id,
                    "job": v.job_id,
                    "run_number": v.run_number,
                    "ended_at": v.run_ended_at.isoformat() if v.run_ended_at else None,
                    "session": v.session_id,
                    "change": v.row.change.value if v.row.change else None,
                    **entry_dict(v.row),
                }
                for v in versions
            ]
        )
        return
    typer.echo(f"{shown_path(versions[0].row.path)}: {len(versions)} version(s)")
    typer.echo(
        f"{'run':>6} {'job':>6}  {'ended':<19}  {'change':<9} {'size':>12}  {'mtime':<19}  status"
    )
    for v in versions:
        r = v.row
        typer.echo(
            f"{r.run_id!s:>6} {v.job_id:>6}  {when(v.run_ended_at):<19}  "
            f"{r.change.value if r.change else '':<9} {r.size:>12}  {_ns_time(r.mtime_ns):<19}  "
            f"{status_of(r)}"
        )
