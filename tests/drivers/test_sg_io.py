"""drivers.transport.sg_io: what can be tested for real without a /dev/sgN.

- the ctypes ``sg_io_hdr`` against the kernel header, compiled with the system C compiler;
- opening a missing node, a node with no device behind it, a regular file, /dev/null and a
  directory, each giving the right TransportError with a sentence naming the node;
- the errno, host_status and driver_status mappings, on real ``SgIoHdr`` values;
- the buffers: page-aligned data-in reused per thread, data-out handed over without a copy.
"""

from __future__ import annotations

import ctypes
import errno
import grp
import mmap
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.transport.contract import (
    CommandTimeout,
    DeviceNotFound,
    DeviceUnreachable,
    PermissionDenied,
    ScsiStatus,
    TransportError,
)
from drivers.transport.sg_io import (
    DID_BAD_TARGET,
    DID_ERROR,
    DID_NO_CONNECT,
    DID_OK,
    DID_RESET,
    DID_TIME_OUT,
    DID_TRANSPORT_DISRUPTED,
    DRIVER_SENSE,
    DRIVER_TIMEOUT,
    SG_DXFER_FROM_DEV,
    SG_DXFER_NONE,
    SG_DXFER_TO_DEV,
    SG_GET_VERSION_NUM,
    SG_IO,
    SgIoHdr,
    SgIoOutcome,
    SgIoTransport,
    ThreadBuffers,
    check_outcome,
    ioctl_error,
    max_transfer,
    open_error,
    timeout_ms,
)
from tests.privileges import nobody_can_enter, run_as_nobody

SG_MAJOR = 21
FIELDS = [name for name, _ in SgIoHdr._fields_]
# sg_io_hdr on LP64 Linux (include/uapi/scsi/sg.h)
EXPECTED_OFFSETS = {
    "interface_id": 0,
    "dxfer_direction": 4,
    "cmd_len": 8,
    "mx_sb_len": 9,
    "iovec_count": 10,
    "dxfer_len": 12,
    "dxferp": 16,
    "cmdp": 24,
    "sbp": 32,
    "timeout": 40,
    "flags": 44,
    "pack_id": 48,
    "usr_ptr": 56,
    "status": 64,
    "masked_status": 65,
    "msg_status": 66,
    "sb_len_wr": 67,
    "host_status": 68,
    "driver_status": 70,
    "resid": 72,
    "duration": 76,
    "info": 80,
}


@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="LP64 layout")
def test_struct_layout_matches_lp64_sg_h() -> None:
    assert ctypes.sizeof(SgIoHdr) == 88
    assert {name: getattr(SgIoHdr, name).offset for name in FIELDS} == EXPECTED_OFFSETS


def _compile_and_run(tmp_path: Path, source: str) -> str:
    src = tmp_path / "probe.c"
    exe = tmp_path / "probe"
    src.write_text(source)
    subprocess.run(["cc", "-o", str(exe), str(src)], check=True, capture_output=True, timeout=60)
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=10).stdout


@pytest.mark.skipif(
    shutil.which("cc") is None or not Path("/usr/include/scsi/sg.h").exists(),
    reason="needs a C compiler and the kernel's scsi/sg.h",
)
def test_struct_and_constants_match_the_kernel_header(tmp_path: Path) -> None:
    lines = [
        f'printf("{n} %zu %zu\\n", offsetof(sg_io_hdr_t, {n}), sizeof(((sg_io_hdr_t *)0)->{n}));'
        for n in FIELDS
    ]
    source = "\n".join(
        [
            "#include <stdio.h>",
            "#include <stddef.h>",
            "#include <scsi/sg.h>",
            "int main(void) {",
            'printf("sizeof %zu 0\\n", sizeof(sg_io_hdr_t));',
            *lines,
            'printf("SG_IO %d 0\\n", SG_IO);',
            'printf("SG_GET_VERSION_NUM %d 0\\n", SG_GET_VERSION_NUM);',
            'printf("SG_DXFER_NONE %d 0\\n", SG_DXFER_NONE);',
            'printf("SG_DXFER_TO_DEV %d 0\\n", SG_DXFER_TO_DEV);',
            'printf("SG_DXFER_FROM_DEV %d 0\\n", SG_DXFER_FROM_DEV);',
            "return 0; }",
        ]
    )
    kernel = {}
    for line in _compile_and_run(tmp_path, source).splitlines():
        name, a, b = line.split()
        kernel[name] = (int(a), int(b))
    assert kernel["sizeof"][0] == ctypes.sizeof(SgIoHdr)
    for name in FIELDS:
        ours = getattr(SgIoHdr, name)
        assert kernel[name] == (ours.offset, ours.size), name
    assert kernel["SG_IO"][0] == SG_IO
    assert kernel["SG_GET_VERSION_NUM"][0] == SG_GET_VERSION_NUM
    assert kernel["SG_DXFER_NONE"][0] == SG_DXFER_NONE
    assert kernel["SG_DXFER_TO_DEV"][0] == SG_DXFER_TO_DEV
    assert kernel["SG_DXFER_FROM_DEV"][0] == SG_DXFER_FROM_DEV


