"""Benchmark: ``run_backup`` (scan, readers, format, write stage, catalog at checkpoints) to a
file-backed simulated tape, against GNU tar on the same data in the same run.

Not a test. Issue 4 targets: large files (8 x 256 MiB) >= 0.9 x tar's throughput, small files
(100,000 of 1-16 KiB) >= 0.5 x tar's files per second, peak memory < 200 MiB. Run:
    python -m bench.backup_speed [--dir bench-data] [--runs 3] [--only small|large]

Each tapir run is a child process (its own ``ru_maxrss``: the peak resident memory of the
whole backup, Python included) on a fresh simulated library and catalog under ``--dir``;
tar writes ``tar -cf FILE -b 512`` to a real file in the same directory (BASELINES.md: never
/dev/null). Times are whole-backup wall clock, medians of ``--runs``, after a warm-up pass
of each. The child's time covers ``run_backup`` only (not interpreter start-up).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as ``python3 bench/backup_speed.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import SPECS, dataset_stats, ensure
from bench.memwarm import warm

RECORD_SIZE = 256 * 1024
TAR_BLOCKING = RECORD_SIZE // 512
REPO = Path(__file__).resolve().parents[1]
WARM_SLACK = 256 << 20
"""Warmed beyond the data: headers, the index, the catalog (bench/memwarm.py)."""
LIBRARY = """
[library]
name = "bench"
serial = "BENCH00001"
slots = 4
ie_slots = 1

[[drives]]
name = "drive0"
model = "LTO-8"
serial = "BDRV000001"

[[cartridges]]
barcode = "BEN001L8"
slot = 1
capacity = "64GiB"
"""


def run_tar(root: Path, out: Path, size: int) -> float:
    warm(out.parent, size + WARM_SLACK)
    start = time.perf_counter()
    subprocess.run(
        ["tar", "-cf", str(out), "-b", str(TAR_BLOCKING), "-C", str(root), "."], check=True
    )
    elapsed = time.perf_counter() - start
    out.unlink()
    return elapsed


def run_tapir(root: Path, work: Path, size: int) -> tuple[float, int, dict[str, int]]:
    """One backup in a child process: (seconds, peak RSS bytes, counters)."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    cmd = [sys.executable, "-m", "bench.backup_speed", "--child", str(root), str(work), str(size)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    shutil.rmtree(work)
    return result["seconds"], result["maxrss"], result["counters"]


def child(root: Path, work: Path, size: int) -> None:
    from engine.backup.job import BackupSpec, run_backup
    from engine.site import Site
    from engine.site_config import LibrarySpec, SiteConfig

    os.environ["TAPIR_HOME"] = str(work / "home")
    (work / "lib.toml").write_text(LIBRARY)
    lib = LibrarySpec("lib1", state_dir=work / "state", hwsim_config=work / "lib.toml", create=True)
    site = Site(SiteConfig(libraries=(lib,), catalog=f"sqlite:///{work / 'catalog.sqlite'}"))
    with site:
        site.catalog()
        site.library("lib1").inventory()
        warm(work, size + WARM_SLACK)
        start = time.perf_counter()
        out = run_backup(BackupSpec(str(root), "lib1", record_size=RECORD_SIZE), site)
        seconds = time.perf_counter() - start
    if out.error:
        raise SystemExit(out.error)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    doc = {"seconds": seconds, "maxrss": maxrss, "counters": out.counters.to_dict()}
    print(json.dumps(doc))


def measure(name: str, base: Path, runs: int) -> dict[str, object]:
    root = ensure(SPECS[name], base)
    _files, size = dataset_stats(root)
    tar_out = base / f"{name}.tar"
    work = base / f"tapir-{name}"
    run_tar(root, tar_out, size)  # warm-up: page cache, dentry cache
    run_tapir(root, work, size)
    tar_times, tapir_times, rss = [], [], []
    counters: dict[str, int] = {}
    for _ in range(runs):  # interleaved: noise hits both alike
        tar_times.append(run_tar(root, tar_out, size))
        seconds, maxrss, counters = run_tapir(root, work, size)
        tapir_times.append(seconds)
        rss.append(maxrss)
    return {
        "tar": statistics.median(tar_times),
        "tapir": statistics.median(tapir_times),
        "maxrss": max(rss),
        "counters": counters,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=sorted(SPECS), default=None)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        root, work, size = args.child
        child(Path(root), Path(work), int(size))
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    print(
        f"{'dataset':8} {'tar s':>7} {'tapir s':>8} {'tar MB/s':>9} {'tapir MB/s':>11} "
        f"{'tar f/s':>8} {'tapir f/s':>10} {'x tar':>6} {'peak MiB':>9}"
    )
    for name in [args.only] if args.only else ["large", "small"]:
        r = measure(name, args.dir, args.runs)
        files, size = dataset_stats(args.dir / name)
        tar_s, tapir_s = float(r["tar"]), float(r["tapir"])  # type: ignore[arg-type]
        print(
            f"{name:8} {tar_s:7.2f} {tapir_s:8.2f} {size / tar_s / 1e6:9.0f} "
            f"{size / tapir_s / 1e6:11.0f} {files / tar_s:8.0f} {files / tapir_s:10.0f} "
            f"{tar_s / tapir_s:6.2f} {int(r['maxrss']) / 2**20:9.0f}"  # type: ignore[call-overload]
        )
    print("targets (issue 4): large >= 0.90 x tar, small >= 0.50 x tar, peak < 200 MiB")


if __name__ == "__main__":
    main()
