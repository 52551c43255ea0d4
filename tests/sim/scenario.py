"""One simulated backup scenario, drawn from a seed: the source tree, the target, the
checkpoint interval, checkpoint restarts and the faults (issue 7 "Proven by simulation").

Everything random comes from one ``random.Random(seed)``, so ``draw(seed)`` is the same
scenario on every run and machine: a failing seed replays exactly (FoundationDB's simulation).
Faults are hwsim ``Fault`` rules keyed by blocks and command counts (never wall time), plus
what hwsim cannot inject itself: a SIGKILL of the engine process at its Nth checkpoint (then
found by ``tapir backup --resume`` or a restarted server, the backup type restartable or
not), and a disk mount path disabled by an administrator at its Nth checkpoint. A mount path
filling up or pulled out is the simulated disk's own fault (hwsim/disk.py), keyed by bytes
written to it; the pool's second mount path is enabled (the job moves there) or not (it fails
with the reason).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from engine.backup.write_stage import span_records

KIB = 1024
RECORD = 32 * KIB
"""Small records: many blocks on small tapes, so block-keyed faults land inside sessions."""
DRIVES = ("drive0", "drive1")
TAPES = tuple(f"SIM{n:03d}L8" for n in range(1, 9))
LIBRARY = f"""
[library]
name = "sim"
serial = "SIMLIB0001"
slots = 12
ie_slots = 1

[[drives]]
name = "drive0"
model = "LTO-8"
serial = "SIMDRV0001"

[[drives]]
name = "drive1"
model = "LTO-8"
serial = "SIMDRV0002"

