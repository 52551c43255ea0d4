"""The hwsim daemon through ``HwsimSocketTransport``: raw CDBs from threads and processes,
restart keeps state, transport errors (not found, unreachable, timeout), garbage refused."""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.transport.contract import CommandTimeout, DeviceNotFound, DeviceUnreachable
from drivers.transport.endpoints import open_endpoint
from drivers.transport.hwsim_socket import HwsimSocketTransport
from hwsim import wire
from tests.hwsim.daemon_util import REPO, Daemon, cli_env, run
from tests.hwsim.smc_util import (
    SMALL_LIBRARY,
    drive,
    expect_check,
    expect_good,
    move_cdb,
    parse_element_status,
    res_cdb,
    slot,
    tur,
)

INQUIRY = bytes([0x12, 0, 0, 0, 96, 0])
WFM_1 = bytes([0x10, 0, 0, 0, 1, 0])
REWIND = bytes([0x01, 0, 0, 0, 0, 0])
RECORD = bytes(range(256)) * 40  # 10240 bytes


def write6(length: int) -> bytes:
    return bytes([0x0A, 0]) + length.to_bytes(3, "big") + b"\x00"


def read6(length: int) -> bytes:
    return bytes([0x08, 0]) + length.to_bytes(3, "big") + b"\x00"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "lib.toml"
    path.write_text(SMALL_LIBRARY)
    return path


@pytest.fixture
def daemon(tmp_path: Path, config: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path / "state").start(config)
    try:
        yield d
    finally:
        d.kill()


def settle(transport: HwsimSocketTransport) -> None:
    """Consume power-on / medium-changed unit attentions until TUR is GOOD."""
    for _ in range(4):
        if run(transport, tur()).status == 0:
            return
    raise AssertionError("device did not become ready")


def element_barcode(changer: HwsimSocketTransport, address: int) -> str | None:
    result = run(changer, res_cdb(), data_in_len=0xFFFF)
    expect_good(result)
    return parse_element_status(bytes(result.data)).at(address).barcode


def load_and_write(daemon: Daemon) -> None:
    """MOVE TST001L8 from slot 1 to drive 1, write RECORD and a filemark (flushed)."""
    changer, tape = daemon.transport("changer"), daemon.transport("drive0")
    settle(changer)
    assert element_barcode(changer, slot(1)) == "TST001L8"
    expect_good(run(changer, move_cdb(slot(1), drive(0))))
    assert element_barcode(changer, drive(0)) == "TST001L8"
    assert element_barcode(changer, slot(1)) is None
    settle(tape)
    expect_good(run(tape, write6(len(RECORD)), data_out=RECORD))
    expect_good(run(tape, WFM_1))
    changer.close()
    tape.close()


def test_inquiry_tur_and_unit_attention_through_the_socket(daemon: Daemon) -> None:
    tape = daemon.transport("drive0")
    result = run(tape, INQUIRY, data_in_len=96)
    expect_good(result)
    data = bytes(result.data)
    assert data[0] & 0x1F == 0x01  # sequential-access device
    assert len(data) == 96 and result.residual == 0
    # first media command after start: power-on reset, then no medium
    expect_check(run(tape, tur()), 0x6, 0x29, 0x00)
    expect_check(run(tape, tur()), 0x2, 0x3A, 0x00)
    changer = daemon.transport("changer")
    result = run(changer, INQUIRY, data_in_len=255)
    assert bytes(result.data)[0] & 0x1F == 0x08  # medium changer
    assert result.residual == 255 - len(result.data)
    assert daemon.info["devices"] == ["changer", "drive0", "drive1"]
    assert daemon.info["library"] == "small"


def test_move_write_read_round_trip(daemon: Daemon) -> None:
    load_and_write(daemon)
    tape = daemon.transport("drive0")
    expect_good(run(tape, REWIND))
    result = run(tape, read6(len(RECORD)), data_in_len=len(RECORD))
    expect_good(result)
    assert bytes(result.data) == RECORD
    # the filemark follows the record: READ returns CHECK with FILEMARK set, NO SENSE 00/01
    result = run(tape, read6(len(RECORD)), data_in_len=len(RECORD))
    expect_check(result, 0x0, 0x00, 0x01)
    assert bytes(result.sense)[2] & 0x80


def test_restart_keeps_state_and_flushed_data(tmp_path: Path, config: Path) -> None:
    first = Daemon(tmp_path / "state").start(config)
    try:
        load_and_write(first)
        assert first.stop() == 0
    finally:
        first.kill()
    assert not first.socket_path.exists()
    assert not (first.state_dir / "hwsim.pid").exists()
    second = Daemon(tmp_path / "state").start()  # no --config: the state dir holds the library
    try:
        changer, tape = second.transport("changer"), second.transport("drive0")
        expect_check(run(changer, tur()), 0x6, 0x29, 0x00)
        assert element_barcode(changer, drive(0)) == "TST001L8"
        assert element_barcode(changer, slot(1)) is None
        expect_check(run(tape, tur()), 0x6, 0x29, 0x00)
        settle(tape)
        result = run(tape, read6(len(RECORD)), data_in_len=len(RECORD))
        expect_good(result)
        assert bytes(result.data) == RECORD
    finally:
        second.kill()


