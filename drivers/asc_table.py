"""Names of additional sense codes (SPC-4 annex D): ``asc_name(asc, ascq) -> str``.

The assignments are data, kept one pair per line in ``asc_table.txt`` beside this module
(about 760 of them); the three families whose qualifier is a parameter (SPC-4 table D.1:
40/NN, 4D/NN, 70/NN) are ranges here. Every (ASC, ASCQ) gets a name: codes not assigned
are shown in hex ("ASC 0x83 ASCQ 0x05"), with a note when SPC-4 4.5.2.1 reserves them for
vendors (ASC 80h-FFh, or ASCQ 80h-FFh under a standard ASC). Lookup never raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

VENDOR_SPECIFIC_FIRST = 0x80
"""SPC-4 4.5.2.1: ASC values 80h-FFh, and ASCQ values 80h-FFh, are vendor specific."""


@dataclass(frozen=True, slots=True)
class AscRange:
    """An ASC whose ASCQ is a parameter (SPC-4 table D.1 entries written "NN")."""

    asc: int
    first: int
    last: int
    template: str

    def name(self, ascq: int) -> str:
        return self.template.format(nn=ascq)


RANGES: tuple[AscRange, ...] = (
    AscRange(0x40, 0x80, 0xFF, "DIAGNOSTIC FAILURE ON COMPONENT {nn:02X}h"),
    AscRange(0x4D, 0x00, 0xFF, "TAGGED OVERLAPPED COMMANDS (TASK TAG {nn:02X}h)"),
    AscRange(0x70, 0x00, 0xFF, "DECOMPRESSION EXCEPTION SHORT ALGORITHM ID OF {nn:02X}h"),
)

_DATA_FILE = "asc_table.txt"


@cache
def assignments() -> dict[tuple[int, int], str]:
    """Every fixed (ASC, ASCQ) -> name pair, read once from ``asc_table.txt``."""
    text = resources.files(__package__).joinpath(_DATA_FILE).read_text(encoding="ascii")
    table: dict[tuple[int, int], str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        asc, ascq, name = line.split(" ", 2)
        table[int(asc, 16), int(ascq, 16)] = name
    return table


def known(asc: int, ascq: int) -> bool:
    """True when (asc, ascq) is a T10 assignment (fixed or a range member)."""
    if (asc, ascq) in assignments():
        return True
    return any(r.asc == asc and r.first <= ascq <= r.last for r in RANGES)


def asc_name(asc: int, ascq: int) -> str:
    """The T10 name of (asc, ascq), or a hex rendering when none is assigned."""
    name = assignments().get((asc, ascq))
    if name is not None:
        return name
    for r in RANGES:
        if r.asc == asc and r.first <= ascq <= r.last:
            return r.name(ascq)
    shown = f"ASC 0x{asc & 0xFF:02X} ASCQ 0x{ascq & 0xFF:02X}"
    if asc >= VENDOR_SPECIFIC_FIRST:
        return f"{shown} (vendor specific)"
    if ascq >= VENDOR_SPECIFIC_FIRST:
        return f"{shown} (vendor specific qualifier)"
    return shown
