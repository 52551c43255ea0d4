"""Catalog scale: 1,000,000 file rows in checkpoint batches, then the lookups restore, browse and
incremental backups make (issue 4 "Scale", issue 5 "browsing ... in under 1 s").

Run: ``python -m bench.catalog_scale [--files N] [--batch N] [--dir DIR]``. Prints one table.

What it measures, on a fresh SQLite catalog (engine/catalog/db.py: WAL, synchronous=NORMAL):
- insert rate of ``FilesStore.add_files`` in batches of ``--batch`` rows (one transaction per
  checkpoint), the tree being 1,000-entry directories plus one 10,000-entry directory;
- the same for 100,000 rows with ``synchronous=FULL``, to show what an fsync per commit costs;
- listing one 1,000-entry directory as of an incremental run (chain of two runs);
- ``tapir ls DIR`` (the latest point in time: engine/restore/asof.py ``list_as_of``) of a
  1,000-entry and of the 10,000-entry directory, and ``tapir browse PATH`` (every version of
  one file), each as the query alone and as the whole command (a ``tapir`` process on the
  catalog, interpreter start included) — issue 5's target is under 1 s — beside the start of
  a bare ``python -c pass`` and of ``tapir --help``, each best of 3 (commands are imported lazily:
  engine/cli/lazy.py; ``ls`` and ``browse`` read a SQLite catalog at head through sqlite3
  without importing SQLAlchemy: engine/catalog/sqlite_reads.py; option values are converted
  without pydantic: engine/cli/coercion.py); ``tapir jobs list`` and ``jobs show`` beside them
  (SQLAlchemy, no alembic);
- the previous-run lookup for the 10,000-file directory (one query, ``previous_directory``,
  what ``BaseView`` does per directory) against loading the whole tree's map at once
  (``previous_map``), with the memory the map takes (RSS growth).

Why synchronous=NORMAL is the default. In WAL mode NORMAL syncs the WAL at checkpoints of the
WAL, not at each commit: a power loss can roll back the last commits, never corrupt the file.
For file rows that is the safe direction (the catalog may claim *less* than the tape holds,
never more: shared/DESIGN.md "Catalog"), and a resumed job restarts from its last recorded
checkpoint. FULL costs one fsync per commit; with checkpoint-sized batches that is one fsync
per 10,000 rows, which this bench prints, so a site that wants every job transition durable
can choose FULL for little cost on file rows.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import sqlalchemy as sa

if __package__ in (None, ""):  # run as ``python3 bench/catalog_scale.py``: this checkout's code
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.catalog.db import Catalog, open_catalog
from engine.catalog.files_model import Change, FileRow, SessionPart
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus
from engine.restore.asof import list_as_of

ROOT = b"/data"
DIR_ENTRIES = 1_000
BIG_DIR_ENTRIES = 10_000
CHECKPOINT_ROWS = 10_000
"""A checkpoint every ~10,000 files: at 1-16 KiB files that is tens of MiB, a few seconds of
drive streaming, which is how often the pipeline flushes the drive anyway."""
FULL_SYNC_ROWS = 100_000


def tree(files: int) -> Iterator[FileRow]:
    """``/data/big/fNNNNN`` (10,000 files), then ``/data/dNNNN/fNNN`` 1,000 per directory."""
    yield FileRow(path=ROOT, kind="directory", part=1, record=0, offset=0)
    yield FileRow(path=ROOT + b"/big", kind="directory", part=1, record=0, offset=0)
    count = 0
    for i in range(min(files, BIG_DIR_ENTRIES)):
        count += 1
        yield _file(b"%s/big/f%05d" % (ROOT, i), count)
    d = 0
    while count < files:
        directory = b"%s/d%04d" % (ROOT, d)
        yield FileRow(path=directory, kind="directory", part=1, record=count, offset=0)
        for i in range(min(DIR_ENTRIES, files - count)):
            count += 1
            yield _file(b"%s/f%03d" % (directory, i), count)
        d += 1


def _file(path: bytes, n: int) -> FileRow:
    return FileRow(
        path=path,
        kind="file",
        size=n % 16384,
        mode=0o100644,
        uid=1000,
        gid=1000,
        uname="bench",
        gname="bench",
        mtime_ns=n * 1_000_000,
        ctime_ns=n * 1_000_000,
        inode=n,
        dev=2049,
        checksum=n.to_bytes(16, "big"),
        part=1,
        record=n // 16,
        offset=(n % 16) * 512,
        change=Change.ADDED,
    )


def batches(rows: Iterator[FileRow], size: int) -> Iterator[list[FileRow]]:
    batch: list[FileRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def backup(
    catalog: Catalog, files: int, batch: int, *, base: int | None = None
) -> tuple[int, float]:
    """One run recording ``files`` rows; returns (run id, seconds spent in add_files)."""
    jobs, store = JobsStore(catalog), FilesStore(catalog)
    job = jobs.create_job("backup", "bench", {"source": ROOT.decode()})
    run = jobs.start_run(job, level="full" if base is None else "incremental", base_run_id=base)
    session = store.open_session(run.id, "bench", ROOT, record_size=262144)
    store.add_part(session, SessionPart(1, "BENCH1L8", 1, 0))
    spent = 0.0
    source = tree(files) if base is None else changed(files)
    for rows in batches(source, batch):
        start = time.perf_counter()
        store.add_files(session, rows)
        spent += time.perf_counter() - start
    jobs.end_run(run.id, CompletionStatus.COMPLETED)
    return run.id, spent


def changed(files: int) -> Iterator[FileRow]:
    """An incremental: 1% of the files changed."""
    for row in tree(files):
        if row.kind == "file" and row.inode % 100 == 0:
            row.size += 1
            row.change = Change.CHANGED
            yield row


def timed(fn: object, *args: object) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn(*args)  # type: ignore[operator]
    return result, time.perf_counter() - start


RUNS = 3
"""Whole commands are timed best of RUNS: on a shared machine the best run is the one nearest
to what an idle machine gives."""


def command_seconds(tmp: Path, url: str | None, *args: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one ``tapir`` command on the catalog (its own
    data dir: nothing else read), each best of RUNS; ``url`` None for a command without
    ``--catalog``. The CPU time is what an idle machine's wall time comes near."""
    env = dict(os.environ, TAPIR_HOME=str(Path(tmp) / "home"))
    env["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
    env.pop("TAPIR_CONFIG", None)
    catalog = ["--catalog", url] if url is not None else []
    best = best_cpu = float("inf")
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "engine.cli.main", *args, *catalog],
            check=True,
            capture_output=True,
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
        )
        best = min(best, time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        best_cpu = min(best_cpu, cpu)
    return best, best_cpu


def shown(times: tuple[float, float]) -> str:
    return f"{times[0]:.2f} s command ({times[1]:.2f} s CPU)"


def python_seconds() -> float:
    """Wall time of ``python -c pass``: the floor under every command's time on this machine."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=CHECKPOINT_ROWS)
    parser.add_argument("--dir", type=Path, default=None, help="Where the catalog goes.")
    args = parser.parse_args()
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        catalog = open_catalog(f"sqlite:///{Path(tmp) / 'catalog.sqlite'}")
        full, spent = backup(catalog, args.files, args.batch)
        incr, _ = backup(catalog, args.files, args.batch, base=full)
        store = FilesStore(catalog)
        listing, list_s = timed(store.list_directory, ROOT + b"/d0042", incr)
        prev_dir, dir_s = timed(store.previous_directory, incr, ROOT + b"/big")
        gc.collect()
        rss = psutil.Process().memory_info().rss
        prev_map, map_s = timed(store.previous_map, incr, ROOT)
        map_mib = (psutil.Process().memory_info().rss - rss) / 2**20
        size_mib = (Path(tmp) / "catalog.sqlite").stat().st_size / 2**20
        one_dir = (ROOT + b"/d0042").decode()
        one_file = one_dir + "/f100"
        ls_rows, ls_s = timed(lambda: list_as_of(store, one_dir)[2])
        big_rows, big_s = timed(lambda: list_as_of(store, ROOT + b"/big")[2])
        versions, browse_s = timed(store.versions, one_file)
        catalog.close()
        url = f"sqlite:///{Path(tmp) / 'catalog.sqlite'}"
        cli_ls_s = command_seconds(Path(tmp), url, "ls", one_dir)
        cli_big_s = command_seconds(Path(tmp), url, "ls", (ROOT + b"/big").decode())
        cli_browse_s = command_seconds(Path(tmp), url, "browse", one_file)
        cli_jobs_s = command_seconds(Path(tmp), url, "jobs", "list")
        cli_show_s = command_seconds(Path(tmp), url, "jobs", "show", "2")
        cli_help_s = command_seconds(Path(tmp), url, "browse", "--help")
        top_help_s = command_seconds(Path(tmp), None, "--help")
        bare_s = min(python_seconds() for _ in range(RUNS))

        full_catalog = open_catalog(f"sqlite:///{Path(tmp) / 'full-sync.sqlite'}")
        sa.event.listen(
            full_catalog.engine,
            "connect",
            lambda dbapi, _rec: dbapi.execute("PRAGMA synchronous=FULL"),
        )
        full_catalog.engine.dispose()  # reconnect with the FULL listener
        _, full_sync_s = backup(full_catalog, FULL_SYNC_ROWS, args.batch)
        _, normal_s = backup(
            open_catalog(f"sqlite:///{Path(tmp) / 'n.sqlite'}"), FULL_SYNC_ROWS, args.batch
        )
        full_catalog.close()

    rows = [
        ("rows inserted (full run)", f"{args.files:,} in batches of {args.batch:,}"),
        ("insert rate, synchronous=NORMAL", f"{args.files / spent:,.0f} rows/s ({spent:.1f} s)"),
        ("insert rate 100k rows, NORMAL", f"{FULL_SYNC_ROWS / normal_s:,.0f} rows/s"),
        ("insert rate 100k rows, FULL", f"{FULL_SYNC_ROWS / full_sync_s:,.0f} rows/s"),
        (
            "catalog size",
            f"{size_mib:,.0f} MiB ({size_mib * 2**20 / (args.files * 1.01):,.0f} B/row)",
        ),
        (f"list a {len(listing)}-entry directory (2-run chain)", f"{list_s * 1000:.1f} ms"),  # type: ignore[arg-type]
        (
            f"tapir ls of a {len(ls_rows)}-entry directory",  # type: ignore[arg-type]
            f"{ls_s * 1000:.1f} ms query, {shown(cli_ls_s)}",
        ),
        (
            f"tapir ls of the {len(big_rows):,}-entry directory",  # type: ignore[arg-type]
            f"{big_s * 1000:.1f} ms query, {shown(cli_big_s)}",
        ),
        (
            f"tapir browse of one file ({len(versions)} versions)",  # type: ignore[arg-type]
            f"{browse_s * 1000:.1f} ms query, {shown(cli_browse_s)}",
        ),
        ("tapir jobs list (2 jobs)", shown(cli_jobs_s)),
        ("tapir jobs show 2", shown(cli_show_s)),
        ("tapir start-up alone (browse --help)", shown(cli_help_s)),
        ("tapir --help (every command listed)", shown(top_help_s)),
        (f"python -c pass (best of {RUNS}), for reference", f"{bare_s:.2f} s"),
        (f"previous run, {len(prev_dir)}-file directory", f"{dir_s * 1000:.1f} ms (one query)"),  # type: ignore[arg-type]
        (
            f"previous run, whole tree ({len(prev_map):,} paths)",
            f"{map_s:.2f} s, {map_mib:,.0f} MiB",
        ),  # type: ignore[arg-type]
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'catalog scale':<{width}}  result")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
