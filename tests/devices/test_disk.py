"""DiskMountPath on real temporary directories: enabled/disabled and low-space refusals with
their exact sentences, volume files with fsync at flush, and a mount path that vanishes."""

from __future__ import annotations

import shutil
from pathlib import Path

import psutil
import pytest

from devices.disk import (
    GIB,
    KIB,
    MARKER_FILE,
    MIB,
    TIB,
    DiskMountPath,
    MountPathError,
    MountPathMissing,
    MountPathRefused,
    VolumeError,
    format_bytes,
    space_refusal,
)
from devices.label import decode_label, encode_label, new_label
from devices.media_memory import MemoryMediaStore


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    d = tmp_path / "disk1"
    d.mkdir()
    return d


@pytest.fixture
def mp(disk: Path) -> DiskMountPath:
    return DiskMountPath.register(disk, MemoryMediaStore(), actor="op", reserve_bytes=0)


def test_format_bytes() -> None:
    assert format_bytes(int(1.2 * GIB)) == "1.2 GiB"
    assert format_bytes(5 * GIB) == "5 GiB"
    assert format_bytes(2 * GIB) == "2 GiB"
    assert format_bytes(3 * TIB + TIB // 2) == "3.5 TiB"
    assert format_bytes(700 * MIB) == "700 MiB"
    assert format_bytes(KIB) == "1 KiB"
    assert format_bytes(511) == "511 B"


def test_space_refusal_sentence() -> None:
    sentence = space_refusal("/x", free=int(1.2 * GIB), needed=5 * GIB, reserve=2 * GIB)
    assert sentence == "Mount path /x has 1.2 GiB free, needs 5 GiB plus the 2 GiB reserve."
    assert space_refusal("/x", free=7 * GIB, needed=5 * GIB, reserve=2 * GIB) is None
    assert space_refusal("/x", free=7 * GIB - 1, needed=5 * GIB, reserve=2 * GIB) is not None


def test_registered_enabled_then_disabled(mp: DiskMountPath, disk: Path) -> None:
    assert mp.enabled and (disk / MARKER_FILE).is_file()
    assert mp.refusal(KIB) is None
    mp.check_writable(KIB)
    mp.set_enabled(False, actor="op", reason="Disk replaced on Friday.")
    with pytest.raises(MountPathRefused) as info:
        mp.check_writable(KIB)
    assert str(info.value) == f"Mount path {disk} is disabled."
    with pytest.raises(MountPathRefused):
        mp.create_volume("V1")
    assert mp.state().reason == "Disk replaced on Friday." and mp.state().actor == "op"
    mp.set_enabled(True, actor="op", reason="Back.")
    mp.check_writable(KIB)


def test_short_of_space_refused(disk: Path) -> None:
    free = psutil.disk_usage(str(disk)).free
    reserve = free + 10 * GIB  # larger than the real free space: always refused
    mp = DiskMountPath.register(disk, MemoryMediaStore(), actor="op", reserve_bytes=reserve)
    assert mp.free_bytes() > 0
    with pytest.raises(MountPathRefused) as info:
        mp.check_writable(5 * GIB)
    after = psutil.disk_usage(str(disk)).free
    message = str(info.value)
    prefix = f"Mount path {disk} has "
    suffix = f" free, needs 5 GiB plus the {format_bytes(reserve)} reserve."
    assert message.startswith(prefix) and message.endswith(suffix)
    shown_free = message.removeprefix(prefix).removesuffix(suffix)
    # Free space is read at refusal time; other processes may move it slightly meanwhile.
    assert shown_free in {format_bytes(free), format_bytes(after)}


def test_volume_files_append_and_flush(mp: DiskMountPath, disk: Path) -> None:
    label = encode_label(new_label("V0001", "disk", "disk-file", record_size=20 * 512))
    with mp.create_volume("V0001") as vol:
        vol.write(label)
        vol.flush()
        assert vol.size == len(label)
    assert (disk / "V0001.vol").stat().st_size == len(label)
    with mp.open_volume("V0001", append=True) as vol:
        vol.write(b"session-1" + bytes(503))
        vol.flush()
    with mp.open_volume("V0001") as vol:
        assert decode_label(vol.read(len(label))).volume_id == "V0001"
        assert vol.read().startswith(b"session-1")
    assert mp.list_volumes() == ["V0001"]
    with pytest.raises(VolumeError, match="already exists"):
        mp.create_volume("V0001")
    with pytest.raises(VolumeError, match="is not in"):
        mp.open_volume("V0002")
    with pytest.raises(VolumeError, match="not a valid volume id"):
        mp.volume_path("../escape")


def test_vanished_directory_reported(mp: DiskMountPath, disk: Path) -> None:
    vol = mp.create_volume("V1")
    vol.write(b"x" * 4096)
    shutil.rmtree(disk)
    with pytest.raises(MountPathMissing) as info:
        vol.flush()
    assert str(info.value) == (
        f"Mount path {disk} is missing (removed or unmounted); mount it again or disable it."
    )
    vol.close()
    for action in (lambda: mp.check_writable(1), mp.free_bytes, lambda: mp.create_volume("V2")):
        with pytest.raises(MountPathMissing, match="is missing"):
            action()


def test_volume_unlinked_while_open_is_reported(mp: DiskMountPath, disk: Path) -> None:
    with mp.create_volume("V1") as vol:
        (disk / "V1.vol").unlink()
        vol.write(b"lost")
        with pytest.raises(MountPathMissing, match="Volume V1 vanished"):
            vol.flush()


def test_other_disk_mounted_in_its_place(mp: DiskMountPath, disk: Path) -> None:
    (disk / MARKER_FILE).unlink()  # what an unmount leaves: the empty directory underneath
    with pytest.raises(MountPathMissing, match="holds no tapir marker"):
        mp.check_writable(1)
    again = DiskMountPath.register(disk, mp.store, actor="op", reserve_bytes=0)
    again.check_writable(1)


def test_register_missing_and_unregistered(tmp_path: Path) -> None:
    with pytest.raises(MountPathMissing, match="does not exist"):
        DiskMountPath.register(tmp_path / "nope", MemoryMediaStore(), actor="op")
    with pytest.raises(MountPathError, match="not registered"):
        DiskMountPath(tmp_path, MemoryMediaStore()).check_present()


def test_reregistering_keeps_state(mp: DiskMountPath, disk: Path) -> None:
    mp.set_enabled(False, actor="op", reason="r")
    again = DiskMountPath.register(disk, mp.store, actor="someone")
    assert not again.enabled