# --- opening ---------------------------------------------------------------------------------


def test_missing_node_is_device_not_found(tmp_path: Path) -> None:
    path = str(tmp_path / "sg7")
    with pytest.raises(DeviceNotFound) as info:
        SgIoTransport(path)
    assert info.value.device == path
    assert str(info.value).startswith(f"{path}: no such device node")


def test_node_without_a_device_is_device_not_found(tmp_path: Path) -> None:
    path = tmp_path / "sg0"
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(SG_MAJOR, 0))
    except PermissionError:
        pytest.skip("mknod not permitted here")
    if Path("/sys/class/scsi_generic/sg0").exists():
        pytest.skip("a real sg0 exists on this host")
    with pytest.raises(DeviceNotFound, match="no device answers"):
        SgIoTransport(str(path))


@pytest.mark.parametrize("kind", ["regular file", "/dev/null", "directory"])
def test_not_a_scsi_generic_device(tmp_path: Path, kind: str) -> None:
    if kind == "regular file":
        path = tmp_path / "sg-image"
        path.write_bytes(bytes(512))
    elif kind == "directory":
        path = tmp_path
    else:
        path = Path("/dev/null")
    with pytest.raises(TransportError) as info:
        SgIoTransport(str(path))
    assert type(info.value) is TransportError
    assert str(info.value) == f"{path}: " + info.value.detail
    assert "not a SCSI generic device" in info.value.detail


def test_permission_denied_for_real() -> None:
    """Opened by an unprivileged user: as root, a forked child drops to ``nobody`` first."""

    def try_open(path: Path) -> str:
        try:
            SgIoTransport(str(path))
        except PermissionDenied as exc:
            return f"DENIED {exc}"
        return "OPENED"

    with nobody_can_enter() as folder:
        path = folder / "sg3"
        path.write_bytes(b"")
        path.chmod(0)
        os.chown(path, -1, grp.getgrnam("tape").gr_gid)  # as udev leaves /dev/sg* of tapes
        reported = run_as_nobody(lambda: try_open(path))
    assert reported.startswith("DENIED"), reported
    assert "add the user to group" in reported


def test_permission_denied_mapping_names_the_group(tmp_path: Path) -> None:
    path = tmp_path / "nst0"
    path.write_bytes(b"")
    try:
        os.chown(path, -1, 26)  # Debian's "tape" group
        group = "tape"
    except PermissionError:
        import grp

        group = grp.getgrgid(path.stat().st_gid).gr_name
    error = open_error(str(path), PermissionError(errno.EACCES, "Permission denied"))
    assert isinstance(error, PermissionDenied)
    assert str(path) in str(error)
    if group != "root":
        assert f"add the user to group {group!r} (usermod -aG {group} USER" in str(error)


@pytest.mark.parametrize(
    ("code", "cls", "phrase"),
    [
        (errno.ENOENT, DeviceNotFound, "no such device node"),
        (errno.ENXIO, DeviceNotFound, "unplugged"),
        (errno.ENODEV, DeviceNotFound, "unplugged"),
        (errno.EACCES, PermissionDenied, "permission denied"),
        (errno.EPERM, PermissionDenied, "permission denied"),
        (errno.EBUSY, TransportError, "in use"),
        (errno.EISDIR, TransportError, "not a SCSI generic device"),
        (errno.EMFILE, TransportError, "cannot open"),
    ],
)
def test_open_errno_mapping(code: int, cls: type[TransportError], phrase: str) -> None:
    error = open_error("/dev/sg9", OSError(code, os.strerror(code)))
    assert type(error) is cls
    assert error.device == "/dev/sg9" and phrase in str(error)


