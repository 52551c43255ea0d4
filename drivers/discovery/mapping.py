"""Which drive node sits behind each of a changer's data transfer elements.

A library reports, per data transfer element, the identifier of the drive mounted there
(SMC-3 READ ELEMENT STATUS with DVCID set: a designation descriptor in the data transfer
element descriptor), in practice either the bare unit serial number or a T10 vendor ID
designator "VENDOR  PRODUCT         SERIAL".
The host sees drives by VPD page 0x80 / 0x83. Matching the two is the only reliable link:
element order and SCSI addresses follow cabling, not the library's slot numbering.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from drivers.discovery.model import DESIGNATOR_T10_VENDOR_ID, DiscoveredDrive
from drivers.discovery.scan import hctl_sort_key


def _normalise(identifier: str) -> str:
    return " ".join(identifier.split())


def _keys(drive: DiscoveredDrive) -> set[str]:
    """Every identifier string under which a library may report this drive."""
    keys = set()
    if drive.serial:
        keys.add(_normalise(drive.serial))
    for designator in drive.designators:
        if designator.designator_type == DESIGNATOR_T10_VENDOR_ID and designator.text:
            keys.add(_normalise(designator.text))
    return keys


def _element_keys(identifier: str) -> set[str]:
    """The identifier itself, and its last word: the serial at the end of a T10 vendor ID."""
    whole = _normalise(identifier)
    words = whole.split(" ")
    return {whole, words[-1]} if whole else set()


def map_drive_elements(
    element_identifiers: Mapping[int, str | None],
    drives: Iterable[DiscoveredDrive],
) -> dict[int, DiscoveredDrive | None]:
    """Element address -> the visible drive whose serial matches, or ``None``.

    ``element_identifiers`` is what the SMC driver reads from READ ELEMENT STATUS: element
    address -> the drive identifier string (``None`` or empty when the library reports none).
    A drive reachable through two paths (multipath) appears twice with one serial; the lowest
    SCSI address wins so the answer is stable. Never raises on odd identifiers.
    """
    by_key: dict[str, DiscoveredDrive] = {}
    for drive in sorted(drives, key=lambda d: hctl_sort_key(d.hctl), reverse=True):
        for key in _keys(drive):
            by_key[key] = drive
    mapped: dict[int, DiscoveredDrive | None] = {}
    for address, identifier in element_identifiers.items():
        candidates = _element_keys(identifier) if identifier else set()
        matches = [by_key[key] for key in sorted(candidates) if key in by_key]
        mapped[address] = min(matches, key=lambda d: hctl_sort_key(d.hctl)) if matches else None
    return mapped
