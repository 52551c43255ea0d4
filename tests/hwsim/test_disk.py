"""The simulated disk under a mount path (hwsim/disk.py): a capacity and faults keyed by bytes
written, answering write/fsync/statvfs as the kernel does for a disk that fills up or goes."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwsim.disk import FRSIZE, DiskFault, DiskSpecError, SimDisk, parse_disk


def open_file(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)


def free(disk: SimDisk) -> int:
    st = disk.statvfs(str(disk.path))
    return st.f_bavail * st.f_frsize


def test_a_small_disk_writes_what_fits_then_enospc_and_reports_its_free_space(
    tmp_path: Path,
) -> None:
    disk = SimDisk(tmp_path, capacity=10 * FRSIZE)
    (tmp_path / "other").write_bytes(b"x" * FRSIZE)  # what is already there counts
    assert free(disk) == 9 * FRSIZE
    fd = open_file(tmp_path / "v.vol")
    try:
        assert disk.write(fd, b"a" * 5 * FRSIZE) == 5 * FRSIZE
        assert free(disk) == 4 * FRSIZE
        assert disk.write(fd, b"b" * 6 * FRSIZE) == 4 * FRSIZE  # a short write: what fits
        with pytest.raises(OSError) as full:
            disk.write(fd, b"c")
        assert full.value.errno == errno.ENOSPC
        assert free(disk) == 0
    finally:
        os.close(fd)
    (tmp_path / "other").unlink()  # deleting frees space, as on a real disk
    assert free(disk) == FRSIZE


def test_full_at_byte_fails_the_write_that_passes_it(tmp_path: Path) -> None:
    disk = SimDisk(tmp_path, faults=[DiskFault("full", 100)])
    fd = open_file(tmp_path / "v.vol")
    try:
        assert disk.write(fd, b"a" * 100) == 100
        with pytest.raises(OSError) as full:
            disk.write(fd, b"b")
        assert full.value.errno == errno.ENOSPC
        assert free(disk) == 0 and [f.kind for f in disk.fired] == ["full"]
        disk.clear()
        assert disk.write(fd, b"b") == 1
    finally:
        os.close(fd)


def test_gone_keeps_only_what_was_fsynced_and_answers_eio_until_remounted(
    tmp_path: Path,
) -> None:
    mount = tmp_path / "disk1"
    mount.mkdir()
    (mount / ".marker").write_text("m")
    disk = SimDisk(mount, faults=[DiskFault("gone", 300)])
    fd = open_file(mount / "v.vol")
    try:
        disk.write(fd, b"a" * 200)
        disk.fsync(fd)
        disk.write(fd, b"b" * 50)  # not fsynced: in the page cache the device takes along
        with pytest.raises(OSError) as gone:
            disk.write(fd, b"c" * 100)
        assert gone.value.errno == errno.EIO
        assert list(mount.iterdir()) == []  # the empty mount point stays behind
        with pytest.raises(OSError) as again:
            disk.fsync(fd)
        assert again.value.errno == errno.EIO
    finally:
        os.close(fd)
    disk.remount()
    assert (mount / "v.vol").read_bytes() == b"a" * 200
    assert (mount / ".marker").read_text() == "m"


@given(st.integers(0, 2000), st.lists(st.integers(1, 700), min_size=1, max_size=8))
def test_the_bytes_on_disk_never_pass_the_capacity(capacity: int, writes: list[int]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as where:
        disk = SimDisk(where, capacity=capacity)
        fd = open_file(Path(where) / "v.vol")
        try:
            for n in writes:
                try:
                    disk.write(fd, b"z" * n)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        assert os.path.getsize(Path(where) / "v.vol") == min(capacity, sum(writes))


def test_a_disk_description_is_checked() -> None:
    spec = parse_disk({"capacity": 4096, "faults": [{"kind": "gone", "at_byte": 10}]})
    assert spec.capacity == 4096 and spec.faults == (DiskFault("gone", 10),)
    with pytest.raises(DiskSpecError, match="kind must be one of"):
        parse_disk({"faults": [{"kind": "melt", "at_byte": 1}]})
    with pytest.raises(DiskSpecError, match="at_byte must be an integer"):
        parse_disk({"faults": [{"kind": "full", "at_byte": -1}]})
    with pytest.raises(DiskSpecError, match="unknown key 'size'"):
        parse_disk({"size": 1})
