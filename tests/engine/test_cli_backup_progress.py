"""The plain progress lines of ``tapir backup`` without a terminal
(engine/cli/backup_progress.py): what a log or cron mail shows."""

from __future__ import annotations

import io

from engine.backup.pipeline import Progress
from engine.cli.backup_progress import LINES, ProgressView, plain_line


def _progress(files: int = 0, size: int = 0, volume: str = "TAP001L8", device: str = "drive0",
              exceptions: int = 0) -> Progress:  # fmt: skip
    return Progress(files, size, size / 2.0, volume, device, exceptions, 2.0)


def test_a_mounted_volume_before_any_file_says_where_the_backup_writes() -> None:
    assert plain_line(_progress()) == "backup: writing to TAP001L8 in drive0"
    assert plain_line(_progress(volume="", device="")) == "backup: starting"


def test_a_line_with_files_counts_them_with_rate_volume_and_exceptions() -> None:
    line = plain_line(_progress(files=12, size=4096, exceptions=1))
    assert line == "backup: 12 files, 4 KiB, 2 KiB/s to TAP001L8 in drive0, 1 exceptions"


def test_lines_come_when_the_volume_changes() -> None:
    out = io.StringIO()
    view = ProgressView(LINES, stream=out)
    view.update(_progress())
    view.update(_progress(files=3, size=100))  # same volume, within the interval: no line
    view.update(_progress(files=9, size=900, volume="TAP002L8"))
    view.close()
    assert out.getvalue().splitlines() == [
        "backup: writing to TAP001L8 in drive0",
        "backup: 9 files, 900 B, 450 B/s to TAP002L8 in drive0",
    ]
