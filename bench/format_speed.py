"""Benchmark: engine/format's ArchiveWriter against GNU tar on the same trees, same run.

Not a test. Issue 4 targets: large files >= 0.9 x tar's throughput, small files >= 0.5 x tar's
files per second. Both write an archive file in 256 KiB records (tar ``-b 512``); tapir also
hashes every file (xxh3-128) and writes the session index. Run:
    python -m bench.format_speed [--dir bench-data] [--runs 3] [--only small|large]

tar's output is a real file, never /dev/null (BASELINES.md: GNU tar skips reading the data
when it writes to /dev/null). Each figure is the median of ``--runs``; a warm-up pass fills
the page cache first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as ``python3 bench/format_speed.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datasets import DEFAULT, SPECS, dataset_stats, ensure
from engine.format.writer import ArchiveWriter

RECORD_SIZE = 256 * 1024
TAR_BLOCKING = RECORD_SIZE // 512


def run_tar(root: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["tar", "-cf", str(out), "-b", str(TAR_BLOCKING), "-C", str(root), "."], check=True
    )
    return time.perf_counter() - start


def _walk(writer: ArchiveWriter, directory: bytes, prefix: bytes) -> None:
    """Depth first, a directory before its contents, as tar orders members."""
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        name = prefix + entry.name
        writer.add_path(entry.path, name, st=entry.stat(follow_symlinks=False))
        if entry.is_dir(follow_symlinks=False):
            _walk(writer, entry.path, name + b"/")


def run_tapir(root: Path, out: Path, *, all_times: bool = True) -> float:
    """The writer walking ``root`` (with xattrs, ACLs, checksums and the index) to a file."""
    start = time.perf_counter()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        writer = ArchiveWriter(
            lambda record: os.write(fd, record), record_size=RECORD_SIZE, all_times=all_times
        )
        _walk(writer, os.fsencode(root), b"")
        writer.close()
    finally:
        os.close(fd)
    return time.perf_counter() - start


def measure(name: str, base: Path, out_dir: Path, runs: int) -> list[tuple[str, float]]:
    root = ensure(SPECS[name], base)
    out = out_dir / f"{name}.tar"
    runners = {
        "GNU tar -b 512": lambda: run_tar(root, out),
        "tapir writer": lambda: run_tapir(root, out),
        "tapir, mtime only": lambda: run_tapir(root, out, all_times=False),
    }
    for runner in runners.values():  # warm-up: page cache, dentry cache
        runner()
    times: dict[str, list[float]] = {label: [] for label in runners}
    for _ in range(runs):
        for label, runner in runners.items():  # interleaved: noise hits all alike
            times[label].append(runner())
            out.unlink()
    return [(label, statistics.median(values)) for label, values in times.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=sorted(SPECS), default=None)
    args = parser.parse_args()
    out_dir = args.out_dir or args.dir
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"{'dataset':8} {'writer':22} {'seconds':>8} {'MB/s':>8} {'files/s':>9} {'x tar':>6}")
    for name in [args.only] if args.only else DEFAULT:
        results = measure(name, args.dir, out_dir, args.runs)
        files, size = dataset_stats(args.dir / name)
        tar_time = results[0][1]
        for label, seconds in results:
            print(
                f"{name:8} {label:22} {seconds:8.2f} {size / seconds / 1e6:8.0f} "
                f"{files / seconds:9.0f} {tar_time / seconds:6.2f}"
            )
    print("targets (issue 4): large >= 0.90 x tar, small >= 0.50 x tar")


if __name__ == "__main__":
    main()
