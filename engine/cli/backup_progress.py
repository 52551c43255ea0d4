"""What ``tapir backup`` shows while it runs: a rich progress bar on a terminal, plain lines
otherwise (a log file, a pipe, cron mail), nothing with ``--json`` (scripts read the result).

The bar shows the volume being written, files, bytes, rate and ETA. The pipeline reports
what it has stored (engine/backup/pipeline.py ``Progress``), not what is left, so for a full
backup on a terminal a ``Sizer`` thread walks the source with the job's own selection
(engine/backup/scan.py) and sums file sizes: the ETA is an estimate that firms up when that
walk ends, usually long before the backup does (it reads metadata only). Incremental and
differential runs store an unknown part of the tree, so they show no ETA.

Plain lines come at most every ``PLAIN_INTERVAL_S`` and whenever the volume changes, so a
long run leaves a readable trail without flooding a log.

Threads: ``update`` is called from the pipeline's format thread, ``line`` and ``close`` from
the command's thread; rich's live display refreshes on its own thread and locks its console.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from devices.disk import format_bytes
from engine.backup.scan import Scanner, ScanOptions

if TYPE_CHECKING:
    from engine.backup.pipeline import Progress as RunProgress

PLAIN_INTERVAL_S = 10.0
"""A line every ten seconds: enough to see a stall in a log, few enough to read."""
REFRESH_PER_S = 4
BAR, LINES, QUIET = "bar", "lines", "quiet"


class Sizer:
    """Counts the bytes a full backup of ``source`` will store, in a daemon thread."""

    def __init__(self, source: str, options: ScanOptions) -> None:
        self.scanner = Scanner(source, options)
        self.done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tapir-sizer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for _ in self.scanner:
                if self._stop.is_set():
                    return
        except OSError:
            return  # the backup reports a source it cannot read; the estimate just stops
        self.done = True

    @property
    def total_bytes(self) -> int:
        return self.scanner.stats.bytes

    def stop(self) -> None:
        self._stop.set()


class ProgressView:
    """Shows a run's progress; ``close`` ends the display (always call it, also on failure)."""

    def __init__(self, mode: str, sizer: Sizer | None = None, stream: TextIO | None = None):
        """``mode``: BAR, LINES or QUIET (see ``choose_mode``)."""
        self.mode = mode
        self.sizer = sizer
        self.stream = stream or sys.stdout
        self._last_line = 0.0
        self._last_volume: str | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if mode == BAR:
            self._progress = Progress(
                TextColumn("[bold]{task.fields[volume]}"),
                BarColumn(),
                TextColumn("{task.fields[files]} files"),
                TextColumn("{task.fields[size]}"),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                refresh_per_second=REFRESH_PER_S,
                transient=True,
            )
            self._task = self._progress.add_task(
                "backup", total=None, volume="starting", files="0", size="0 B"
            )
            self._progress.start()

    def update(self, p: RunProgress) -> None:
        """The pipeline's progress callback."""
        if self._progress is not None and self._task is not None:
            total = None
            if self.sizer is not None and self.sizer.done:
                total = max(self.sizer.total_bytes, p.bytes)
            where = f"{p.volume} ({p.device})" if p.device else p.volume
            self._progress.update(
                self._task,
                completed=p.bytes,
                total=total,
                volume=where or "mounting",
                files=f"{p.files}" + (f", {p.exceptions} exceptions" if p.exceptions else ""),
                size=format_bytes(p.bytes),
            )
        elif self.mode == LINES:
            now = time.monotonic()
            if p.volume != self._last_volume or now - self._last_line >= PLAIN_INTERVAL_S:
                self._last_line, self._last_volume = now, p.volume
                self.line(plain_line(p))

    def line(self, text: str) -> None:
        """One message above the bar, or a plain line; nothing when quiet."""
        if self.mode == QUIET:
            return
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.sizer is not None:
            self.sizer.stop()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def plain_line(p: RunProgress) -> str:
    where = f" to {p.volume}" + (f" in {p.device}" if p.device else "") if p.volume else ""
    if not p.files and not p.bytes and not p.exceptions:  # a volume mounted, nothing stored yet
        return f"backup: writing{where}" if where else "backup: starting"
    rate = f", {format_bytes(int(p.rate))}/s" if p.rate else ""
    exceptions = f", {p.exceptions} exceptions" if p.exceptions else ""
    return f"backup: {p.files} files, {format_bytes(p.bytes)}{rate}{where}{exceptions}"


def choose_mode(*, as_json: bool, stream: TextIO | None = None) -> str:
    """QUIET for ``--json``, BAR on a terminal, LINES otherwise."""
    if as_json:
        return QUIET
    return BAR if (stream or sys.stdout).isatty() else LINES