def test_concurrent_client_threads(daemon: Daemon) -> None:
    serials = {
        name: daemon.control(f"DRIVE {name} STATUS")["data"]["serial"]
        for name in ("drive0", "drive1")
    }
    shared = daemon.transport("drive1")  # one transport shared by several threads
    errors: list[BaseException] = []
    rounds = 40

    def client(name: str, transport: HwsimSocketTransport) -> None:
        try:
            for _ in range(rounds):
                result = run(transport, INQUIRY, data_in_len=96)
                expect_good(result)
                assert serials[name].encode() in bytes(result.data)
                vpd = run(transport, bytes([0x12, 1, 0x80, 0, 64, 0]), data_in_len=64)
                assert bytes(vpd.data)[4:].decode().strip() == serials[name]
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=client, args=(name, daemon.transport(name)))
        for name in ("drive0", "drive1", "drive0", "drive1")
    ] + [threading.Thread(target=client, args=("drive1", shared)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[0]
    assert "client 7 connected" in daemon.log()


CLIENT_SCRIPT = """
import sys
from drivers.transport.hwsim_socket import HwsimSocketTransport
t = HwsimSocketTransport(sys.argv[1], sys.argv[2])
seen = set()
for _ in range(100):
    r = t.execute(bytes([0x12, 1, 0x80, 0, 64, 0]), data_in_len=64, timeout_s=5)
    seen.add(bytes(r.data)[4:].decode().strip())
print(",".join(sorted(seen)))
"""


def test_two_client_processes(daemon: Daemon) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT_SCRIPT, str(daemon.socket_path), name],
            cwd=REPO,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("drive0", "drive1")
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        outputs.append(out.strip())
    serial0 = daemon.control("DRIVE drive0 STATUS")["data"]["serial"]
    serial1 = daemon.control("DRIVE drive1 STATUS")["data"]["serial"]
    assert outputs == [serial0, serial1]


def test_unknown_device_and_endpoint_strings(daemon: Daemon) -> None:
    with pytest.raises(DeviceNotFound, match=r"no device 'drive7'.*changer, drive0, drive1"):
        run(daemon.transport("drive7"), tur())
    for endpoint in (f"hwsim:{daemon.state_dir}#drive1", f"hwsim:{daemon.socket_path}#drive1"):
        transport = open_endpoint(endpoint)
        assert transport.name == endpoint
        expect_good(run(transport, INQUIRY, data_in_len=96))
        transport.close()
    with pytest.raises(ValueError, match="must look like hwsim:"):
        open_endpoint(f"hwsim:{daemon.state_dir}")


def test_no_daemon_is_device_not_found(tmp_path: Path) -> None:
    path = tmp_path / "hwsim.sock"
    with pytest.raises(DeviceNotFound, match=f"no hwsim daemon at {path}: start it with tapir"):
        run(HwsimSocketTransport(path, "drive0"), tur())
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # a socket file nobody listens on: a daemon that was killed
    stale.close()
    with pytest.raises(DeviceNotFound, match="stale socket"):
        run(HwsimSocketTransport(path, "drive0"), tur())


@contextlib.contextmanager
def fake_daemon(path: Path, behaviour: str) -> Iterator[None]:
    """A listener that accepts and then never answers ('silent') or hangs up ('hangup')."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    held: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                conn.recv(65536)
                if behaviour == "hangup":
                    conn.close()
                else:
                    held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield
    finally:
        listener.close()
        for conn in held:
            conn.close()


def test_timeout_is_honoured_and_connection_replaced(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    with fake_daemon(path, "silent"):
        transport = HwsimSocketTransport(path, "drive0")
        started = time.monotonic()
        with pytest.raises(CommandTimeout, match=r"no reply within 0\.3 s"):
            transport.execute(tur(), timeout_s=0.3)
        assert 0.25 < time.monotonic() - started < 3.0
        with pytest.raises(CommandTimeout):  # a fresh connection, not the stale reply
            transport.execute(tur(), timeout_s=0.2)


def test_hangup_is_device_unreachable(tmp_path: Path) -> None:
    path = tmp_path / "hangup.sock"
    with (
        fake_daemon(path, "hangup"),
        pytest.raises(DeviceUnreachable, match="closed the connection"),
    ):
        HwsimSocketTransport(path, "drive0").execute(tur(), timeout_s=5)


def test_daemon_stopping_under_a_client(tmp_path: Path, config: Path) -> None:
    d = Daemon(tmp_path / "state").start(config)
    try:
        transport = d.transport("drive1")
        expect_good(run(transport, INQUIRY, data_in_len=96))
        assert d.stop() == 0
        with pytest.raises(DeviceUnreachable, match=r"closed the connection|connection .* lost"):
            run(transport, INQUIRY, data_in_len=96)
        with pytest.raises(DeviceNotFound, match="no hwsim daemon at"):
            run(transport, INQUIRY, data_in_len=96)
    finally:
        d.kill()


def test_garbage_gets_a_protocol_error_and_the_daemon_lives_on(daemon: Daemon) -> None:
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(daemon.socket_path))
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = wire.read_message(raw)
        assert isinstance(reply, wire.ErrorReply)
        assert reply.code is wire.ErrorCode.PROTOCOL
        assert "bad magic" in reply.message
        # the daemon hung up (a reset, since our garbage was left unread)
        with contextlib.suppress(ConnectionResetError):
            assert raw.recv(1) == b""
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(daemon.socket_path))
        raw.sendall(struct.pack(">4sBBHI", b"TPHW", 1, 0x02, 0, 0xFFFFFFFF))
        reply = wire.read_message(raw)
        assert isinstance(reply, wire.ErrorReply) and "exceeds" in reply.message
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(daemon.socket_path))
        wire.write_message(raw, wire.Result(0, b"", b""))  # a reply is not a request
        reply = wire.read_message(raw)
        assert isinstance(reply, wire.ErrorReply) and "not a request" in reply.message
    expect_good(run(daemon.transport("drive0"), INQUIRY, data_in_len=96))
    assert "protocol error: bad magic" in daemon.log()
