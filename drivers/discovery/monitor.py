"""Hotplug monitor: tape drives and changers appearing and disappearing, as typed events.

Algorithm: open a udev netlink monitor filtered to scsi_tape / scsi_changer / scsi_generic
*before* scanning, so nothing that appears during the scan is missed; remember the scanned
devices by their ``scsi_device`` sys path. Then, per uevent:
- add/change/bind: re-read that ``scsi_device`` and its nodes from sysfs; if the record is new
  or differs (a node was added), report ``DeviceAppeared``. The kernel adds sgN, then the st
  driver's stN/nstN, each with its own uevent, so one drive is usually reported two or three
  times, each time with more nodes; consumers key by ``sys_path`` (or ``hctl``). A uevent
  handled after its device's directory is already gone is ignored.
- remove: report ``DeviceDisappeared`` with the remembered record, once per device (its other
  nodes' removals are ignored). Sysfs is not read: by the time the event is handled the
  kernel has usually deleted the device's directory.

The scsi_device of a node is the grandparent of its sys path (``.../2:0:0:0/scsi_tape/nst0``),
which holds even after the directory is gone.

Threads: ``poll``/``events`` belong to one consumer thread; ``stop`` may be called from any
thread and makes a blocked ``poll`` return ``None`` promptly (a self-pipe wakes ``select``).
"""

from __future__ import annotations

import os
import posixpath
import select
import threading
import time
from collections.abc import Iterator
from types import TracebackType

import pyudev

from drivers.discovery.model import (
    DeviceAppeared,
    DeviceDisappeared,
    DeviceEvent,
    DiscoveredDevice,
    Discovery,
)
from drivers.discovery.scan import WATCHED_SUBSYSTEMS, describe, nodes_of, scan, scsi_device_of

REMOVE = "remove"
APPEAR_ACTIONS = frozenset({"add", "change", "bind", "move"})


class HotplugMonitor:
    """Reports tape drives and changers as they come and go.

    Usage from a worker thread::

        with HotplugMonitor() as monitor:
            present = monitor.start()          # Discovery of what is there now
            for event in monitor.events():      # ends after stop() from another thread
                ...

    Raises ``OSError`` from the constructor if udev's netlink socket cannot be opened.
    """

    def __init__(self, context: pyudev.Context | None = None) -> None:
        self._context = context or pyudev.Context()
        self._monitor = pyudev.Monitor.from_netlink(self._context)
        for subsystem in WATCHED_SUBSYSTEMS:
            self._monitor.filter_by(subsystem)
        self._wake_read, self._wake_write = os.pipe()
        self._stopped = threading.Event()
        self._known: dict[str, DiscoveredDevice] = {}

    def start(self) -> Discovery:
        """Start receiving uevents, then scan; return the scan. Events report later changes."""
        self._monitor.start()
        present = scan(self._context)
        self._known = {device.sys_path: device for device in present.devices}
        return present

    @property
    def known(self) -> tuple[DiscoveredDevice, ...]:
        """The devices present as far as the events handled so far tell."""
        return tuple(self._known.values())

    def stop(self) -> None:
        """Make ``poll`` and ``events`` return promptly. Any thread; idempotent."""
        if not self._stopped.is_set():
            self._stopped.set()
            os.write(self._wake_write, b"\0")

    def close(self) -> None:
        """Release the wake-up pipe (the udev socket goes with the object); call after the
        consumer thread has finished."""
        self.stop()
        if self._wake_read >= 0:
            os.close(self._wake_read)
            os.close(self._wake_write)
            self._wake_read = self._wake_write = -1

    def __enter__(self) -> HotplugMonitor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def poll(self, timeout_s: float | None = None) -> DeviceEvent | None:
        """The next event, or ``None`` after ``timeout_s`` (``None``: no limit) or ``stop()``.

        Blocks in ``select``; uevents about devices that are neither drives nor changers (a
        disk's sg node) are consumed silently.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self._stopped.is_set():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([self._monitor, self._wake_read], [], [], remaining)
            if self._wake_read in readable or self._stopped.is_set():
                return None
            if not readable:
                return None
            device = self._monitor.poll(timeout=0)
            event = self._handle(device) if device is not None else None
            if event is not None:
                return event
        return None

    def events(self) -> Iterator[DeviceEvent]:
        """Events until ``stop()`` is called."""
        while (event := self.poll()) is not None:
            yield event

    def _handle(self, node: pyudev.Device) -> DeviceEvent | None:
        scsi_device_path = posixpath.dirname(posixpath.dirname(node.sys_path))
        if node.action == REMOVE:
            gone = self._known.pop(scsi_device_path, None)
            return DeviceDisappeared(gone) if gone is not None else None
        if node.action not in APPEAR_ACTIONS:
            return None
        scsi_device = scsi_device_of(node)
        if scsi_device is None:
            return None
        nodes = nodes_of(self._context, scsi_device)
        record = describe(scsi_device, nodes) if nodes else None
        if record is None or self._known.get(record.sys_path) == record:
            return None
        self._known[record.sys_path] = record
        return DeviceAppeared(record)
