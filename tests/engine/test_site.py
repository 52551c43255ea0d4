"""The site configuration (engine/site_config.py) and opening it (engine/site.py), in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.site import Site
from engine.site_config import (
    BUILTIN_SOURCE,
    CONFIG_ENV,
    DEFAULT_LIBRARY_NAME,
    SiteConfigError,
    SiteError,
    load_site_config,
    parse_site_config,
)
from hwsim.disk import DiskFault, DiskSpec

FULL = """
catalog = "sqlite:////tmp/x.sqlite"
default_pool = "weekly"

[[libraries]]
name = "big"
changer = "/dev/sg5"
drives = { a = "/dev/sg6", b = "hwsim:/srv/sim#drive1" }
pool = "offsite"

[[libraries]]
name = "sim"
hwsim = "state"
hwsim_config = "lib.toml"

[[drives]]
name = "lto9"
endpoint = "/dev/sg3"

[[mount_paths]]
path = "disk1"
reserve = "10GiB"
pool = "disk"
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(CONFIG_ENV, raising=False)


def parse(text: str) -> object:
    return parse_site_config(text, "site.toml", base=Path("/etc/tapir"))


def error(text: str) -> str:
    with pytest.raises(SiteConfigError) as caught:
        parse(text)
    return str(caught.value)


def test_full_file_parses_with_relative_paths_from_its_directory() -> None:
    config = parse_site_config(FULL, "site.toml", base=Path("/etc/tapir"))
    big, sim = config.libraries
    assert (big.changer, big.drives, big.pool) == (
        "/dev/sg5",
        (("a", "/dev/sg6"), ("b", "hwsim:/srv/sim#drive1")),
        "offsite",
    )
    assert (sim.state_dir, sim.hwsim_config, sim.create) == (
        Path("/etc/tapir/state"),
        Path("/etc/tapir/lib.toml"),
        True,
    )
    assert [(d.name, d.endpoint) for d in config.drives] == [("lto9", "/dev/sg3")]
    (mount,) = config.mount_paths
    assert (mount.path, mount.reserve_bytes, mount.pool) == (
        Path("/etc/tapir/disk1"),
        10 * 1024**3,
        "disk",
    )
    assert config.catalog == "sqlite:////tmp/x.sqlite"
    assert (config.pool_for(big), config.pool_for(sim)) == ("offsite", "weekly")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[libraries]\n", "site.toml: TOML syntax error: "),
        ("colour = 1\n", "site.toml: unknown key 'colour'; known keys: catalog, default_pool,"),
        ("libraries = 3\n", "site.toml: libraries must be an array, not 3"),
        ('[[libraries]]\nname = "a"\n', "site.toml: libraries[1]: needs changer (an endpoint)"),
        (
            '[[libraries]]\nname = "a"\nhwsim = "s"\nchanger = "/dev/sg1"\n',
            "site.toml: libraries[1]: give either hwsim (a simulated library) or changer",
        ),
        (
            '[[libraries]]\nname = "a b"\nhwsim = "s"\n',
            "site.toml: libraries[1]: name 'a b' must be 1..32 of A-Z a-z 0-9 _ . -",
        ),
        (
            '[[libraries]]\nname = "a"\nchanger = "tape0"\ndrives = { d = "/dev/sg1" }\n',
            "site.toml: libraries[1]: 'tape0' is not an endpoint; use /dev/sgN or hwsim:",
        ),
        (
            '[[libraries]]\nname = "a"\nchanger = "/dev/sg0"\ndrives = { d = "hwsim:/x" }\n',
            "site.toml: libraries[1].drives.d: endpoint 'hwsim:/x' must look like hwsim:",
        ),
        (
            '[[libraries]]\nname = "a"\nchanger = "/dev/sg0"\n',
            "site.toml: libraries[1]: drives must name at least one drive",
        ),
        (
            '[[libraries]]\nname = "a"\nhwsim = "s"\n[[libraries]]\nname = "a"\nhwsim = "t"\n',
            "site.toml: libraries[2]: library name 'a' is used twice",
        ),
        ('[[drives]]\nname = "x"\n', "site.toml: drives[1]: endpoint is required"),
        (
            '[[mount_paths]]\npath = "/d"\nreserve = "lots"\n',
            "site.toml: mount_paths[1]: reserve: 'lots' is not a size",
        ),
        (
            '[[mount_paths]]\npath = "/d"\nreserve = true\n',
            "site.toml: mount_paths[1]: reserve must be an integer or a string, not True",
        ),
        ('default_pool = "a/b"\n', "site.toml: default_pool: pool 'a/b' must be 1..64 of"),
        (
            '[[mount_paths]]\npath = "/d"\nhwsim = { capacity = "big" }\n',
            "site.toml: mount_paths[1].hwsim: 'big' is not a size",
        ),
        (
            '[[mount_paths]]\npath = "/d"\nhwsim = { faults = [{ kind = "melt", at_byte = 1 }] }\n',
            "site.toml: mount_paths[1].hwsim: kind must be one of ['full', 'gone']",
        ),
    ],
)
def test_problems_name_file_place_and_problem(text: str, message: str) -> None:
    assert error(text).startswith(message)