[[cartridge_range]]
prefix = "SIM"
first = 1
count = {len(TAPES)}
suffix = "L8"
slot = 1
capacity = "3MiB"
early_warning = "512KiB"
"""
"""Two drives and small tapes (a session may span): every tape fault has somewhere to go."""

TAPE_FAULTS = (
    "power_loss",
    "power_loss",
    "power_loss",
    "medium_error",
    "medium_error",
    "drive_offline",
    "not_ready",
    "hardware_error",
    "robot_failure",
    "stuck_cartridge",
    "sigkill",
)
DISK_FAULTS = ("disabled", "gone", "full", "gone", "full", "sigkill")
"""Repeated kinds are drawn more often (power loss is the fault administrators fear most)."""


@dataclass(frozen=True)
class Scenario:
    seed: int
    files: tuple[tuple[str, int], ...]
    """(relative path, size) of each regular file; directories are their parents."""
    target: str
    """``tape`` (the library) or ``disk`` (the first of two mount paths of one pool)."""
    checkpoint_bytes: int
    restarts: int
    faults: tuple[dict[str, Any], ...] = ()
    """hwsim ``Fault`` rules, armed before the backup."""
    power_returns: bool = True
    """After a power loss the drive answers again (else it stays dark: a drive lost)."""
    kill_at: int | None = None
    """SIGKILL the engine right after this checkpoint (a separate process runs it)."""
    disk_fault: str | None = None
    """``disabled`` (an administrator, at checkpoint ``disk_fault_at``), or the simulated
    disk under the first mount path (hwsim/disk.py) ``full`` or ``gone`` at byte
    ``disk_fault_at`` of what is written to it (``capacity``: a disk that small instead)."""
    disk_fault_at: int = 1
    capacity: int | None = None
    spare_mount: bool = True
    """The second mount path of the pool is enabled (the job can move there) or disabled."""
    restartable: bool = True
    """The backup job type restarts (the sweeper queues a dead holder's job again) or not
    (the sweeper ends its run FAILED; a new job continues it)."""
    restart_by: str = "cli"
    """Who finds a killed engine's run: ``cli`` (``tapir backup --resume N``) or ``daemon``
    (a restarted ``tapir server``)."""
    notes: list[str] = field(default_factory=list, compare=False)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def describe(self) -> str:
        faults = [
            f"{f['kind']} on {f['target']}"
            + "".join(f" {k}={f[k]}" for k in ("at_block", "nth", "times", "op") if k in f)
            for f in self.faults
        ]
        if self.kill_at is not None:
            faults.append(
                f"SIGKILL at checkpoint {self.kill_at}, found by the {self.restart_by}"
                + ("" if self.restartable else " (backups not restartable)")
            )
        if self.disk_fault == "disabled":
            faults.append(f"mount path disabled at checkpoint {self.disk_fault_at}")
        elif self.capacity is not None:
            faults.append(f"mount path on a {self.capacity}-byte disk")
        elif self.disk_fault:
            faults.append(f"mount path {self.disk_fault} at byte {self.disk_fault_at}")
        if self.target == "disk" and not self.spare_mount:
            faults.append("no spare mount path")
        if any(f["kind"] == "power_loss" for f in self.faults):
            faults.append("power returns" if self.power_returns else "power stays off")
        return (
            f"seed {self.seed}: {len(self.files)} files, {self.total_bytes} bytes to "
            f"{self.target}, checkpoint every {self.checkpoint_bytes} bytes, "
            f"{self.restarts} restarts; faults: {'; '.join(faults) or 'none'}"
        )


def _tree(rng: random.Random) -> tuple[tuple[str, int], ...]:
    dirs = [""] + [f"d{n}" for n in range(rng.randint(0, 3))]
    dirs += [f"{d}/e{n}" for d in dirs[1:] for n in range(rng.randint(0, 1))]
    files = []
    for n in range(rng.randint(3, 30)):
        size = rng.choice([0, rng.randint(1, 4 * KIB), rng.randint(4 * KIB, 200 * KIB)])
        if rng.random() < 0.1:
            size = rng.randint(200 * KIB, 1200 * KIB)  # a large file: spans, streams
        where = rng.choice(dirs)
        files.append((f"{where}/f{n:02d}".lstrip("/"), size))
    return tuple(files)


def _tape_fault(rng: random.Random, kind: str, blocks: int, writes: int) -> dict[str, Any]:
    drive = rng.choice((*DRIVES, DRIVES[0], DRIVES[0]))  # drive0 is the one mounted first
    if kind == "power_loss":
        return {"kind": kind, "target": drive, "at_block": rng.randint(2, blocks)}
    if kind == "medium_error":
        times = rng.choice([1, None])
        fault = {"kind": kind, "target": rng.choice((*TAPES[:3], TAPES[0])), "op": "write"}
        fault["at_block"] = rng.randint(1, blocks)
        return fault | ({"times": times} if times else {"persistent": True})
    if kind in ("drive_offline", "not_ready", "hardware_error"):
        return {"kind": kind, "target": drive, "nth": rng.randint(2, writes), "opcode": "WRITE_6"}
    if kind == "robot_failure":
        return {
            "kind": kind,
            "target": "changer",
            "nth": rng.randint(1, 6),
            "times": 1 + rng.randrange(5),
        }
    return {"kind": "stuck_cartridge", "target": drive}


def draw(seed: int) -> Scenario:
    """The scenario of ``seed`` (module docstring)."""
    rng = random.Random(seed)
    files = _tree(rng)
    total = sum(size for _, size in files)
    blocks = max(3, total // RECORD + 2)
    target = "disk" if rng.random() < 0.2 else "tape"
    checkpoint = rng.choice([64, 128, 256, 512]) * KIB
    restarts = rng.choice([0, 1, 1, 2, 3])
    kinds = DISK_FAULTS if target == "disk" else TAPE_FAULTS
    chosen = [rng.choice(kinds) for _ in range(rng.choice([0, 1, 1, 1, 2, 2]))]
    kill_at = rng.randint(1, 3) if "sigkill" in chosen else None
    chosen = [k for k in chosen if k != "sigkill"]
    killed: dict[str, Any] = {}
    if kill_at is not None:
        chosen = []  # the engine's own process is killed: no device faults with it
        killed = {
            "kill_at": kill_at,
            "restartable": rng.random() < 0.7,
            "restart_by": rng.choice(("cli", "daemon")),
        }
    if target == "disk":
        disk = chosen[0] if chosen else None
        at = rng.randint(1, 3) if disk == "disabled" else rng.randint(1, total + RECORD)
        small = disk == "full" and rng.random() < 0.5
        return Scenario(
            seed,
            files,
            target,
            checkpoint,
            restarts,
            disk_fault=disk,
            disk_fault_at=at,
            capacity=at if small else None,
            spare_mount=rng.random() < 0.75,
            **killed,
        )
    # WRITE commands of the session: one per group of records, and one more per checkpoint
    # at most (a checkpoint sends the part of a group filled so far: engine/backup/write_stage)
    writes = max(2, blocks // span_records(RECORD) + total // checkpoint + 1)
    faults = tuple(_tape_fault(rng, kind, blocks, writes) for kind in chosen)
    return Scenario(
        seed,
        files,
        target,
        checkpoint,
        restarts,
        faults,
        power_returns=rng.random() < 0.8,
        **killed,
    )
