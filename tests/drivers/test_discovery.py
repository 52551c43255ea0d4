"""Discovery on fake sysfs/dev trees built by Debian's umockdev, with the real pyudev/libudev.

How umockdev is brought in: this process is not under umockdev's LD_PRELOAD, so each scenario
runs tests/drivers/fixtures/discovery_child.py in a subprocess and reads its JSON.
- Static trees: ``umockdev-run -d FIXTURE.umockdev -- python -m ...discovery_child scan``.
- Hotplug: ``umockdev-wrapper python -m ...discovery_child hotplug ...``; the child drives
  libumockdev through ctypes (umockdev-run cannot send uevents) — see umockdev_testbed.py.
Fixtures are umockdev-record files; fixtures/README.md describes each.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drivers.discovery import (
    DeviceAppeared,
    DeviceDisappeared,
    DiscoveredChanger,
    DiscoveredDevice,
    DiscoveredDrive,
    map_drive_elements,
)
from drivers.discovery.model import CODE_SET_ASCII, DESIGNATOR_NAA, DESIGNATOR_T10_VENDOR_ID
from tests.drivers.fixtures.discovery_child import device_from_json

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
CHILD = "tests.drivers.fixtures.discovery_child"
CHILD_TIMEOUT_S = 30
LIBRARY = "library_two_drives.umockdev"


@pytest.fixture(scope="module", autouse=True)
def _umockdev_installed() -> None:
    missing = [tool for tool in ("umockdev-run", "umockdev-wrapper") if not shutil.which(tool)]
    assert not missing, f"{missing} not found: install Debian's umockdev (.ci/run does)"


def _run_child(prefix: list[str], *args: str) -> Any:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [*prefix, sys.executable, "-m", CHILD, *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def scan_testbed(*fixtures: str) -> list[DiscoveredDevice]:
    devices = [arg for name in fixtures for arg in ("-d", str(FIXTURES / name))]
    return [device_from_json(r) for r in _run_child(["umockdev-run", *devices, "--"], "scan")]


def _nodes(device: DiscoveredDevice) -> set[str]:
    paths = (device.sg_path, getattr(device, "st_path", None), getattr(device, "nst_path", None))
    return {path for path in paths if path}


@pytest.fixture(scope="module")
def library() -> list[DiscoveredDevice]:
    return scan_testbed(LIBRARY)


def test_standalone_drive_has_mode0_nodes_identity_and_serial() -> None:
    (drive,) = scan_testbed("drive_standalone.umockdev")

    assert drive == DiscoveredDrive(
        hctl="3:0:0:0",
        sys_path="/sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0/host3/target3:0:0/3:0:0:0",
        vendor="IBM",
        model="ULT3580-TD6",
        revision="J4D0",
        serial="1013000001",
        sg_path="/dev/sg1",
        nst_path="/dev/nst0",
        st_path="/dev/st0",
        designators=drive.designators,
    )
    t10, naa = drive.designators
    assert (t10.code_set, t10.designator_type) == (CODE_SET_ASCII, DESIGNATOR_T10_VENDOR_ID)
    assert t10.text == "IBM     ULT3580-TD6     1013000001"
    assert (naa.designator_type, naa.text) == (DESIGNATOR_NAA, "5000e11156304003")


def test_library_lists_changer_and_drives_and_ignores_a_disk(
    library: list[DiscoveredDevice],
) -> None:
    changer, first, second = library

    assert isinstance(changer, DiscoveredChanger)
    assert (changer.hctl, changer.sch_path, changer.sg_path) == ("2:0:0:0", "/dev/sch0", "/dev/sg0")
    assert (changer.vendor, changer.model, changer.serial) == ("STK", "SL150", "464970G+1333SY1401")
    assert [(d.hctl, d.nst_path, d.st_path, d.sg_path, d.serial) for d in (first, second)] == [
        ("2:0:1:0", "/dev/nst0", "/dev/st0", "/dev/sg1", "HU1234567B"),
        ("2:0:2:0", "/dev/nst1", "/dev/st1", "/dev/sg2", "HU7654321C"),
    ]


def test_changer_drive_elements_map_to_drive_nodes_by_serial(
    library: list[DiscoveredDevice],
) -> None:
    drives = [d for d in library if isinstance(d, DiscoveredDrive)]
    by_hctl = {d.hctl: d for d in drives}
    identifiers = {
        256: "HP      Ultrium 6-SCSI  HU1234567B",  # T10 vendor ID form of DVCID
        257: "HU7654321C",  # bare serial
        258: "HU0000000X",  # a drive this host cannot see
        259: None,  # empty drive bay
    }

    mapped = map_drive_elements(identifiers, drives)

    assert mapped == {256: by_hctl["2:0:1:0"], 257: by_hctl["2:0:2:0"], 258: None, 259: None}


def test_unplugged_drive_disappears_and_a_new_one_appears_while_watched() -> None:
    report = _run_child(
        ["umockdev-wrapper"],
        "hotplug",
        str(FIXTURES / LIBRARY),
        str(FIXTURES / "drive_hotplug.umockdev"),
        "2:0:2:0",
    )
    kinds = {"DeviceAppeared": DeviceAppeared, "DeviceDisappeared": DeviceDisappeared}
    events = [kinds[e["type"]](device_from_json(e["device"])) for e in report["events"]]

    assert [d["hctl"] for d in report["present"]] == ["2:0:0:0", "2:0:1:0", "2:0:2:0"]
    gone, *appeared, gone_again = events
    assert isinstance(gone, DeviceDisappeared)
    assert (gone.device.hctl, gone.device.serial) == ("2:0:2:0", "HU7654321C")
    # The uevents come for sg4, st2, nst2 in turn; how many nodes sysfs already shows when
    # each is handled depends on timing, so: each report adds nodes, none repeats one.
    assert all(isinstance(e, DeviceAppeared) and e.device.hctl == "5:0:0:0" for e in appeared)
    node_sets = [_nodes(e.device) for e in appeared]
    assert all(a < b for a, b in itertools.pairwise(node_sets))
    assert node_sets[-1] == {"/dev/sg4", "/dev/st2", "/dev/nst2"}
    assert appeared[-1].device.serial == "10WT012345"
    assert gone_again == DeviceDisappeared(appeared[-1].device)
    assert not report["consumer_alive"]
    assert report["stop_s"] < 1.0


def test_drive_without_vpd_pages_has_no_serial() -> None:
    (drive,) = scan_testbed("drive_no_vpd.umockdev")

    assert isinstance(drive, DiscoveredDrive)
    assert (drive.vendor, drive.model, drive.revision) == ("QUANTUM", "DLT-S4", "CD50")
    assert (drive.serial, drive.designators) == (None, ())
    assert (drive.nst_path, drive.sg_path) == ("/dev/nst0", "/dev/sg1")


def test_garbage_vpd_and_vendor_bytes_do_not_crash_sg_only_changer() -> None:
    (changer,) = scan_testbed("changer_garbage_vpd.umockdev")

    assert isinstance(changer, DiscoveredChanger)
    assert (changer.sch_path, changer.sg_path) == (None, "/dev/sg0")
    assert changer.serial is None
    # The truncated second designator is dropped; the first survives.
    assert [d.text for d in changer.designators] == ["ACME"]
    assert changer.vendor == "AC\ufffdE"
    assert map_drive_elements({256: "\xff\x00garbage", 257: ""}, []) == {256: None, 257: None}
