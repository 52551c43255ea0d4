"""Discovery of SCSI tape drives and medium changers through udev (shared/DESIGN.md).

- ``scan()`` enumerates scsi_tape / scsi_changer / scsi_generic devices, groups them by their
  parent ``scsi_device`` and returns typed records with vendor, model, revision and the unit
  serial number (VPD 0x80, read from sysfs as bytes) — see ``scan.py``.
- ``map_drive_elements()`` links a changer's data transfer elements to drive nodes by serial.
- ``HotplugMonitor`` turns uevents into ``DeviceAppeared`` / ``DeviceDisappeared``.

Nothing here opens a device node; the transports do that with the paths found here.
"""

from drivers.discovery.mapping import map_drive_elements
from drivers.discovery.model import (
    Designator,
    DeviceAppeared,
    DeviceDisappeared,
    DeviceEvent,
    DiscoveredChanger,
    DiscoveredDevice,
    DiscoveredDrive,
    Discovery,
)
from drivers.discovery.monitor import HotplugMonitor
from drivers.discovery.scan import scan

__all__ = [
    "Designator",
    "DeviceAppeared",
    "DeviceDisappeared",
    "DeviceEvent",
    "DiscoveredChanger",
    "DiscoveredDevice",
    "DiscoveredDrive",
    "Discovery",
    "HotplugMonitor",
    "map_drive_elements",
    "scan",
]
