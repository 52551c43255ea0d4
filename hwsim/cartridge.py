"""Cartridges: media types by barcode suffix, capacity, write protect, WORM, cleaning, MAM.

A barcode is the volume serial plus a two-character media type (LTO label specification):
``L5``..``L9`` data, ``LV``..``LZ`` WORM for LTO-5..9, ``M8`` (LTO-7 type M, written by LTO-8
drives at 9 TB); a label starting with ``CLN`` is a cleaning cartridge. The cartridge memory
(MAM, SPC-4 7.4 attributes) lives here as plain fields; ``hwsim.mam`` encodes it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hwsim.media import TapeMedium

TB = 1_000_000_000_000
CLEANING_PREFIX = "CLN"
CLEANING_USES = 50  # universal LTO cleaning cartridge: 50 cleanings
EARLY_WARNING_FRACTION = 0.02  # early warning zone: last 2 % of the partition
MAM_FILE = "cartridge.json"
MANUFACTURER = "HWSIM"


@dataclass(frozen=True)
class MediaType:
    """A cartridge type: LTO generation, native capacity (bytes) and SSC density code."""

    code: str
    generation: int
    native_capacity: int
    worm: bool = False
    cleaning: bool = False
    density_code: int = 0


MEDIA_TYPES: dict[str, MediaType] = {
    t.code: t
    for t in (
        MediaType("L3", 3, 400 * TB // 1000, density_code=0x44),
        MediaType("L4", 4, 800 * TB // 1000, density_code=0x46),
        MediaType("L5", 5, 1500 * TB // 1000, density_code=0x58),
        MediaType("L6", 6, 2500 * TB // 1000, density_code=0x5A),
        MediaType("L7", 7, 6 * TB, density_code=0x5C),
        MediaType("M8", 8, 9 * TB, density_code=0x5D),
        MediaType("L8", 8, 12 * TB, density_code=0x5E),
        MediaType("L9", 9, 18 * TB, density_code=0x60),
        MediaType("LV", 5, 1500 * TB // 1000, worm=True, density_code=0x58),
        MediaType("LW", 6, 2500 * TB // 1000, worm=True, density_code=0x5A),
        MediaType("LX", 7, 6 * TB, worm=True, density_code=0x5C),
        MediaType("LY", 8, 12 * TB, worm=True, density_code=0x5E),
        MediaType("LZ", 9, 18 * TB, worm=True, density_code=0x60),
    )
}
CLEANING = MediaType("CLN", 0, 0, cleaning=True)


def media_type_for_barcode(barcode: str) -> MediaType:
    """The media type a barcode label names; ValueError saying what is wrong otherwise."""
    if not barcode or not barcode.isascii() or not barcode.isprintable() or " " in barcode:
        raise ValueError(f"barcode {barcode!r}: must be printable ASCII without spaces")
    if len(barcode) > 32:
        raise ValueError(f"barcode {barcode!r}: longer than 32 characters")
    if barcode.upper().startswith(CLEANING_PREFIX):
        return CLEANING
    suffix = barcode[-2:].upper()
    if len(barcode) < 3 or suffix not in MEDIA_TYPES:
        raise ValueError(
            f"barcode {barcode!r}: unknown media type suffix {suffix!r}; expected L5..L9 "
            "(data), LV..LZ (WORM), M8, L3/L4, or a label starting with CLN (cleaning)"
        )
    return MEDIA_TYPES[suffix]


@dataclass
class Mam:
    """Cartridge memory contents (SPC-4 7.4.2 attribute identifiers in ``hwsim.mam``).

    ``host_attributes`` holds host-type attributes written with WRITE ATTRIBUTE (0x0800..),
    keyed by identifier; the user medium text label (0x0803) is one of them.
    """

    medium_serial: str = ""
    manufacturer: str = MANUFACTURER
    manufacture_date: str = "20240101"
    load_count: int = 0
    initialization_count: int = 0
    last_written: str = ""  # YYYYMMDDHHMM, SPC-4 date and time last written
    bytes_written: int = 0
    bytes_read: int = 0
    bytes_written_last_load: int = 0
    bytes_read_last_load: int = 0
    last_drive: str = ""  # vendor + serial of the drive that last loaded it
    host_attributes: dict[int, str] = field(default_factory=dict)

    def to_state(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["host_attributes"] = {str(k): v for k, v in self.host_attributes.items()}
        return raw

    @classmethod
    def from_state(cls, raw: dict[str, Any]) -> Mam:
        values = dict(raw)
        values["host_attributes"] = {
            int(k): v for k, v in values.get("host_attributes", {}).items()
        }
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})


USER_LABEL_ATTRIBUTE = 0x0803


@dataclass
class Cartridge:
    """One cartridge. ``medium`` is its recorded contents (None for a cleaning cartridge).

    Configuration (capacity, write-protect switch, early warning) comes from the library
    file; the MAM is also kept in ``tapes_dir/<barcode>/cartridge.json`` so that a restart
    keeps what the drive last wrote into the cartridge memory.
    """

    barcode: str
    media_type: MediaType
    capacity: int
    write_protected: bool = False
    cleaning_uses_left: int | None = None
    early_warning_bytes: int = 0
    mam: Mam = field(default_factory=Mam)
    tapes_dir: Path | None = None
    medium: TapeMedium | None = None

    @property
    def worm(self) -> bool:
        return self.media_type.worm

    @property
    def cleaning(self) -> bool:
        return self.media_type.cleaning

    @property
    def user_label(self) -> str:
        return self.mam.host_attributes.get(USER_LABEL_ATTRIBUTE, "")

    @property
    def early_warning_at(self) -> int:
        """Bytes from BOP at which the early-warning zone begins (SSC-4 4.2.5)."""
        return max(0, self.capacity - self.early_warning_bytes)

    @classmethod
    def create(
        cls,
        barcode: str,
        tapes_dir: Path,
        *,
        capacity: int | None = None,
        write_protected: bool = False,
        cleaning_uses: int | None = None,
        early_warning_bytes: int | None = None,
    ) -> Cartridge:
        """A new (blank) cartridge; ValueError for a bad barcode or size."""
        media_type = media_type_for_barcode(barcode)
        cap = media_type.native_capacity if capacity is None else capacity
        if cap < 0 or (not media_type.cleaning and cap == 0):
            raise ValueError(f"cartridge {barcode}: capacity must be > 0 bytes, not {cap}")
        if early_warning_bytes is None:
            early_warning_bytes = int(cap * EARLY_WARNING_FRACTION)
        if not 0 <= early_warning_bytes <= cap:
            raise ValueError(
                f"cartridge {barcode}: early_warning_bytes must be between 0 and the capacity"
            )
        uses = None
        if media_type.cleaning:
            uses = CLEANING_USES if cleaning_uses is None else cleaning_uses
            if uses < 0:
                raise ValueError(f"cartridge {barcode}: cleaning_uses must be >= 0")
        serial = hashlib.sha256(barcode.encode()).hexdigest()[:10].upper()
        cart = cls(
            barcode=barcode,
            media_type=media_type,
            capacity=cap,
            write_protected=write_protected,
            cleaning_uses_left=uses,
            early_warning_bytes=early_warning_bytes,
            mam=Mam(medium_serial=f"HW{serial}"),
            tapes_dir=tapes_dir,
        )
        cart._open_medium()
        return cart

    def _open_medium(self) -> None:
        if self.tapes_dir is None or self.cleaning:
            return
        self.medium = TapeMedium(self.tapes_dir / self.barcode)
        saved = self.tapes_dir / self.barcode / MAM_FILE
        if saved.exists():
            self.mam = Mam.from_state(json.loads(saved.read_text()))

    def save_mam(self) -> None:
        """Persist the cartridge memory next to the tape contents."""
        if self.tapes_dir is None or self.cleaning:
            return
        directory = self.tapes_dir / self.barcode
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / (MAM_FILE + ".tmp")
        tmp.write_text(json.dumps(self.mam.to_state()))
        os.replace(tmp, directory / MAM_FILE)

    def to_state(self) -> dict[str, Any]:
        return {
            "barcode": self.barcode,
            "capacity": self.capacity,
            "write_protected": self.write_protected,
            "cleaning_uses_left": self.cleaning_uses_left,
            "early_warning_bytes": self.early_warning_bytes,
            "mam": self.mam.to_state(),
        }

    @classmethod
    def from_state(cls, raw: dict[str, Any], tapes_dir: Path) -> Cartridge:
        """Rebuild from ``to_state``; ValueError (naming the field) on bad data."""
        try:
            barcode = str(raw["barcode"])
            media_type = media_type_for_barcode(barcode)
            cart = cls(
                barcode=barcode,
                media_type=media_type,
                capacity=int(raw.get("capacity", media_type.native_capacity)),
                write_protected=bool(raw.get("write_protected", False)),
                cleaning_uses_left=raw.get("cleaning_uses_left"),
                early_warning_bytes=int(raw.get("early_warning_bytes", 0)),
                mam=Mam.from_state(raw.get("mam", {})),
                tapes_dir=tapes_dir,
            )
        except KeyError as exc:
            raise ValueError(f"cartridge state lacks field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cartridge state {raw.get('barcode')!r}: {exc}") from None
        cart._open_medium()
        return cart
