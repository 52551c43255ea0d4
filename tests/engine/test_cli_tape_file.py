"""``tapir sim tape-file BARCODE N`` as a user runs it: records written through the SCSI path,
read back by real subprocesses piped into GNU tar."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.ssc import SscDriver
from drivers.transport.contract import Transport
from drivers.transport.hwsim_local import HwsimLocalTransport
from hwsim.config import parse_config
from hwsim.library import SimLibrary
from tests.engine.cli_util import one_error_line
from tests.hwsim.daemon_util import REPO, Daemon, cli_env, tapir

RECORD = 10240  # tar's default record (blocking factor 20): what `tar -f -` expects
BARCODE = "TFT001L8"
LIBRARY = f"""
[library]
name = "tapefile"
slots = 4

[[drives]]
name = "drive0"
model = "LTO-8"

[[cartridges]]
barcode = "{BARCODE}"
drive = "drive0"
capacity = "64MiB"

[[cartridges]]
barcode = "TFT002L8"
slot = 1
capacity = "64MiB"

[[cartridges]]
barcode = "CLN001CU"
slot = 4
"""


def pax_archive(members: dict[str, bytes]) -> bytes:
    """A pax archive of ``members``, padded to whole records."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    return raw + bytes(-len(raw) % RECORD)


def records(archive: bytes) -> list[bytes]:
    return [archive[i : i + RECORD] for i in range(0, len(archive), RECORD)]


def ready_driver(transport: Transport) -> SscDriver:
    """A driver past the drive's start-up unit attentions, in variable-block mode."""
    driver = SscDriver(transport)
    for _ in range(5):
        result = transport.execute(bytes(6), timeout_s=5.0)  # TEST UNIT READY
        if result.status == 0:
            break
    driver.set_block_size(0)
    return driver


