"""Debian's sg3-utils decode hwsim's exact bytes to the values hwsim meant.

CI installs sg3-utils; a missing binary fails these tests rather than skipping them.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from hwsim.faults import Fault

pytestmark = pytest.mark.sg3


def sg(tool: str, *args: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} not found: install Debian's sg3-utils"
    done = subprocess.run([path, *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def hexfile(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_text(data.hex(" "))
    return str(path)


def decode_sense(sense: bytes) -> str:
    return sg("sg_decode_sense", *(f"{b:02x}" for b in sense))


def log_page(tape, page: int) -> bytes:
    return tape.ok(bytes([0x4D, 0, page, 0, 0, 0, 0, 0x10, 0, 0]), data_in_len=4096)


def test_sense_filemark_with_residue(tape):
    tape.wfm(1)
    tape.rewind()
    out = decode_sense(tape.run(tape.read_cdb(10), data_in_len=10).sense)
    assert "Sense key: No Sense" in out and "Filemark detected" in out
    assert "FMK" in out and "Info fld=0xa " in out


def test_sense_early_warning_eom(tape):
    while (result := tape.run(tape.write_cdb(65536), b"w" * 65536)).status == 0:
        pass
    out = decode_sense(result.sense)
    assert "End-of-partition/medium detected" in out and "EOM" in out


def test_sense_negative_ili_residue_fixed_and_descriptor(tape):
    tape.write(b"y" * 100)
    tape.rewind()
    out = decode_sense(tape.run(tape.read_cdb(60), data_in_len=60).sense)
    assert "Fixed format" in out and "ILI" in out
    assert "Info fld=0xffffffd8" in out  # -40
    tape.drive.descriptor_sense = True
    tape.rewind()
    out = decode_sense(tape.run(tape.read_cdb(60), data_in_len=60).sense)
    assert "Descriptor format" in out and "ILI" in out
    assert "Information: 0xffffffffffffffd8" in out


def test_sense_blank_check_and_eod_not_found(tape):
    out = decode_sense(tape.run(tape.read_cdb(10), data_in_len=10).sense)
    assert "Blank Check" in out and "End-of-data detected" in out
    tape.write(b"x")
    tape.drive.power_off()
    tape.drive.power_on()
    tape.settle()
    out = decode_sense(tape.run(tape.read_cdb(10), data_in_len=10).sense)
    assert "Medium Error" in out and "End-of-data not found" in out


def test_sense_medium_error_and_illegal_field(tape, faults):
    faults.arm(Fault("medium_error", "000001L8", at_block=0, op="write"))
    out = decode_sense(tape.run(tape.write_cdb(8), b"x" * 8).sense)
    assert "Medium Error" in out and "Write error" in out and "Info fld=0x8 " in out
    out = decode_sense(tape.run(bytes([0x11, 2, 0, 0, 1, 0])).sense)
    assert "Illegal Request" in out and "Invalid field in cdb" in out
    assert "Error in Command: byte 1 bit 3" in out


def test_standard_inquiry(tape, tmp_path):
    data = tape.ok(bytes([0x12, 0, 0, 0, 96, 0]), data_in_len=96)
    out = sg("sg_inq", f"--inhex={hexfile(tmp_path, 'inq.hex', data)}")
    assert "Peripheral device type: tape" in out
    assert re.search(r"Vendor identification: HWSIM", out)
    assert re.search(r"Product identification: ULTRIUM-TD8", out)
    assert re.search(r"Product revision level: L800", out)


def test_vpd_serial_and_device_identification(tape, tmp_path):
    serial = tape.ok(bytes([0x12, 1, 0x80, 0, 96, 0]), data_in_len=96)
    out = sg("sg_vpd", f"--inhex={hexfile(tmp_path, 'v80.hex', serial)}")
    assert "Unit serial number: SIMDRV0001" in out
    ident = tape.ok(bytes([0x12, 1, 0x83, 0, 255, 0]), data_in_len=255)
    out = sg("sg_vpd", f"--inhex={hexfile(tmp_path, 'v83.hex', ident)}")
    assert "T10 vendor identification" in out and "vendor id: HWSIM" in out
    assert "ULTRIUM-TD8     SIMDRV0001" in out
    naa = ident[-8:].hex()
    assert "NAA" in out and f"0x{naa}" in out


def test_log_sequential_access_counters(tape, tmp_path):
    tape.write(b"x" * 2_000_000)
    tape.wfm(1)
    tape.drive.stats.from_initiator = 7_000_000_000
    tape.drive.request_cleaning()
    out = sg("sg_logs", f"--in={hexfile(tmp_path, 'l0c.hex', log_page(tape, 0x0C))}", "--pdt=1")
    assert "Data bytes received with WRITE commands: 7 GB" in out
    assert "Native capacity from BOP to EOD: 2 MB" in out
    assert "Native capacity from BOP to EW of current partition: 3 MB" in out
    assert "Cleaning action required" in out


def test_log_tapealert_flag_set(tape, tmp_path):
    tape.drive.tapealert.set(0x05)
    out = sg("sg_logs", f"--in={hexfile(tmp_path, 'l2e.hex', log_page(tape, 0x2E))}", "--pdt=1")
    assert "Read failure: 1" in out
    assert "Write failure: 0" in out
    assert len(re.findall(r": 1$", out, re.MULTILINE)) == 1


def test_log_tape_capacity(tape, tmp_path):
    tape.write(b"x" * (1 << 20))
    tape.wfm(0)
    out = sg("sg_logs", f"--in={hexfile(tmp_path, 'l31.hex', log_page(tape, 0x31))}", "--pdt=1")
    assert "Main partition remaining capacity (in MiB): 3" in out
    assert "Main partition maximum capacity (in MiB): 4" in out


def test_read_attribute_mam(tape, tmp_path):
    label = b"monthly archive"
    params = struct.pack(">I", 5 + len(label)) + struct.pack(">HBH", 0x0803, 0x02, len(label))
    cdb = bytes([0x8D]) + bytes(9) + struct.pack(">I", len(params) + len(label)) + bytes(2)
    tape.ok(cdb, params + label)
    tape.write(b"x" * 10)
    tape.wfm(1)
    data = tape.ok(bytes([0x8C]) + bytes(9) + struct.pack(">I", 4096) + bytes(2), data_in_len=4096)
    out = sg("sg_read_attr", f"--in={hexfile(tmp_path, 'mam.hex', data)}")
    serial = tape.drive.cartridge.mam.medium_serial
    assert re.search(r"Barcode: 000001L8", out)
    assert "Load count: 1" in out
    assert f"Medium serial number: {serial}" in out
    assert "User medium text label: monthly archive" in out
    written = tape.drive.cartridge.mam.last_written
    assert re.fullmatch(r"\d{12}", written) and f"Date and time last written: {written}" in out
