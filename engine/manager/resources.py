"""What a job needs, and the all-or-nothing choice of keys for it (pure: no database).

A ``Request`` is a list of ``Need``s; each need is ``count`` keys of one ``kind`` out of its
``candidates`` (resolved by probe.py from the site: the drives of a drive pool, one medium or
the writable media of a pool in the library, the writer slots of mount paths with room, the
stream slots ``POLICY#i`` of a storage policy). ``unavailable`` is set when the probe found
the resource unusable (library offline, medium not in the library, no enabled disk path with
the space); such a need can never be granted now.

``allocate`` takes the keys others hold and returns either every key for every need, or the
first need it cannot meet with the reason for delay (reasons.py) and the jobs holding its
candidates (whom a preempting job would interrupt). Keys of one kind are unique across the
site: a medium is the same key whether asked for by barcode or taken from a pool.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.manager import reasons


class Kind(enum.StrEnum):
    STREAM = "stream"
    DRIVE = "drive"
    MEDIUM = "medium"
    MOUNT_PATH = "mount_path"


@dataclass(frozen=True, slots=True)
class Need:
    kind: Kind
    grp: str
    """Drive pool, storage policy, media pool (or library for a named medium), mount path."""
    count: int
    candidates: tuple[str, ...]
    unavailable: str | None = None
    specific: bool = False
    """A named medium (its reservation by another job is "already reserved")."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "grp": self.grp,
            "count": self.count,
            "candidates": list(self.candidates),
            "unavailable": self.unavailable,
            "specific": self.specific,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Need:
        return cls(
            Kind(d["kind"]),
            d["grp"],
            int(d["count"]),
            tuple(d["candidates"]),
            d.get("unavailable"),
            bool(d.get("specific", False)),
        )


@dataclass(frozen=True, slots=True)
class Request:
    needs: tuple[Need, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"needs": [n.to_dict() for n in self.needs]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Request:
        return cls(tuple(Need.from_dict(n) for n in (d or {}).get("needs", [])))


Key = tuple[str, str]
"""(kind, key)."""


@dataclass(frozen=True, slots=True)
class Grant:
    keys: tuple[tuple[Kind, str, str], ...]
    """(kind, key, grp) of everything reserved."""

    def of(self, kind: Kind) -> list[str]:
        return [key for k, key, _ in self.keys if k is kind]


@dataclass(frozen=True, slots=True)
class Shortfall:
    need: Need
    reason: str
    holders: frozenset[int] = field(default_factory=frozenset)
    """Jobs holding candidates of the need."""


def allocate(request: Request, taken: Mapping[Key, int]) -> Grant | Shortfall:
    """Every key of every need, none of them in ``taken`` (key -> holding job id), or the
    first need that cannot be met."""
    chosen: list[tuple[Kind, str, str]] = []
    used: set[Key] = set()
    for need in request.needs:
        if need.unavailable:
            return Shortfall(need, need.unavailable)
        free = [
            c
            for c in need.candidates
            if (need.kind.value, c) not in taken and (need.kind.value, c) not in used
        ]
        if len(free) < need.count:
            holders = frozenset(
                taken[(need.kind.value, c)]
                for c in need.candidates
                if (need.kind.value, c) in taken
            )
            return Shortfall(need, _reason(need, len(free)), holders)
        for key in free[: need.count]:
            chosen.append((need.kind, key, need.grp))
            used.add((need.kind.value, key))
    return Grant(tuple(chosen))


def _reason(need: Need, free: int) -> str:
    if need.kind is Kind.STREAM:
        return reasons.not_enough_streams(need.grp, need.count, free)
    if need.kind is Kind.DRIVE:
        if len(need.candidates) < need.count:
            return reasons.NOT_ENOUGH_DRIVES
        return reasons.NO_DRIVES
    if need.kind is Kind.MEDIUM:
        if need.specific:
            return reasons.MEDIA_RESERVED
        return reasons.NOT_ENOUGH_MEDIA
    if not need.candidates:
        return reasons.NO_DISK_PATHS
    return reasons.TOO_MANY_WRITERS


def streams(policy: str, slots: int, count: int = 1) -> Need:
    return Need(Kind.STREAM, policy, count, tuple(f"{policy}#{i}" for i in range(slots)))


def drives(pool: str, names: list[str], count: int = 1, *, unavailable: str | None = None) -> Need:
    return Need(Kind.DRIVE, pool, count, tuple(names), unavailable)


def medium(barcode: str, library: str, *, unavailable: str | None = None) -> Need:
    return Need(Kind.MEDIUM, library, 1, (barcode,), unavailable, specific=True)


def media_from_pool(pool: str, barcodes: list[str], count: int = 1) -> Need:
    return Need(Kind.MEDIUM, pool, count, tuple(barcodes))


def mount_path_writers(
    group: str, paths: list[str], writers: int, *, unavailable: str | None = None
) -> Need:
    slots = tuple(f"{p}#w{i}" for p in paths for i in range(writers))
    return Need(Kind.MOUNT_PATH, group, 1, slots, unavailable)