def test_without_a_file_lib1_is_the_default_simulated_library(tmp_path: Path) -> None:
    config = load_site_config()
    (lib,) = config.libraries
    assert (lib.name, lib.create, config.source) == (DEFAULT_LIBRARY_NAME, True, BUILTIN_SOURCE)
    assert lib.state_dir == tmp_path / "home" / "hwsim" / "default"


def test_config_file_is_found_in_xdg_config_home_and_tapir_config_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "xdg" / "tapir" / "tapir.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[[libraries]]\nname = "mine"\nhwsim = "sim"\n')
    (lib,) = load_site_config().libraries
    assert (lib.name, lib.state_dir, lib.create) == ("mine", path.parent / "sim", False)
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(SiteConfigError, match=r"missing\.toml: no such file"):
        load_site_config()


def test_site_opens_the_default_library_in_process_and_resolves_drive_names() -> None:
    with Site(load_site_config()) as site:
        ends = site.endpoints(None)
        assert (ends.mode, sorted(ends.drives)) == ("in-process", ["drive0", "drive1"])
        assert site.resolve_drive("drive1")[0] == "lib1:drive1"
        assert site.resolve_drive("lib1:drive0")[1] is ends.drives["drive0"]
        with pytest.raises(SiteError, match="Library lib1 has no drive 'drive9'"):
            site.resolve_drive("lib1:drive9")
        with pytest.raises(SiteError, match=r"No drive 'x' in <built-in.*lib1:drive0, lib1:drive1"):
            site.resolve_drive("x")
        with pytest.raises(SiteError, match=r"No library 'nope' in <built-in default"):
            site.library("nope")
    # closed: the state directory lock is released, so it opens again
    with Site(load_site_config()) as site:
        assert site.endpoints("lib1").mode == "in-process"


def test_a_configured_simulated_library_that_does_not_exist_is_a_clear_error(
    tmp_path: Path,
) -> None:
    config = parse_site_config(
        '[[libraries]]\nname = "gone"\nhwsim = "nothing-here"\n', "site.toml", base=tmp_path
    )
    with Site(config) as site, pytest.raises(Exception, match="no simulated library here"):
        site.endpoints("gone")


def test_a_mount_path_on_a_simulated_disk() -> None:
    config = parse(
        '[[mount_paths]]\npath = "/d"\nreserve = "0"\n'
        'hwsim = { capacity = "1MiB", faults = [{ kind = "full", at_byte = 10 }] }\n'
    )
    (mount,) = config.mount_paths  # type: ignore[attr-defined]
    assert mount.sim == DiskSpec(1024**2, (DiskFault("full", 10),))