@pytest.mark.parametrize(
    ("code", "cls", "phrase"),
    [
        (errno.ENODEV, DeviceUnreachable, "went away"),
        (errno.EIO, DeviceUnreachable, "went away"),
        (errno.EPERM, PermissionDenied, "CAP_SYS_RAWIO"),
        (errno.ENOMEM, TransportError, "smaller block size"),
        (errno.EINVAL, TransportError, "rejected by the kernel"),
        (errno.EINTR, TransportError, "outcome is unknown"),
    ],
)
def test_ioctl_errno_mapping(code: int, cls: type[TransportError], phrase: str) -> None:
    error = ioctl_error("/dev/sg9", "READ(6)", OSError(code, os.strerror(code)))
    assert type(error) is cls
    assert str(error).startswith("/dev/sg9: READ(6)") and phrase in str(error)


# --- what came back ----------------------------------------------------------------------------


def _outcome(**fields: int) -> SgIoOutcome:
    hdr = SgIoHdr()
    for name, value in fields.items():
        setattr(hdr, name, value)
    return SgIoOutcome.from_header(hdr)


@pytest.mark.parametrize(
    ("fields", "cls", "phrase"),
    [
        ({"host_status": DID_TIME_OUT}, CommandTimeout, "did not complete within 7.5 s"),
        ({"driver_status": DRIVER_TIMEOUT}, CommandTimeout, "did not complete within 7.5 s"),
        ({"host_status": DID_NO_CONNECT}, DeviceUnreachable, "DID_NO_CONNECT"),
        ({"host_status": DID_BAD_TARGET}, DeviceUnreachable, "DID_BAD_TARGET"),
        ({"host_status": DID_TRANSPORT_DISRUPTED}, DeviceUnreachable, "DID_TRANSPORT_DISRUPTED"),
        ({"host_status": DID_RESET}, TransportError, "adapter reported DID_RESET"),
        ({"host_status": DID_ERROR, "status": 2}, TransportError, "adapter reported DID_ERROR"),
        ({"host_status": 0x7F}, TransportError, "host status 0x7F"),
    ],
)
def test_host_and_driver_failures_raise(
    fields: dict[str, int], cls: type[TransportError], phrase: str
) -> None:
    with pytest.raises(cls) as info:
        check_outcome("/dev/sg4", "SPACE(6)", _outcome(**fields), 7.5)
    assert type(info.value) is cls
    assert str(info.value).startswith("/dev/sg4: ") and phrase in str(info.value)


def test_statuses_pass_through() -> None:
    assert check_outcome("d", "c", _outcome(), 1) == ScsiStatus.GOOD
    check = _outcome(status=2, masked_status=1, driver_status=DRIVER_SENSE, sb_len_wr=18)
    assert check_outcome("d", "c", check, 1) == ScsiStatus.CHECK_CONDITION
    assert check_outcome("d", "c", _outcome(status=0x18), 1) == ScsiStatus.RESERVATION_CONFLICT
    assert check_outcome("d", "c", _outcome(status=0x08, host_status=DID_OK), 1) == 0x08


def test_driver_sense_without_status_is_a_check_condition() -> None:
    outcome = _outcome(status=0, driver_status=DRIVER_SENSE | 0x10, sb_len_wr=18)
    assert check_outcome("d", "c", outcome, 1) == ScsiStatus.CHECK_CONDITION
    empty = _outcome(status=0, driver_status=DRIVER_SENSE, sb_len_wr=0)
    assert check_outcome("d", "c", empty, 1) == ScsiStatus.GOOD


def test_outcome_keeps_every_output_field() -> None:
    outcome = _outcome(
        status=2,
        masked_status=1,
        host_status=0,
        driver_status=8,
        resid=-3,
        sb_len_wr=96,
        duration=1234,
        info=1,
    )
    assert outcome == SgIoOutcome(2, 1, 0, 8, -3, 96, 1234, 1)


@pytest.mark.parametrize(
    ("seconds", "ms"), [(1, 1000), (0.0001, 1), (2.5, 2500), (10**9, 0xFFFFFFFE)]
)
def test_timeout_ms(seconds: float, ms: int) -> None:
    assert timeout_ms(seconds) == ms


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_timeout_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError):
        timeout_ms(bad)


