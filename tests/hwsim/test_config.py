"""The library file: what it accepts, and the exact message for what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from hwsim.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    config_from_mapping,
    load_config,
    parse_config,
    parse_size,
)
from hwsim.elements import ElementAddressing

DRIVES = '[[drives]]\nname = "d0"\n'


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "lib.toml")
    return str(err.value)


def test_minimal_library_gets_defaults() -> None:
    config = parse_config("[[drives]]\n", "lib.toml")
    assert (config.slots, config.ie_slots, config.name) == (24, 4, "hwsim")
    assert config.drives[0].name == "drive0" and config.drives[0].model == "LTO-8"
    assert config.drives[0].serial == "HWSL000001D1"
    assert config.addressing == ElementAddressing()
    assert config.cartridges == ()


def test_cartridge_fields_and_sizes() -> None:
    config = parse_config(
        DRIVES
        + '[[cartridges]]\nbarcode = "AAA001L7"\nslot = 2\ncapacity = "64MiB"\n'
        + 'early_warning = "1MiB"\nwrite_protected = true\n'
        + '[[cartridges]]\nbarcode = "WRM001LY"\ndrive = "d0"\n'
        + '[[cartridges]]\nbarcode = "CLN007CU"\nie_slot = 1\ncleaning_uses = 5\n'
        + '[[cartridges]]\nbarcode = "ANY001L9"\n',
        "lib.toml",
    )
    first, worm, cleaning, unplaced = config.cartridges
    assert (first.slot, first.capacity, first.early_warning) == (2, 64 << 20, 1 << 20)
    assert first.write_protected
    assert worm.drive == "d0" and worm.capacity is None
    assert cleaning.ie_slot == 1 and cleaning.cleaning_uses == 5
    assert unplaced.slot == 1  # the first free slot


def test_cartridge_range_expands() -> None:
    config = parse_config(
        DRIVES
        + '[[cartridge_range]]\nprefix = "AB"\nfirst = 9\ncount = 3\nsuffix = "L8"\nslot = 4\n'
        + "capacity = 4096\n",
        "lib.toml",
    )
    assert [(c.barcode, c.slot, c.capacity) for c in config.cartridges] == [
        ("AB0009L8", 4, 4096),
        ("AB0010L8", 5, 4096),
        ("AB0011L8", 6, 4096),
    ]


def test_faults_section_with_seed() -> None:
    config = parse_config(
        DRIVES
        + "[faults]\nseed = 42\n[[faults.rules]]\n"
        + 'kind = "medium_error"\ntarget = "d0"\nat_block = 7\nop = "read"\n',
        "lib.toml",
    )
    assert config.fault_seed == 42
    assert config.faults == ({"kind": "medium_error", "target": "d0", "at_block": 7, "op": "read"},)


def test_faults_as_a_plain_array() -> None:
    config = parse_config(
        DRIVES + '[[faults]]\nkind = "robot_failure"\ntarget = "changer"\nnth = 3\n', "lib.toml"
    )
    assert config.fault_seed == 0 and config.faults[0]["nth"] == 3


def test_a_drive_may_have_a_host_adapter_transfer_limit() -> None:
    config = parse_config(DRIVES + 'max_transfer = "512KiB"\n[[drives]]\nname = "d1"\n', "x")
    assert [d.max_transfer for d in config.drives] == [512 * 1024, None]
    assert config_from_mapping(config.to_dict(), config.source) == config
    assert error_of(DRIVES + "max_transfer = 100\n") == (
        "lib.toml: drives[1]: max_transfer must be at least 512 bytes"
    )
    assert error_of(DRIVES + 'max_transfer = "lots"\n').startswith(
        "lib.toml: drives[1]: max_transfer: 'lots' is not a size"
    )


def test_to_dict_round_trips_through_toml() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    again = parse_config(tomli_w.dumps(config.to_dict()), str(DEFAULT_CONFIG_PATH))
    assert again == config
    assert config_from_mapping(config.to_dict(), config.source) == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[library]\nslots = 24\n" + DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\n'
            '[[cartridges]]\nbarcode = "A00002L8"\n[[cartridges]]\nbarcode = "A00003L8"\n'
            "slot = 30\n",
            "lib.toml: cartridges[3]: slot 30 is out of range 1..24",
        ),
        (
            "[library]\nslots = 4\n" + DRIVES,
            None,
        ),
        (
            DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\nslot = 2\n'
            '[[cartridges]]\nbarcode = "A00002L8"\nslot = 2\n',
            "lib.toml: cartridges[2]: slot 2 already holds A00001L8",
        ),
        (
            DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\n[[cartridges]]\nbarcode = "A00001L8"\n',
            "lib.toml: cartridges[2]: barcode A00001L8 is used twice (also in cartridges[1])",
        ),
        (
            DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\n'
            '[[cartridge_range]]\nprefix = "A"\nfirst = 1\ncount = 2\nsuffix = "L8"\n',
            "lib.toml: cartridge_range[1]: barcode A00001L8 is used twice (also in cartridges[1])",
        ),
        (
            DRIVES + '[[cartridges]]\nbarcode = "A00001QQ"\n',
            "lib.toml: cartridges[1]: barcode 'A00001QQ': unknown media type suffix 'QQ'; "
            "expected L5..L9 (data), LV..LZ (WORM), M8, L3/L4, or a label starting with CLN "
            "(cleaning)",
        ),
        (
            '[[drives]]\nmodel = "LTO-2"\n',
            "lib.toml: drives[1]: unknown drive model 'LTO-2'; known: LTO-5, LTO-6, LTO-7, "
            "LTO-8, LTO-9",
        ),
        (
            DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\ncolour = "red"\n',
            "lib.toml: cartridges[1]: unknown key 'colour'; known keys: barcode, capacity, "
            "cleaning_uses, drive, early_warning, ie_slot, slot, write_protected",
        ),
        (
            "[library]\nslots = 4\nshelves = 2\n" + DRIVES,
            "lib.toml: library: unknown key 'shelves'; known keys: drive_address, ie_address, "
            "ie_slots, name, product, revision, serial, slot_address, slots, "
            "transport_address, vendor",
        ),
        (
            DRIVES + "[robot]\n",
            "lib.toml: unknown section 'robot'; known: cartridge_range, cartridges, drives, "
            "faults, library",
        ),
        (
            '[library]\nslots = "many"\n' + DRIVES,
            "lib.toml: library: slots must be a whole number, not 'many'",
        ),
        ("[library]\nslots = 0\n" + DRIVES, "lib.toml: library: slots must be 1..10000, not 0"),
        ("[library]\n", "lib.toml: a library needs at least one [[drives]] entry"),
        (
            DRIVES + '[[drives]]\nname = "d0"\n',
            "lib.toml: drives[2]: drive name 'd0' is used twice",
        ),
        (
            '[[drives]]\nserial = "S1"\n[[drives]]\nserial = "S1"\n',
            "lib.toml: drives[2]: serial 'S1' is also drive drive0's",
        ),
        (
            '[[drives]]\nname = "changer"\n',
            "lib.toml: drives[1]: name 'changer' must be 1..32 of A-Z a-z 0-9 _ . - and not "
            "'changer'",
        ),
        (
            DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\ndrive = "d9"\n',
            "lib.toml: cartridges[1]: drive 'd9' is not defined; drives: d0",
        ),
        (
            DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\ndrive = "d0"\n'
            '[[cartridges]]\nbarcode = "A00002L8"\ndrive = "d0"\n',
            "lib.toml: cartridges[2]: drive d0 already holds A00001L8",
        ),
        (
            "[library]\nie_slots = 0\n" + DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\n'
            "ie_slot = 1\n",
            "lib.toml: cartridges[1]: ie_slot 1 is out of range empty (the library has none)",
        ),
        (
            DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\nslot = 1\nie_slot = 1\n',
            "lib.toml: cartridges[1]: A00001L8: give only one of slot, ie_slot, drive",
        ),
        (
            DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\ncapacity = "64 parsecs"\n',
            "lib.toml: cartridges[1]: capacity: '64 parsecs' is not a size (write e.g. 64MiB, "
            "12TB or 1048576)",
        ),
        (
            DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\ncleaning_uses = 3\n',
            "lib.toml: cartridges[1]: A00001L8: cleaning_uses is only for CLN cartridges",
        ),
        (
            DRIVES + '[[cartridges]]\nbarcode = "A00001L8"\ncapacity = "1MiB"\n'
            'early_warning = "2MiB"\n',
            "lib.toml: cartridges[1]: A00001L8: early_warning is larger than the capacity",
        ),
        (
            "[library]\nslots = 2\n" + DRIVES + '[[cartridge_range]]\nprefix = "A"\nfirst = 1\n'
            'count = 3\nsuffix = "L8"\n',
            "lib.toml: cartridge_range[1]: no free slot left for A00003L8",
        ),
        (
            DRIVES + '[[cartridge_range]]\nprefix = "ABCDE"\nfirst = 8\ncount = 3\nsuffix = "L8"\n',
            "lib.toml: cartridge_range[1]: number 10 does not fit in 1 digits",
        ),
        (
            DRIVES + '[[cartridge_range]]\nprefix = "A"\ncount = 3\nsuffix = "L8"\n',
            "lib.toml: cartridge_range[1]: first is required",
        ),
        (
            "[library]\nie_address = 0x1000\n" + DRIVES,
            "lib.toml: library: ie addresses overlap slot addresses 4096..4119",
        ),
        (
            DRIVES + '[[faults]]\nkind = "meteor"\ntarget = "d0"\nnth = 1\n',
            "lib.toml: faults.rules[1]: unknown fault kind 'meteor'; known kinds: "
            "cleaning_required, drive_offline, hardware_error, medium_error, not_ready, "
            "power_loss, robot_failure, stuck_cartridge",
        ),
        (
            DRIVES + '[[faults]]\nkind = "power_loss"\ntarget = "d1"\nat_block = 5\n',
            "lib.toml: faults.rules[1]: target 'd1' is not the changer, a drive or a cartridge "
            "here",
        ),
        (
            DRIVES + "[faults]\nseed = 1\npepper = 2\n",
            "lib.toml: faults: unknown key 'pepper'; known keys: rules, seed",
        ),
        (
            '[library]\nvendor = "MUCH TOO LONG"\n' + DRIVES,
            "lib.toml: library: vendor must be printable ASCII of at most 8",
        ),
    ],
)
def test_bad_configuration_messages(text: str, message: str | None) -> None:
    if message is None:
        parse_config(text, "lib.toml")
        return
    assert error_of(text) == message


def test_toml_syntax_error_names_the_line() -> None:
    message = error_of("[library]\nslots = 24\nname = \n")
    assert message.startswith("lib.toml: TOML syntax error: ")
    assert "line 3" in message


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.toml")
    assert str(err.value) == f"{tmp_path / 'nope.toml'}: no such file"


def test_load_config_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "lib.toml"
    path.write_text("[[drives]]\nmodel = 8\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: drives[1]: model must be a string, not 8"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4096", 4096),
        ("64MiB", 64 << 20),
        ("64 MiB", 64 << 20),
        ("2KiB", 2048),
        ("2KB", 2000),
        ("1.5GB", 1_500_000_000),
        ("12TB", 12 * 10**12),
        ("1TiB", 1 << 40),
        ("10B", 10),
        ("3k", 3000),
    ],
)
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("bad", ["", "MiB", "-1", "12 PB", "1e9", "one"])
def test_parse_size_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(bad)
