"""The library file: a TOML description of a simulated library, validated in full.

Every problem becomes one ``ConfigError`` whose text names the file, the place and the
problem ("lib.toml: cartridges[3]: slot 30 is out of range 1..24"), never a traceback.
Array entries are counted from 1, as an operator reads the file. The schema is documented
in docs/hwsim-library.md; ``LibraryConfig.to_dict`` writes the same schema back (with
cartridge ranges expanded), which is how a state directory keeps its copy.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from hwsim.cartridge import media_type_for_barcode
from hwsim.elements import ElementAddressing, ElementType
from hwsim.faults import Fault, FaultSpecError
from hwsim.models import model_by_name

DEFAULT_CONFIG_PATH: Path = Path(str(resources.files("hwsim").joinpath("default_library.toml")))

CHANGER_NAME = "changer"
MAX_SLOTS = 10_000
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}
_LIBRARY_KEYS = {
    "name": str,
    "vendor": str,
    "product": str,
    "revision": str,
    "serial": str,
    "slots": int,
    "ie_slots": int,
    "transport_address": int,
    "ie_address": int,
    "drive_address": int,
    "slot_address": int,
}
_DRIVE_KEYS = {"name": str, "model": str, "serial": str, "max_transfer": (int, str)}
_CARTRIDGE_COMMON = {
    "capacity": (int, str),
    "write_protected": bool,
    "cleaning_uses": int,
    "early_warning": (int, str),
}
_CARTRIDGE_KEYS = {"barcode": str, "slot": int, "ie_slot": int, "drive": str, **_CARTRIDGE_COMMON}
_RANGE_KEYS = {
    "prefix": str,
    "first": int,
    "count": int,
    "suffix": str,
    "digits": int,
    "slot": int,
    **_CARTRIDGE_COMMON,
}
_FAULTS_KEYS = {"seed": int, "rules": list}
_TOP_KEYS = {"library", "drives", "cartridges", "cartridge_range", "faults"}
_IDENT_LIMITS = {"vendor": 8, "product": 16, "revision": 4}
_DEFAULT_BARCODE_LEN = 6  # volume serial length of an LTO label, before the media suffix


class ConfigError(Exception):
    """A library file that cannot be used; ``str()`` is the whole message for the user."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        super().__init__(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")
        self.source = source
        self.where = where
        self.problem = problem


@dataclass(frozen=True, slots=True)
class DriveConfig:
    name: str
    model: str
    serial: str
    max_transfer: int | None = None
    """Bytes one command may move through the (simulated) host adapter; None: no limit."""


@dataclass(frozen=True, slots=True)
class CartridgeConfig:
    """One cartridge and where it starts: exactly one of slot / ie_slot / drive is set."""

    barcode: str
    slot: int | None = None
    ie_slot: int | None = None
    drive: str | None = None
    capacity: int | None = None
    write_protected: bool = False
    cleaning_uses: int | None = None
    early_warning: int | None = None


@dataclass(frozen=True)
class LibraryConfig:
    name: str = "hwsim"
    vendor: str = "TAPIR"
    product: str = "HWSIM LIBRARY"
    revision: str = "0100"
    serial: str = "HWSL000001"
    slots: int = 24
    ie_slots: int = 4
    addressing: ElementAddressing = field(default_factory=ElementAddressing)
    drives: tuple[DriveConfig, ...] = ()
    cartridges: tuple[CartridgeConfig, ...] = ()
    fault_seed: int = 0
    faults: tuple[dict[str, Any], ...] = ()
    source: str = "<config>"

    def to_dict(self) -> dict[str, Any]:
        """The TOML schema as a plain dict (ranges expanded); ``config_from_mapping``
        reads it back."""
        library = {
            "name": self.name,
            "vendor": self.vendor,
            "product": self.product,
            "revision": self.revision,
            "serial": self.serial,
            "slots": self.slots,
            "ie_slots": self.ie_slots,
            "transport_address": self.addressing.transport,
            "ie_address": self.addressing.import_export,
            "drive_address": self.addressing.data_transfer,
            "slot_address": self.addressing.storage,
        }
        return {
            "library": library,
            "drives": [
                {"name": d.name, "model": d.model, "serial": d.serial}
                | ({"max_transfer": d.max_transfer} if d.max_transfer is not None else {})
                for d in self.drives
            ],
            "cartridges": [
                {k: v for k, v in _cartridge_dict(c).items() if v is not None}
                for c in self.cartridges
            ],
            "faults": {"seed": self.fault_seed, "rules": [dict(r) for r in self.faults]},
        }


