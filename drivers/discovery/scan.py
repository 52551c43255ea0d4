"""Enumeration of SCSI tape drives and medium changers through udev (pyudev).

Algorithm: list the kernel devices of the ``scsi_tape``, ``scsi_changer`` and ``scsi_generic``
subsystems; group them by their parent ``scsi_device`` (one per SCSI address); keep the
groups whose peripheral device type is tape (01h) or changer (08h); read identity from the
``scsi_device``'s sysfs attributes (vendor, model, rev, vpd_pg80, vpd_pg83).

Attributes are read straight from sysfs as bytes, not through libudev: the VPD pages are binary
and libudev's string attributes stop at their first NUL byte.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable

import pyudev

from drivers.discovery import vpd
from drivers.discovery.model import (
    DiscoveredChanger,
    DiscoveredDevice,
    DiscoveredDrive,
    Discovery,
)
from hwsim.opcodes import PeripheralType

SCSI_TAPE = "scsi_tape"
SCSI_CHANGER = "scsi_changer"
SCSI_GENERIC = "scsi_generic"
WATCHED_SUBSYSTEMS = (SCSI_TAPE, SCSI_CHANGER, SCSI_GENERIC)
SCSI_BUS = "scsi"
SCSI_DEVICE_TYPE = "scsi_device"

# st(4): stN/nstN are mode 0; the l, m and a suffixes are modes 1-3, which tapir does not use.
_TAPE_NODE = re.compile(r"(?P<no_rewind>n?)st\d+")
_CHANGER_NODE = re.compile(r"sch\d+")
_GENERIC_NODE = re.compile(r"sg\d+")


def read_attribute(sys_path: str, name: str) -> bytes | None:
    """One sysfs attribute as raw bytes, or ``None`` if it is missing or unreadable."""
    try:
        with open(os.path.join(sys_path, name), "rb") as attribute:
            return attribute.read()
    except OSError:
        return None


def _text_attribute(sys_path: str, name: str) -> str:
    """A text attribute (vendor, model, rev): INQUIRY fields, space padded, newline ended."""
    raw = read_attribute(sys_path, name) or b""
    text = raw.decode("ascii", "replace").strip()
    return "".join(char if char.isprintable() else "?" for char in text)


def peripheral_type(scsi_device: pyudev.Device) -> int | None:
    """The ``type`` attribute: the INQUIRY peripheral device type (SPC-4 table 141)."""
    raw = read_attribute(scsi_device.sys_path, "type")
    try:
        return int(raw.strip()) if raw is not None else None
    except ValueError:
        return None


def scsi_device_of(node: pyudev.Device) -> pyudev.Device | None:
    """The ``scsi_device`` a class device (nstN, schN, sgN) belongs to, if sysfs still has it."""
    return node.find_parent(SCSI_BUS, SCSI_DEVICE_TYPE)


def hctl_sort_key(hctl: str) -> tuple[int, ...]:
    """Numeric order of "host:channel:target:lun" names (so 10:0:0:0 sorts after 2:0:0:0)."""
    try:
        return tuple(int(part) for part in hctl.split(":"))
    except ValueError:
        return ()


def _node_path(nodes: Iterable[pyudev.Device], pattern: re.Pattern[str]) -> str | None:
    for node in nodes:
        if pattern.fullmatch(node.sys_name) and node.device_node:
            return str(node.device_node)
    return None


def _tape_nodes(nodes: Iterable[pyudev.Device]) -> tuple[str | None, str | None]:
    """(nst_path, st_path) among a drive's scsi_tape nodes."""
    nst_path = st_path = None
    for node in nodes:
        match = _TAPE_NODE.fullmatch(node.sys_name)
        if match is None or not node.device_node:
            continue
        if match["no_rewind"]:
            nst_path = str(node.device_node)
        else:
            st_path = str(node.device_node)
    return nst_path, st_path


def describe(scsi_device: pyudev.Device, nodes: Iterable[pyudev.Device]) -> DiscoveredDevice | None:
    """The record for one ``scsi_device`` and its class devices, or ``None`` if it is neither
    a tape drive nor a changer (a disk's sg node, say)."""
    nodes = list(nodes)
    by_subsystem: dict[str, list[pyudev.Device]] = defaultdict(list)
    for node in nodes:
        by_subsystem[node.subsystem].append(node)
    sys_path = scsi_device.sys_path
    identity = {
        "hctl": scsi_device.sys_name,
        "sys_path": sys_path,
        "vendor": _text_attribute(sys_path, "vendor"),
        "model": _text_attribute(sys_path, "model"),
        "revision": _text_attribute(sys_path, "rev"),
        "serial": vpd.unit_serial(read_attribute(sys_path, "vpd_pg80")),
        "designators": vpd.designators(read_attribute(sys_path, "vpd_pg83")),
        "sg_path": _node_path(by_subsystem[SCSI_GENERIC], _GENERIC_NODE),
    }
    kind = peripheral_type(scsi_device)
    if kind == PeripheralType.SEQUENTIAL_ACCESS:
        nst_path, st_path = _tape_nodes(by_subsystem[SCSI_TAPE])
        return DiscoveredDrive(nst_path=nst_path, st_path=st_path, **identity)
    if kind == PeripheralType.MEDIUM_CHANGER:
        sch_path = _node_path(by_subsystem[SCSI_CHANGER], _CHANGER_NODE)
        return DiscoveredChanger(sch_path=sch_path, **identity)
    return None


def nodes_of(context: pyudev.Context, scsi_device: pyudev.Device) -> list[pyudev.Device]:
    """The watched class devices (st/nst, sch, sg) below one ``scsi_device``."""
    children = context.list_devices(parent=scsi_device)
    return [child for child in children if child.subsystem in WATCHED_SUBSYSTEMS]


def scan(context: pyudev.Context | None = None) -> Discovery:
    """Every tape drive and changer udev knows now, ordered by SCSI address.

    Blocks only on sysfs reads. libudev is not thread safe: a ``context`` passed in must not
    be used by another thread at the same time; by default each call makes its own.
    """
    context = context or pyudev.Context()
    groups: dict[str, list[pyudev.Device]] = defaultdict(list)
    parents: dict[str, pyudev.Device] = {}
    for subsystem in WATCHED_SUBSYSTEMS:
        for node in context.list_devices(subsystem=subsystem):
            parent = scsi_device_of(node)
            if parent is None:
                continue
            parents[parent.sys_path] = parent
            groups[parent.sys_path].append(node)
    found = [describe(parents[path], nodes) for path, nodes in groups.items()]
    ordered = sorted((d for d in found if d is not None), key=lambda d: hctl_sort_key(d.hctl))
    return Discovery(
        drives=tuple(d for d in ordered if isinstance(d, DiscoveredDrive)),
        changers=tuple(d for d in ordered if isinstance(d, DiscoveredChanger)),
    )
