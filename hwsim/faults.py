"""Declarative, seeded fault injection.

A ``FaultPlan`` holds ``Fault`` rules. Devices report events to it at fixed points (each
command, each record read or written at a block, each robot move, bytes written since
cleaning) and carry out the ``FaultAction``s it returns. Rules are keyed by counts and
positions, never by wall time, so a test can loop N = 1, 2, ... over "fail the Nth WRITE"
and a run replays exactly. The only randomness is one ``random.Random(seed)`` for rules with
a ``probability`` and for ``FaultPlan.random``; the seed is printed with every plan.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

# kind -> the event it listens to
COMMAND_FAULTS = frozenset({"drive_offline", "not_ready", "hardware_error", "power_loss"})
BLOCK_FAULTS = frozenset({"medium_error", "power_loss"})
MOVE_FAULTS = frozenset({"robot_failure"})
FAULT_KINDS = frozenset(
    {
        "power_loss",
        "medium_error",
        "drive_offline",
        "not_ready",
        "hardware_error",
        "robot_failure",
        "stuck_cartridge",
        "cleaning_required",
    }
)
_TRIGGER_FIELDS = ("nth", "at_block", "after_bytes", "probability")


class FaultSpecError(ValueError):
    """A fault rule that cannot be understood; the message names the field."""


@dataclass
class Fault:
    """One rule.

    target: a device name ("drive0", "changer") or, for medium errors, a cartridge barcode.
    Triggers (at least one, except for ``stuck_cartridge`` which is armed until cleared):
      nth          fire from the nth matching event on, until spent (commands, filtered by
                   ``opcode`` if given; robot moves for ``robot_failure``): with times=1,
                   exactly the nth
      at_block     fire when a record at this logical block is read or written
                   (``op`` = "read", "write" or "any"; power loss listens to writes)
      after_bytes  fire once this many bytes were written by the drive (cleaning)
      probability  fire on each matching event with this chance, drawn from the plan's seed
    times: how many firings before the rule is spent (None = persistent, never spent).
    """

    kind: str
    target: str
    nth: int | None = None
    at_block: int | None = None
    after_bytes: int | None = None
    probability: float | None = None
    opcode: str | None = None
    op: str = "write"
    times: int | None = 1
    id: int = 0
    seen: int = 0
    fired: int = 0

    def validate(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultSpecError(
                f"unknown fault kind {self.kind!r}; known kinds: {', '.join(sorted(FAULT_KINDS))}"
            )
        if not self.target:
            raise FaultSpecError(f"fault {self.kind!r} needs a target (a device name or barcode)")
        if self.kind != "stuck_cartridge" and all(
            getattr(self, f) is None for f in _TRIGGER_FIELDS
        ):
            raise FaultSpecError(
                f"fault {self.kind!r} on {self.target!r} needs a trigger: one of "
                + ", ".join(_TRIGGER_FIELDS)
            )
        if self.op not in ("read", "write", "any"):
            raise FaultSpecError(f"fault op must be read, write or any, not {self.op!r}")
        for name in ("nth", "at_block", "after_bytes", "times"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise FaultSpecError(f"fault field {name} must be a whole number >= 0")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise FaultSpecError("fault probability must be between 0 and 1")

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Fault:
        known = {f for f in cls.__dataclass_fields__} | {"persistent"}
        unknown = set(raw) - known
        if unknown:
            raise FaultSpecError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        values = dict(raw)
        if values.get("persistent"):
            values["times"] = None
        values.pop("persistent", None)
        try:
            fault = cls(**values)
        except TypeError as exc:
            raise FaultSpecError(str(exc)) from None
        fault.validate()
        return fault

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-able fields; ``times=None`` is written as ``persistent = true``."""
        raw = {k: v for k, v in asdict(self).items() if v is not None}
        if self.times is None:
            raw["persistent"] = True
        return raw


@dataclass(frozen=True, slots=True)
class FaultAction:
    """A fault that fires now; the device that reported the event carries it out."""

    kind: str
    fault_id: int
    target: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FiredFault:
    fault_id: int
    kind: str
    target: str
    event: str