LABEL = pax_archive({"TAPIR-LABEL": b"volume TFT001L8\n"})
SESSION = pax_archive({"srv/a.txt": b"alpha\n" * 100, "srv/sub/b.bin": bytes(range(256)) * 300})


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A library whose TFT001L8 holds: label, filemark, session, filemark, empty file,
    filemark (so tape files 0, 1 and an empty 2)."""
    state_dir = tmp_path / "state"
    lib = SimLibrary.create(parse_config(LIBRARY, "tapefile.toml"), state_dir)
    try:
        driver = ready_driver(HwsimLocalTransport(lib.drives["drive0"]))
        for archive in (LABEL, SESSION):
            for record in records(archive):
                driver.write(record)
            driver.write_filemarks(1)
        driver.write_filemarks(1)
    finally:
        lib.close()
    return state_dir


def tape_file(state: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "sim", "tape-file", *args, "--state", str(state)],
        cwd=REPO,
        env=cli_env(state.parent / "home"),
        capture_output=True,
        timeout=60,
    )


def piped(state: Path, args: list[str], reader: list[str]) -> tuple[int, int, bytes, bytes]:
    """``tapir sim tape-file ARGS | READER``: (tapir's status, reader's status, reader's
    stdout, tapir's stderr)."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "sim", "tape-file", *args, "--state", str(state)],
        cwd=REPO,
        env=cli_env(state.parent / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert writer.stdout is not None and writer.stderr is not None
    read = subprocess.run(reader, stdin=writer.stdout, capture_output=True, timeout=60)
    writer.stdout.close()
    errors = writer.stderr.read()
    writer.stderr.close()
    return writer.wait(60), read.returncode, read.stdout, errors


def test_tar_lists_the_session_and_the_label(state: Path) -> None:
    status, tar_status, listing, errors = piped(state, [BARCODE, "1"], ["tar", "-tf", "-"])
    assert (status, tar_status, errors) == (0, 0, b"")
    assert listing.decode().splitlines() == ["srv/a.txt", "srv/sub/b.bin"]

    verbose = piped(state, [BARCODE, "1"], ["tar", "-tvf", "-"])[2].decode()
    assert " 76800 " in verbose and "srv/sub/b.bin" in verbose

    label = piped(state, [BARCODE, "0"], ["tar", "-xOf", "-", "TAPIR-LABEL"])
    assert label[:3] == (0, 0, b"volume TFT001L8\n")


def test_bytes_are_the_records_back_to_back(state: Path, tmp_path: Path) -> None:
    result = tape_file(state, BARCODE, "1")
    assert result.returncode == 0 and result.stderr == b""
    assert result.stdout == SESSION

    out = tmp_path / "file0.tar"
    assert tape_file(state, BARCODE, "0", "--output", str(out)).returncode == 0
    assert out.read_bytes() == LABEL

    empty = tape_file(state, BARCODE, "2")  # two filemarks in a row: an empty tape file
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, b"", b"")


def test_bad_requests_are_one_line(state: Path, tmp_path: Path) -> None:
    past = tape_file(state, BARCODE, "3")
    assert one_error_line(text(past), 2) == (
        f"{BARCODE} holds 3 tape files (0..2); there is no tape file 3"
    )
    unknown = tape_file(state, "NOPE01L8", "0")
    assert one_error_line(text(unknown), 2).startswith("no cartridge 'NOPE01L8' in the library")
    lower = tape_file(state, BARCODE.lower(), "0")
    assert one_error_line(text(lower), 2).endswith(f"did you mean {BARCODE}?")
    blank = tape_file(state, "TFT002L8", "0")
    assert one_error_line(text(blank), 2) == "TFT002L8 is blank: nothing is recorded on it"
    cleaning = tape_file(state, "CLN001CU", "0")
    assert "cleaning cartridge" in one_error_line(text(cleaning), 2)
    nowhere = tape_file(tmp_path / "missing", BARCODE, "0")
    assert "no such state directory" in one_error_line(text(nowhere), 2)
    negative = tape_file(state, BARCODE, "-1")
    assert negative.returncode == 2 and b"Traceback" not in negative.stderr
    out = tmp_path / "never.tar"
    assert tape_file(state, BARCODE, "5", "--output", str(out)).returncode == 2
    assert not out.exists() and not list(tmp_path.glob(".never.tar*"))


def text(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout, result.stderr.decode()
    )


def test_a_reader_that_stops_early_is_not_an_error(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    lib = SimLibrary.create(parse_config(LIBRARY, "tapefile.toml"), state_dir)
    try:
        driver = ready_driver(HwsimLocalTransport(lib.drives["drive0"]))
        for _ in range(64):  # 4 MiB: far more than a pipe holds
            driver.write(bytes(65536))
        driver.write_filemarks(1)
    finally:
        lib.close()
    status, head_status, head_out, errors = piped(state_dir, [BARCODE, "0"], ["head", "-c", "10"])
    assert (status, head_status, head_out, errors) == (0, 0, bytes(10), b"")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    config = tmp_path / "lib.toml"
    config.write_text(LIBRARY)
    served = Daemon(tmp_path / "served").start(config, "--no-console")
    try:
        yield served
    finally:
        served.kill()


def test_reads_only_flushed_records_while_a_daemon_writes(daemon: Daemon) -> None:
    """Records in the drive's buffer are not on tape yet; after a power loss they never
    will be, and the tape has no valid end of data: tape-file says so on stderr."""
    driver = ready_driver(daemon.transport("drive0"))
    for record in records(LABEL):
        driver.write(record)
    driver.write_filemarks(1)  # flushes
    session = records(SESSION)
    driver.write(session[0])
    driver.write_filemarks(0)  # flush only: the first session record is on tape
    for record in session[1:]:
        driver.write(record)  # buffered

    label = tape_file(daemon.state_dir, BARCODE, "0")
    assert (label.returncode, label.stdout, label.stderr) == (0, LABEL, b"")
    partial = tape_file(daemon.state_dir, BARCODE, "1")
    assert (partial.returncode, partial.stdout, partial.stderr) == (0, session[0], b"")

    assert daemon.control("DRIVE drive0 POWER OFF")["ok"]
    cut = tape_file(daemon.state_dir, BARCODE, "1")
    assert cut.returncode == 0 and cut.stdout == session[0]
    assert cut.stderr.decode().strip() == (
        f"tapir: warning: {BARCODE} has no valid end of data (power was lost while writing): "
        f"tape file 1 ends at the last flushed record (1 records, {RECORD} bytes)"
    )
    past = tape_file(daemon.state_dir, BARCODE, "2")
    assert one_error_line(text(past), 2).endswith(
        "(power was lost while writing: what the drive had buffered is gone)"
    )
    assert tapir("sim", "stop", "--state", str(daemon.state_dir)).returncode == 0
