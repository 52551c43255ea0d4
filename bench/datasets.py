"""Deterministic benchmark datasets (issue 4 "Speed"), generated once under a bench directory
and reused while their stamp file matches.

- ``large``: 8 files x 256 MiB of seeded random bytes (2 GiB).
- ``small``: 100,000 files of 1-16 KiB in 100 directories of 1,000 (about 0.8 GiB).
- ``million``: 1,000,000 files of 0-199 bytes in 1,000 directories of 1,000 (about 100 MB
  of data, a million inodes): the flat-memory check of issue 4. Only on request
  (``--only million``): it takes ~40 s to generate and a backup of it ~10 s.

Used by bench/format_speed.py and the backup bench. Run ``python -m bench.datasets DIR`` to
generate the default ones ahead of time (``DIR million`` for that one).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

MIB = 1 << 20
KIB = 1 << 10
STAMP = ".dataset.json"
SEED = 20240607


@dataclass(frozen=True)
class Spec:
    name: str
    files: int
    min_size: int
    max_size: int
    per_dir: int
    seed: int = SEED


LARGE = Spec("large", files=8, min_size=256 * MIB, max_size=256 * MIB, per_dir=8)
SMALL = Spec("small", files=100_000, min_size=1 * KIB, max_size=16 * KIB, per_dir=1000)
MILLION = Spec("million", files=1_000_000, min_size=0, max_size=199, per_dir=1000)
SPECS = {spec.name: spec for spec in (LARGE, SMALL, MILLION)}
DEFAULT = ("large", "small")
"""What the benches run without ``--only``."""


def ensure(spec: Spec, base: Path) -> Path:
    """The dataset's root directory, generated if missing or generated with another spec."""
    root = base / spec.name
    stamp = root / STAMP
    if stamp.exists() and json.loads(stamp.read_text()) == asdict(spec):
        return root
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    rng = random.Random(spec.seed)
    pool = rng.randbytes(MIB)
    for index in range(spec.files):
        directory = root / f"d{index // spec.per_dir:04d}"
        if index % spec.per_dir == 0:
            directory.mkdir()
        size = rng.randint(spec.min_size, spec.max_size)
        with open(directory / f"f{index:07d}.dat", "wb") as f:
            if size > MIB:
                for _ in range(size // MIB):
                    f.write(rng.randbytes(MIB))
                f.write(rng.randbytes(size % MIB))
            else:
                start = rng.randrange(MIB - size + 1)
                f.write(pool[start : start + size])
    stamp.write_text(json.dumps(asdict(spec)))
    return root


def dataset_stats(root: Path) -> tuple[int, int]:
    """(regular files, bytes) under ``root`` without the stamp."""
    files = size = 0
    for top, _dirs, names in os.walk(root):
        for name in names:
            if name != STAMP:
                files += 1
                size += os.lstat(os.path.join(top, name)).st_size
    return files, size


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bench-data")
    for name in sys.argv[2:] or DEFAULT:
        print(name, ensure(SPECS[name], target))