# --- buffers -----------------------------------------------------------------------------------


def _address(buf: mmap.mmap) -> int:
    holder = ctypes.c_char.from_buffer(buf)
    try:
        return ctypes.addressof(holder)
    finally:
        del holder


def test_data_in_buffer_is_page_aligned_and_reused() -> None:
    buffers = ThreadBuffers()
    first = buffers.data_in(70_000)
    assert len(first) % mmap.PAGESIZE == 0 and len(first) >= 70_000
    assert _address(first) % mmap.PAGESIZE == 0
    assert buffers.data_in(512) is first
    view = memoryview(first)[:10]  # a result still holding the old buffer
    bigger = buffers.data_in(300_000)
    assert bigger is not first and len(bigger) >= 300_000
    assert view.nbytes == 10  # the old map is still usable by whoever holds it


def test_data_in_buffers_are_per_thread() -> None:
    buffers = ThreadBuffers()
    mine = buffers.data_in(4096)
    theirs: list[mmap.mmap] = []
    worker = threading.Thread(target=lambda: theirs.append(buffers.data_in(4096)))
    worker.start()
    worker.join()
    assert theirs[0] is not mine


def test_data_out_is_not_copied_when_it_need_not_be() -> None:
    payload = bytes(range(256)) * 4
    keep, address = SgIoTransport.out_pointer(payload)
    assert ctypes.string_at(address, len(payload)) == payload
    assert keep is not None
    writable = bytearray(b"x" * 100)
    keep, address = SgIoTransport.out_pointer(memoryview(writable))
    writable[0:5] = b"hello"  # visible through the address: the kernel reads our buffer
    assert ctypes.string_at(address, 5) == b"hello"
    del keep
    frozen = memoryview(b"abc" * 10)
    copied, address = SgIoTransport.out_pointer(frozen)
    assert ctypes.string_at(address, 30) == b"abc" * 10
    del copied


# --- execute on a node that has no SG_IO (the probe skipped) -----------------------------------


@pytest.fixture
def null_transport() -> Iterator[SgIoTransport]:
    transport = SgIoTransport("/dev/null", probe=False)
    yield transport
    transport.close()


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"data_in_len": 4096}, {"data_out": b"record"}, {"data_out": bytearray(64)}],
    ids=["none", "in", "out-bytes", "out-bytearray"],
)
def test_execute_reports_an_ioctl_the_kernel_refuses(
    null_transport: SgIoTransport, kwargs: dict[str, object]
) -> None:
    with pytest.raises(TransportError) as info:
        null_transport.execute(bytes([0x08, 0, 0, 0x10, 0, 0]), timeout_s=5, **kwargs)
    assert str(info.value).startswith("/dev/null: READ(6): rejected by the kernel")
    assert null_transport.last_outcome is None


def test_execute_argument_errors(null_transport: SgIoTransport) -> None:
    with pytest.raises(ValueError, match="both directions"):
        null_transport.execute(bytes(6), data_out=b"x", data_in_len=1, timeout_s=1)
    with pytest.raises(ValueError, match="CDB length 0"):
        null_transport.execute(b"", timeout_s=1)
    with pytest.raises(ValueError, match="positive"):
        null_transport.execute(bytes(6), timeout_s=0)


def test_closed_transport_refuses_and_close_is_idempotent() -> None:
    transport = SgIoTransport("/dev/null", probe=False)
    transport.close()
    transport.close()
    with pytest.raises(TransportError, match="transport is closed"):
        transport.execute(bytes(6), timeout_s=1)


def test_context_manager_closes() -> None:
    with SgIoTransport("/dev/null", probe=False) as transport:
        assert transport.name == "/dev/null"
    with pytest.raises(TransportError, match="closed"):
        transport.execute(bytes(6), timeout_s=1)


def test_a_node_that_does_not_give_its_transfer_limit_has_none(
    null_transport: SgIoTransport,
) -> None:
    """BLKSECTGET answers on sg nodes only (the queue's max_sectors in bytes); elsewhere the
    limit is unknown and commands go as the engine sizes them."""
    assert null_transport.max_transfer is None
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        assert max_transfer(fd) is None
    finally:
        os.close(fd)
