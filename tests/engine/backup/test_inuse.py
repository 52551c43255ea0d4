"""In-use snapshot: one /proc pass finds real processes holding files open for writing."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from engine.backup.inuse import InUseMonitor, InUseSnapshot, describe_holders


def key(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def test_writer_subprocess_is_found_with_pid_and_name(tmp_path: Path, writer_factory) -> None:
    target = tmp_path / "log"
    target.write_bytes(b"")
    writer = writer_factory(target, hold=True)
    snap = InUseSnapshot.take()
    holders = snap.holders(*key(target))
    assert [h.pid for h in holders] == [writer.pid]
    (holder,) = holders
    assert holder.name == psutil.Process(writer.pid).name()
    assert holder.access == "write"
    assert f"pid {writer.pid} ({holder.name}" in describe_holders(holders)


def test_readers_and_other_files_are_not_in_use(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.write_bytes(b"x")
    other = tmp_path / "other"
    other.write_bytes(b"")
    with open(target, "rb"), open(other, "r+b") as rw:
        snap = InUseSnapshot.take()
        assert snap.holders(*key(target)) == ()
        (mine,) = snap.holders(*key(other))
        assert (mine.pid, mine.fd, mine.access) == (os.getpid(), rw.fileno(), "read-write")
    assert snap.unreadable_pids == 0  # we run as root


def test_refresh_sees_the_file_closed(tmp_path: Path, writer_factory) -> None:
    target = tmp_path / "log"
    target.write_bytes(b"")
    writer = writer_factory(target, hold=True)
    monitor = InUseMonitor()
    assert monitor.holders(*key(target))
    writer.command("close")
    old = monitor.current
    assert monitor.refresh(max_age_s=3600) is old  # young enough: no new pass
    assert monitor.holders(*key(target))  # still the old picture (the documented race)
    fresh = monitor.refresh(max_age_s=0)
    assert fresh is not old
    assert monitor.holders(*key(target)) == ()


def test_empty_snapshot_sees_nothing(tmp_path: Path, writer_factory) -> None:
    target = tmp_path / "log"
    target.write_bytes(b"")
    writer_factory(target, hold=True)
    assert InUseSnapshot.empty().holders(*key(target)) == ()
    assert len(InUseSnapshot.empty()) == 0