def _cartridge_dict(c: CartridgeConfig) -> dict[str, Any]:
    return {
        "barcode": c.barcode,
        "slot": c.slot,
        "ie_slot": c.ie_slot,
        "drive": c.drive,
        "capacity": c.capacity,
        "write_protected": c.write_protected,
        "cleaning_uses": c.cleaning_uses,
        "early_warning": c.early_warning,
    }


def parse_size(value: int | str) -> int:
    """Bytes from an int or a size string: "64MiB", "12TB", "1.5GB", "4096"; ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is not a size (negative)")
        return value
    match = _SIZE_RE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a size (write e.g. 64MiB, 12TB or 1048576)")
    number, unit = match.group(1), (match.group(2) or "").upper()
    binary = "I" in unit
    letter = unit[:1] if unit not in ("", "B") else unit
    factor = 1024 ** "BKMGT".index(letter) if binary else _UNITS[letter]
    return int(float(number) * factor)


def load_config(path: Path) -> LibraryConfig:
    """Read and validate a library file; ConfigError naming ``path`` on any problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot read: {exc}") from None
    return parse_config(text, source)


def parse_config(text: str, source: str) -> LibraryConfig:
    """Validate TOML text; ``source`` names it in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"TOML syntax error: {exc}") from None
    return config_from_mapping(raw, source)


def config_from_mapping(raw: Mapping[str, Any], source: str) -> LibraryConfig:
    """Validate an already parsed library description (TOML or the state's JSON copy)."""
    return _Validator(source).run(raw)


class _Validator:
    """One pass over a parsed library file, collecting the first problem as ConfigError."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> ConfigError:
        return ConfigError(self.source, where, problem)

    def table(self, raw: Any, where: str, keys: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise self.fail(where, "must be a table")
        unknown = sorted(set(raw) - set(keys))
        if unknown:
            raise self.fail(
                where, f"unknown key {unknown[0]!r}; known keys: {', '.join(sorted(keys))}"
            )
        for key, value in raw.items():
            expected = keys[key]
            kinds = expected if isinstance(expected, tuple) else (expected,)
            if isinstance(value, bool) and bool not in kinds:
                ok = False
            else:
                ok = isinstance(value, kinds)
            if not ok:
                names = " or ".join(_type_name(k) for k in kinds)
                raise self.fail(where, f"{key} must be {names}, not {value!r}")
        return dict(raw)

    def array(self, raw: Any, where: str) -> list[Any]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.fail(where, "must be an array of tables ([[" + where + "]])")
        return raw

    def run(self, raw: Mapping[str, Any]) -> LibraryConfig:
        unknown = sorted(set(raw) - _TOP_KEYS)
        if unknown:
            raise self.fail(
                "", f"unknown section {unknown[0]!r}; known: {', '.join(sorted(_TOP_KEYS))}"
            )
        lib = self.table(raw.get("library", {}), "library", _LIBRARY_KEYS)
        base = LibraryConfig()
        values: dict[str, Any] = {
            k: lib.get(k, getattr(base, k))
            for k in ("name", "vendor", "product", "revision", "serial", "slots", "ie_slots")
        }
        self.check_identity(values)
        if not 1 <= values["slots"] <= MAX_SLOTS:
            raise self.fail("library", f"slots must be 1..{MAX_SLOTS}, not {values['slots']}")
        if not 0 <= values["ie_slots"] <= MAX_SLOTS:
            raise self.fail("library", f"ie_slots must be 0..{MAX_SLOTS}")
        defaults = ElementAddressing()
        addressing = ElementAddressing(
            transport=lib.get("transport_address", defaults.transport),
            import_export=lib.get("ie_address", defaults.import_export),
            data_transfer=lib.get("drive_address", defaults.data_transfer),
            storage=lib.get("slot_address", defaults.storage),
        )
        drives = self.drives(raw.get("drives"), values["serial"])
        clash = addressing.overlap(
            {
                ElementType.TRANSPORT: 1,
                ElementType.STORAGE: values["slots"],
                ElementType.IMPORT_EXPORT: values["ie_slots"],
                ElementType.DATA_TRANSFER: len(drives),
            }
        )
        if clash:
            raise self.fail("library", clash)
        cartridges = _Placement(self, values["slots"], values["ie_slots"], drives).run(
            self.array(raw.get("cartridges"), "cartridges"),
            self.array(raw.get("cartridge_range"), "cartridge_range"),
        )
        seed, rules = self.faults(raw.get("faults"), drives, cartridges)
        return LibraryConfig(
            **values,
            addressing=addressing,
            drives=drives,
            cartridges=cartridges,
            fault_seed=seed,
            faults=rules,
            source=self.source,
        )

    def check_identity(self, values: Mapping[str, Any]) -> None:
        if not values["name"].strip():
            raise self.fail("library", "name must not be empty")
        for key, limit in _IDENT_LIMITS.items():
            text = values[key]
            if not text.isascii() or not text.isprintable() or len(text) > limit:
                raise self.fail("library", f"{key} must be printable ASCII of at most {limit}")
        serial = values["serial"]
        if not serial or not serial.isascii() or not serial.isprintable() or " " in serial:
            raise self.fail("library", "serial must be printable ASCII without spaces")

    def drives(self, raw: Any, library_serial: str) -> tuple[DriveConfig, ...]:
        entries = self.array(raw, "drives")
        if not entries:
            raise self.fail("", "a library needs at least one [[drives]] entry")
        drives: list[DriveConfig] = []
        for i, entry in enumerate(entries, 1):
            where = f"drives[{i}]"
            d = self.table(entry, where, _DRIVE_KEYS)
            name = d.get("name", f"drive{i - 1}")
            if not _NAME_RE.match(name) or name == CHANGER_NAME:
                raise self.fail(
                    where, f"name {name!r} must be 1..32 of A-Z a-z 0-9 _ . - and not 'changer'"
                )
            try:
                model_by_name(d.get("model", "LTO-8"))
            except ValueError as exc:
                raise self.fail(where, str(exc)) from None
            serial = d.get("serial", f"{library_serial}D{i}")
            if not serial.isascii() or not serial.isprintable() or " " in serial or not serial:
                raise self.fail(where, "serial must be printable ASCII without spaces")
            for other in drives:
                if other.name == name:
                    raise self.fail(where, f"drive name {name!r} is used twice")
                if other.serial == serial:
                    raise self.fail(where, f"serial {serial!r} is also drive {other.name}'s")
            limit = None
            if "max_transfer" in d:
                try:
                    limit = parse_size(d["max_transfer"])
                except ValueError as exc:
                    raise self.fail(where, f"max_transfer: {exc}") from None
                if limit < 512:
                    raise self.fail(where, "max_transfer must be at least 512 bytes")
            drives.append(DriveConfig(name, d.get("model", "LTO-8"), serial, limit))
        return tuple(drives)

    def faults(
        self, raw: Any, drives: tuple[DriveConfig, ...], cartridges: tuple[CartridgeConfig, ...]
    ) -> tuple[int, tuple[dict[str, Any], ...]]:
        if raw is None:
            return 0, ()
        if isinstance(raw, list):  # [[faults]] without a seed
            raw = {"rules": raw}
        f = self.table(raw, "faults", _FAULTS_KEYS)
        targets = {CHANGER_NAME} | {d.name for d in drives} | {c.barcode for c in cartridges}
        rules = []
        for i, entry in enumerate(f.get("rules", []), 1):
            where = f"faults.rules[{i}]"
            if not isinstance(entry, Mapping):
                raise self.fail(where, "must be a table")
            try:
                fault = Fault.from_dict(entry)
            except FaultSpecError as exc:
                raise self.fail(where, str(exc)) from None
            if fault.target not in targets:
                raise self.fail(
                    where,
                    f"target {fault.target!r} is not the changer, a drive or a cartridge here",
                )
            rules.append(dict(entry))
        return f.get("seed", 0), tuple(rules)


class _Placement:
    """Checks cartridges and ranges and puts each in exactly one free place."""

    def __init__(
        self, v: _Validator, slots: int, ie_slots: int, drives: tuple[DriveConfig, ...]
    ) -> None:
        self.v = v
        self.slots = slots
        self.ie_slots = ie_slots
        self.drive_names = [d.name for d in drives]
        self.taken: dict[tuple[str, Any], str] = {}
        self.barcodes: dict[str, str] = {}

    def run(self, cartridges: list[Any], ranges: list[Any]) -> tuple[CartridgeConfig, ...]:
        placed: list[CartridgeConfig] = []
        unplaced: list[tuple[str, dict[str, Any]]] = []
        for i, entry in enumerate(cartridges, 1):
            where = f"cartridges[{i}]"
            c = self.v.table(entry, where, _CARTRIDGE_KEYS)
            if "barcode" not in c:
                raise self.v.fail(where, "barcode is required")
            self.collect(where, c, placed, unplaced)
        for i, entry in enumerate(ranges, 1):
            where = f"cartridge_range[{i}]"
            r = self.v.table(entry, where, _RANGE_KEYS)
            for c in self.expand(where, r):
                self.collect(where, c, placed, unplaced)
        for where, c in unplaced:
            free = next((s for s in range(1, self.slots + 1) if ("slot", s) not in self.taken), 0)
            if not free:
                raise self.v.fail(where, f"no free slot left for {c['barcode']}")
            c["slot"] = free
            placed.append(self.build(where, c))
        return tuple(placed)

    def collect(
        self,
        where: str,
        c: dict[str, Any],
        placed: list[CartridgeConfig],
        unplaced: list[tuple[str, dict[str, Any]]],
    ) -> None:
        barcode = c["barcode"]
        if barcode in self.barcodes:
            raise self.v.fail(
                where, f"barcode {barcode} is used twice (also in {self.barcodes[barcode]})"
            )
        self.barcodes[barcode] = where
        if any(k in c for k in ("slot", "ie_slot", "drive")):
            placed.append(self.build(where, c))
        else:
            unplaced.append((where, c))

    def expand(self, where: str, r: dict[str, Any]) -> list[dict[str, Any]]:
        for key in ("prefix", "first", "count", "suffix"):
            if key not in r:
                raise self.v.fail(where, f"{key} is required")
        if r["count"] < 1 or r["first"] < 0:
            raise self.v.fail(where, "count must be >= 1 and first >= 0")
        digits = r.get("digits", max(1, _DEFAULT_BARCODE_LEN - len(r["prefix"])))
        last = r["first"] + r["count"] - 1
        if len(str(last)) > digits:
            raise self.v.fail(where, f"number {last} does not fit in {digits} digits")
        common = {k: r[k] for k in _CARTRIDGE_COMMON if k in r}
        out = []
        for n in range(r["count"]):
            c = {"barcode": f"{r['prefix']}{r['first'] + n:0{digits}d}{r['suffix']}", **common}
            if "slot" in r:
                c["slot"] = r["slot"] + n
            out.append(c)
        return out

    def build(self, where: str, c: dict[str, Any]) -> CartridgeConfig:
        barcode = c["barcode"]
        try:
            media = media_type_for_barcode(barcode)
        except ValueError as exc:
            raise self.v.fail(where, str(exc)) from None
        places = [k for k in ("slot", "ie_slot", "drive") if k in c]
        if len(places) > 1:
            raise self.v.fail(where, f"{barcode}: give only one of slot, ie_slot, drive")
        place = places[0]
        value = c[place]
        if place == "slot" and not 1 <= value <= self.slots:
            raise self.v.fail(where, f"slot {value} is out of range 1..{self.slots}")
        if place == "ie_slot" and not 1 <= value <= self.ie_slots:
            limit = f"1..{self.ie_slots}" if self.ie_slots else "empty (the library has none)"
            raise self.v.fail(where, f"ie_slot {value} is out of range {limit}")
        if place == "drive" and value not in self.drive_names:
            raise self.v.fail(
                where, f"drive {value!r} is not defined; drives: {', '.join(self.drive_names)}"
            )
        label = {"slot": "slot", "ie_slot": "ie_slot", "drive": "drive"}[place]
        if (place, value) in self.taken:
            raise self.v.fail(where, f"{label} {value} already holds {self.taken[(place, value)]}")
        self.taken[(place, value)] = barcode
        if c.get("cleaning_uses") is not None and not media.cleaning:
            raise self.v.fail(where, f"{barcode}: cleaning_uses is only for CLN cartridges")
        if c.get("cleaning_uses") is not None and c["cleaning_uses"] < 0:
            raise self.v.fail(where, f"{barcode}: cleaning_uses must be >= 0")
        sizes = {}
        for key in ("capacity", "early_warning"):
            if key in c:
                try:
                    sizes[key] = parse_size(c[key])
                except ValueError as exc:
                    raise self.v.fail(where, f"{key}: {exc}") from None
        capacity = sizes.get("capacity", media.native_capacity)
        if not media.cleaning and capacity <= 0:
            raise self.v.fail(where, f"{barcode}: capacity must be > 0")
        if sizes.get("early_warning", 0) > capacity:
            raise self.v.fail(where, f"{barcode}: early_warning is larger than the capacity")
        return CartridgeConfig(
            barcode=barcode,
            slot=c.get("slot"),
            ie_slot=c.get("ie_slot"),
            drive=c.get("drive"),
            capacity=sizes.get("capacity"),
            write_protected=c.get("write_protected", False),
            cleaning_uses=c.get("cleaning_uses"),
            early_warning=sizes.get("early_warning"),
        )


def _type_name(kind: type) -> str:
    return {
        int: "a whole number",
        str: "a string",
        bool: "true or false",
        list: "an array",
    }.get(kind, kind.__name__)
