"""Put tar and tapir on the same footing for the kernel's free memory (bench/ only).

This machine is a VM whose balloon driver reports free pages back to the host (virtio_balloon
with page_reporting, ``/sys/module/page_reporting``): about two seconds after memory is freed
the host takes it away, and the next first touch of each page faults into the host. Writing
2 GiB of page cache into such memory runs at 0.6-0.8 GB/s instead of 3-4 GB/s. In a bench
that alternates tar and tapir, tar starts at once on the pages tapir's run just freed (hot)
while tapir spends seconds importing and mounting its tape first (cold), so the ratio measured
the balloon, not tapir (tar alone: 0.7 s hot, 2.8-3.3 s after a 5 s pause).

``warm`` writes and unlinks a file of the given size in the output's directory right before
the measured part: the pages it frees are hot when the measured writer takes them, for tar
and tapir alike. (An anonymous mmap touched and unmapped warms only about half as well.)

They stay hot for about a second and a half only (2026-12-07, ``pwrite`` of 873 MB in 1 MiB
writes after ``warm``: 0.14 s at once or 1 s later, 0.26 s 2 s later, 0.58 s 4 s later). A
measured part longer than that writes into cold pages anyway: tapir's small-files backup
(~1.8 s, its writer's system time 0.2-1.8 s between runs for those 873 MB) more than tar's
(~0.75 s). The ratio then measures some of the VM as well.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

CHUNK = 1 << 20


def warm(directory: Path, nbytes: int) -> None:
    """Write ``nbytes`` (rounded up to MiB) to a scratch file under ``directory``, unlink it."""
    path = directory / ".memwarm"
    chunk = memoryview(mmap.mmap(-1, CHUNK))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(-(-nbytes // CHUNK)):
            os.write(fd, chunk)
    finally:
        os.close(fd)
        path.unlink()
