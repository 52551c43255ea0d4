"""What discovery reports: typed, frozen records of the SCSI tape drives and changers found.

Every record is keyed by its SCSI address ``hctl`` ("host:channel:target:lun", the sysfs name of
the parent ``scsi_device``) and its ``sys_path``; node paths are ``None`` when the kernel driver
that creates them is not loaded (a changer without the ``ch`` module is reachable only as
/dev/sgN, which is all the SG_IO transport needs).
"""

from __future__ import annotations

from dataclasses import dataclass

# SPC-4 7.8 Device Identification VPD page: code set values of a designation descriptor.
CODE_SET_BINARY = 0x1
CODE_SET_ASCII = 0x2
CODE_SET_UTF8 = 0x3

# SPC-4 designator types this package names (others keep their number).
DESIGNATOR_T10_VENDOR_ID = 0x1
DESIGNATOR_EUI64 = 0x2
DESIGNATOR_NAA = 0x3


@dataclass(frozen=True, slots=True, kw_only=True)
class Designator:
    """One designation descriptor of VPD page 0x83 (SPC-4 7.8, Device Identification)."""

    code_set: int
    association: int
    designator_type: int
    value: bytes

    @property
    def text(self) -> str:
        """The designator as text: ASCII/UTF-8 ones stripped, binary ones as lowercase hex."""
        if self.code_set in (CODE_SET_ASCII, CODE_SET_UTF8):
            return self.value.decode("utf-8", "replace").strip(" \x00")
        return self.value.hex()


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveredDrive:
    """A tape drive (peripheral type 01h): its nodes and identity as sysfs shows them."""

    hctl: str
    sys_path: str
    vendor: str
    model: str
    revision: str
    serial: str | None
    sg_path: str | None
    nst_path: str | None
    st_path: str | None
    designators: tuple[Designator, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveredChanger:
    """A medium changer (peripheral type 08h): its nodes and identity as sysfs shows them."""

    hctl: str
    sys_path: str
    vendor: str
    model: str
    revision: str
    serial: str | None
    sg_path: str | None
    sch_path: str | None
    designators: tuple[Designator, ...] = ()


DiscoveredDevice = DiscoveredDrive | DiscoveredChanger


@dataclass(frozen=True, slots=True)
class Discovery:
    """The result of one scan, each tuple ordered by SCSI address."""

    drives: tuple[DiscoveredDrive, ...]
    changers: tuple[DiscoveredChanger, ...]

    @property
    def devices(self) -> tuple[DiscoveredDevice, ...]:
        return (*self.changers, *self.drives)


@dataclass(frozen=True, slots=True)
class DeviceAppeared:
    """A drive or changer became usable, or its set of nodes changed (sent again then)."""

    device: DiscoveredDevice


@dataclass(frozen=True, slots=True)
class DeviceDisappeared:
    """A node of a known drive or changer went away: the device as it was last seen."""

    device: DiscoveredDevice


DeviceEvent = DeviceAppeared | DeviceDisappeared
