"""Benchmark: the backup front end (scan; scan + read + xxh3-128) on 100,000 small files.

Not a test: prints one table, asserts nothing. Run:
    python -m bench.scan_speed [--files 100000] [--dir /tmp]

The dataset is issue 4's small-file set (files of 1-16 KiB, sizes from a seeded generator,
1,000 per directory), generated once and kept under ``--dir`` for later runs. Each figure is
paired in the same run with a reference tool over the same tree, since this machine's speed
swings from minute to minute (BASELINES.md): ``find -printf %s`` for the walk (one lstat per
item, like the scanner), and ``tar -cf - | cat > /dev/null`` for walk + read (GNU tar skips the
reads when its output is /dev/null). The reader streams every file through one reused
256 KiB page-aligned buffer, as the pax writer will.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as ``python3 bench/scan_speed.py``: this checkout's code
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.backup.exceptions import ItemErrors
from engine.backup.reader import FileReader, aligned_buffer
from engine.backup.scan import Kind, Scanner

SEED = 4
FILES_PER_DIR = 1000
MIN_SIZE, MAX_SIZE = 1024, 16 * 1024
RECORD = 256 * 1024
DONE_MARK = ".complete"


def dataset(base: Path, files: int) -> Path:
    root = base / f"tapir-bench-small-{files}"
    if (root / DONE_MARK).exists():
        return root
    rng = random.Random(SEED)
    payload = rng.randbytes(MAX_SIZE)
    for i in range(files):
        d = root / f"d{i // FILES_PER_DIR:04d}"
        if i % FILES_PER_DIR == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:07d}.dat").write_bytes(payload[: rng.randint(MIN_SIZE, MAX_SIZE)])
    (root / DONE_MARK).write_bytes(b"")
    return root


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def scan_only(root: Path) -> int:
    scanner = Scanner(root)
    for _ in scanner:
        pass
    return scanner.stats.files


def scan_and_read(root: Path) -> int:
    errors = ItemErrors()
    reader = FileReader(errors)
    view = memoryview(aligned_buffer(RECORD))
    files = 0
    for entry in Scanner(root):
        if entry.kind is Kind.FILE:
            reader.checksum(entry, view)
            files += 1
    if errors.items:
        raise SystemExit(f"unexpected item exceptions: {errors.items[:3]}")
    return files


def shell(command: str) -> None:
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL)


def best(fn, repeat: int) -> tuple[float, object]:
    runs = [timed(fn) for _ in range(repeat)]
    return min(runs, key=lambda r: r[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    t_gen, root = timed(lambda: dataset(args.dir, args.files))
    print(f"dataset {root} ({args.files} files) ready in {t_gen:.1f} s")
    q = os.fspath(root)
    rows = []
    t_find, _ = best(lambda: shell(f"find '{q}' -printf '%s\\n'"), args.repeat)
    t_scan, n = best(lambda: scan_only(root), args.repeat)
    rows.append(("walk: tapir scan", t_scan, n, t_find, "find -printf %s"))
    t_tar, _ = best(lambda: shell(f"tar -cf - -C '{q}' . | cat > /dev/null"), args.repeat)
    t_read, n = best(lambda: scan_and_read(root), args.repeat)
    rows.append(("walk+read: scan+reader+xxh3", t_read, n, t_tar, "tar -cf - | cat"))
    print(f"{'stage':30} {'seconds':>8} {'files/s':>10} {'reference':>10} {'ratio':>6}  ref tool")
    for name, t, n, t_ref, ref in rows:
        print(f"{name:30} {t:8.2f} {n / t:10,.0f} {n / t_ref:10,.0f} {t_ref / t:6.2f}  {ref}")
    print("ratio = reference time / tapir time (1.0 = as fast; single thread, page cache warm)")


if __name__ == "__main__":
    main()
