"""Benchmark: what the checkpoint interval costs a streaming tape drive (issue 7 "Checkpoints").

Not a test. Run:
    python -m bench.checkpoint_streaming [--model LTO-8] [--gib 64] [--host-mb 430]

A checkpoint flushes the drive (WRITE FILEMARKS 0): the buffer is written out and the tape
stops; the next record starts it again after a reposition (back-hitch). The hwsim speed model
(hwsim/speed.py ``SpeedModel``) is fed the write pattern of a backup — records of 256 KiB at
the host's rate, a flush every N bytes — on a simulated clock, and reports tape stops and
underruns; the table adds one reposition (``DriveModel.reposition_s``) per tape stop a
checkpoint causes (the end of the session stops the tape anyway), which a real drive pays
when it starts again, and prints the drive's efficiency: native-rate time of
the data over modeled time. The catalog commit runs in its own thread after the flush
(engine/backup/checkpoint.py), so it costs the drive nothing here.

The default (engine/backup/pipeline.py ``DEFAULT_CHECKPOINT_BYTES`` = 16 GiB) is the smallest
interval in the table that keeps an LTO-8/LTO-9 drive above 95% of its native rate: each
checkpoint costs one reposition (~2.5 s) per ~45 s of streaming. Smaller intervals lose
catalog granularity for nothing on a fast host; much larger ones only add to what a failure
costs (data re-written after a restart from the last checkpoint).
"""

from __future__ import annotations

import argparse

from hwsim.models import DRIVE_MODELS, DriveModel, model_by_name
from hwsim.speed import SpeedModel

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
RECORD = 256 * KIB
INTERVALS = (64 * MIB, 256 * MIB, 1 * GIB, 4 * GIB, 16 * GIB, 64 * GIB)
STREAMING = 0.95
"""Efficiency a default must keep: the drive streams (stops cost under 5% of its time)."""


class SimClock:
    """The host's clock: advanced by the host's own work and by waits for the drive."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(model: DriveModel, total: int, interval: int, host_rate: float) -> dict[str, float]:
    """Write ``total`` bytes in records at ``host_rate``, flushing every ``interval`` bytes."""
    clock = SimClock()
    speed = SpeedModel(model, clock=clock, realtime=True, sleep=clock.sleep)
    per_record = RECORD / host_rate
    since = 0
    for _ in range(total // RECORD):
        clock.now += per_record  # the host formats the next record
        speed.write(RECORD)
        since += RECORD
        if since >= interval:
            speed.flush()
            since = 0
    if since:
        speed.flush()  # the end of the session: a stop whatever the interval, not counted
    stops = speed.tape_stops - 1
    modeled = speed.sim_time + stops * model.reposition_s
    native = total / model.native_rate
    return {
        "stops": stops,
        "underruns": speed.underruns,
        "modeled_s": modeled,
        "efficiency": native / modeled if modeled else 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="LTO-8", choices=sorted(DRIVE_MODELS))
    parser.add_argument("--gib", type=int, default=64, help="data written per run")
    parser.add_argument(
        "--host-mb", type=float, default=None, help="host rate, MB/s (default 1.2 x native)"
    )
    args = parser.parse_args()
    model = model_by_name(args.model)
    host = (args.host_mb * 1e6) if args.host_mb else 1.2 * model.native_rate
    total = args.gib * GIB
    print(
        f"{model.name}: native {model.native_rate / 1e6:.0f} MB/s, buffer "
        f"{model.buffer_bytes // MIB} MiB, reposition {model.reposition_s} s; host "
        f"{host / 1e6:.0f} MB/s; {args.gib} GiB in {RECORD // KIB} KiB records"
    )
    print(f"{'interval':>10} {'stops':>6} {'underruns':>9} {'modeled s':>10} {'efficiency':>10}")
    chosen = None
    for interval in INTERVALS:
        r = run(model, total, interval, host)
        mark = ""
        if chosen is None and r["efficiency"] >= STREAMING:
            chosen, mark = interval, "  <- smallest that streams"
        print(
            f"{interval / GIB:>8.3g}Gi {r['stops']:>6.0f} {r['underruns']:>9.0f} "
            f"{r['modeled_s']:>10.1f} {r['efficiency']:>9.1%}{mark}"
        )


if __name__ == "__main__":
    main()