@dataclass
class FaultPlan:
    """The rules armed in one simulated library, and the seeded generator behind them.

    Thread-safety: devices call the ``on_*`` methods from their own command threads.
    """

    seed: int = 0
    faults: list[Fault] = field(default_factory=list)
    fired: list[FiredFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._ids = itertools.count(max((f.id for f in self.faults), default=0) + 1)

    # --- arming ---------------------------------------------------------------------------

    def arm(self, fault: Fault | Mapping[str, Any]) -> Fault:
        """Add a rule (validated) and return it with its id."""
        rule = fault if isinstance(fault, Fault) else Fault.from_dict(fault)
        rule.validate()
        with self._lock:
            rule.id = next(self._ids)
            self.faults.append(rule)
        return rule

    def disarm(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self.faults)
            self.faults = [f for f in self.faults if f.id != fault_id]
            return len(self.faults) != before

    def clear(self, target: str | None = None) -> int:
        """Remove every rule (or every rule aimed at ``target``); returns how many."""
        with self._lock:
            keep = [f for f in self.faults if target is not None and f.target != target]
            removed = len(self.faults) - len(keep)
            self.faults = keep
            return removed

    def active(self) -> list[Fault]:
        with self._lock:
            return [f for f in self.faults if not f.spent]

    # --- events -----------------------------------------------------------------------------

    def _fire(self, rule: Fault, event: str) -> FaultAction:
        rule.fired += 1
        self.fired.append(FiredFault(rule.id, rule.kind, rule.target, event))
        return FaultAction(rule.kind, rule.id, rule.target, event)

    def _chance(self, rule: Fault) -> bool:
        return rule.probability is None or self.rng.random() < rule.probability

    def on_command(self, device: str, opcode_name: str) -> list[FaultAction]:
        """A command arrived at ``device``; fires rules counted in commands."""
        actions = []
        with self._lock:
            for rule in self.faults:
                if rule.spent or rule.target != device or rule.kind not in COMMAND_FAULTS:
                    continue
                if rule.at_block is not None or rule.after_bytes is not None:
                    continue
                if rule.opcode is not None and rule.opcode != opcode_name:
                    continue
                rule.seen += 1
                if rule.nth is not None and rule.seen < rule.nth:
                    continue
                if self._chance(rule):
                    actions.append(self._fire(rule, f"command {opcode_name} #{rule.seen}"))
        return actions

    def on_block(self, device: str, barcode: str, op: str, block: int) -> list[FaultAction]:
        """A record at ``block`` is about to be read or written on ``barcode`` in ``device``."""
        actions = []
        with self._lock:
            for rule in self.faults:
                if rule.spent or rule.kind not in BLOCK_FAULTS or rule.at_block is None:
                    continue
                if rule.target not in (device, barcode):
                    continue
                wanted = "write" if rule.kind == "power_loss" else rule.op
                if wanted != "any" and wanted != op:
                    continue
                if rule.probability is None and block != rule.at_block:
                    continue
                if rule.probability is not None and block < rule.at_block:
                    continue
                if self._chance(rule):
                    actions.append(self._fire(rule, f"{op} block {block} of {barcode}"))
        return actions

    def on_move(self, changer: str) -> list[FaultAction]:
        """The robot is about to move a cartridge."""
        actions = []
        with self._lock:
            for rule in self.faults:
                if rule.spent or rule.kind not in MOVE_FAULTS or rule.target != changer:
                    continue
                rule.seen += 1
                if rule.nth is not None and rule.seen < rule.nth:
                    continue
                if self._chance(rule):
                    actions.append(self._fire(rule, f"move #{rule.seen}"))
        return actions

    def on_bytes_written(self, device: str, total_bytes: int) -> list[FaultAction]:
        """The drive has written ``total_bytes`` since its last cleaning."""
        actions = []
        with self._lock:
            for rule in self.faults:
                if rule.spent or rule.kind != "cleaning_required" or rule.target != device:
                    continue
                if rule.after_bytes is not None and total_bytes >= rule.after_bytes:
                    actions.append(self._fire(rule, f"{total_bytes} bytes written"))
        return actions

    def stuck(self, device: str) -> bool:
        """Is a cartridge stuck in ``device`` (unload and robot moves out of it fail)?"""
        with self._lock:
            return any(
                f.kind == "stuck_cartridge" and f.target == device and not f.spent
                for f in self.faults
            )

    # --- persistence and generation -------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"seed": self.seed, "faults": [f.to_dict() for f in self.faults]}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FaultPlan:
        plan = cls(seed=int(raw.get("seed", 0)))
        for entry in raw.get("faults", []):
            rule = Fault.from_dict(entry)
            keep_id = rule.id
            plan.faults.append(rule)
            rule.id = keep_id or next(plan._ids)
        plan._ids = itertools.count(max((f.id for f in plan.faults), default=0) + 1)
        return plan

    @classmethod
    def random(
        cls,
        seed: int,
        *,
        drives: Sequence[str],
        barcodes: Iterable[str],
        changer: str = "changer",
        max_block: int = 1000,
        count: int = 2,
    ) -> FaultPlan:
        """Draw ``count`` rules from ``seed``: the same seed gives the same plan."""
        plan = cls(seed=seed)
        rng = plan.rng
        tapes = sorted(barcodes)
        kinds = ["power_loss", "medium_error", "drive_offline", "robot_failure", "hardware_error"]
        for _ in range(count):
            kind = rng.choice(kinds)
            if kind == "power_loss":
                plan.arm(Fault(kind, rng.choice(list(drives)), at_block=rng.randrange(max_block)))
            elif kind == "medium_error" and tapes:
                plan.arm(
                    Fault(
                        kind,
                        rng.choice(tapes),
                        at_block=rng.randrange(max_block),
                        op=rng.choice(["read", "write"]),
                        times=rng.choice([1, None]),
                    )
                )
            elif kind == "robot_failure":
                plan.arm(Fault(kind, changer, nth=rng.randrange(1, 10)))
            else:
                plan.arm(Fault(kind, rng.choice(list(drives)), nth=rng.randrange(1, 200)))
        return plan

    def describe(self) -> str:
        rules = "; ".join(
            f"#{f.id} {f.kind} on {f.target}"
            + "".join(
                f" {k}={getattr(f, k)}"
                for k in (*_TRIGGER_FIELDS, "opcode")
                if getattr(f, k) is not None
            )
            for f in self.faults
        )
        return f"seed={self.seed}: {rules or 'no faults'}"
