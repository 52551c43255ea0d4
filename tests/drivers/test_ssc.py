"""SscDriver commands against hwsim's drive, in-process and through the daemon (``via``)."""

from __future__ import annotations

import pytest

from drivers.errors import BlankCheck, IllegalRequest, NotReady
from drivers.spc_data import DesignatorType
from drivers.ssc import SscDriver
from drivers.ssc_data import LocateDest, ReadKind, SpaceCode, SpaceStop
from drivers.tapealert import TapeAlertFlag
from tests.hwsim.conftest import TEST_CAPACITY, Tape

MIB = 1 << 20


def test_identity_pages_and_luns(ssc: SscDriver) -> None:
    inq = ssc.inquiry()
    assert (inq.peripheral_type, inq.vendor, inq.product, inq.revision) == (
        1,
        "HWSIM",
        "ULTRIUM-TD8",
        "L800",
    )
    assert inq.removable
    assert ssc.supported_vpd_pages() == [0x00, 0x80, 0x83]
    assert ssc.serial_number() == "SIMDRV0001"
    ids = {d.designator_type: d for d in ssc.device_identifiers()}
    assert ids[DesignatorType.T10_VENDOR_ID].text.endswith("SIMDRV0001")
    assert len(ids[DesignatorType.NAA].value) == 8 and ids[DesignatorType.NAA].value[0] >> 4 == 5
    assert ssc.report_luns() == [0]
    assert ssc.request_sense() is None


def test_block_limits_and_densities(ssc: SscDriver) -> None:
    limits = ssc.read_block_limits()
    assert (limits.min_block_length, limits.max_block_length) == (1, 8 * MIB)
    mounted = ssc.report_density_support(media=True)
    assert [(d.primary_code, d.writable, d.description) for d in mounted] == [
        (0x5E, True, "Ultrium 8 Data")
    ]
    assert 0x5C in [d.primary_code for d in ssc.report_density_support()]


def test_variable_write_read_and_positions(ssc: SscDriver) -> None:
    assert ssc.write(b"a" * 1000).early_warning is False
    ssc.write(b"b" * 10)
    pos = ssc.position()
    assert (pos.first, pos.last, pos.buffered_objects, pos.buffered_bytes) == (2, 0, 2, 1010)
    ssc.write_filemarks(1)
    pos = ssc.position()
    assert (pos.first, pos.buffered_objects, pos.bop) == (3, 0, False)
    assert ssc.position_long().file == 1
    ssc.rewind()
    assert ssc.position().bop
    first = ssc.read(1000)
    assert (first.kind, first.data, first.residue, first.record_length) == (
        ReadKind.DATA,
        b"a" * 1000,
        0,
        1000,
    )
    assert ssc.read(10).data == b"b" * 10
    mark = ssc.read(10)
    assert (mark.kind, mark.data, mark.residue) == (ReadKind.FILEMARK, b"", 10)
    end = ssc.read(10)
    assert (end.kind, end.residue) == (ReadKind.END_OF_DATA, 10)


def test_fixed_block_mode(ssc: SscDriver) -> None:
    ssc.set_block_size(512)
    assert ssc.mode().block_size == 512
    ssc.write_fixed(bytes(range(256)) * 8, 512)  # 4 blocks
    ssc.write_filemarks(1)
    ssc.rewind()
    got = ssc.read_fixed(3, 512)
    assert (got.kind, len(got.data), got.residue) == (ReadKind.DATA, 1536, 0)
    rest = ssc.read_fixed(4, 512)  # one block, then the filemark: 3 blocks not read
    assert (rest.kind, len(rest.data), rest.residue) == (ReadKind.FILEMARK, 512, 3)
    with pytest.raises(ValueError):
        ssc.write_fixed(b"x" * 100, 512)
    ssc.set_block_size(0)
    assert ssc.mode().block_size == 0


def test_fixed_writes_of_different_counts_each_write_their_own(ssc: SscDriver) -> None:
    """The CDB of each count is encoded once and reused: 4 blocks, 2, then 4 again."""
    ssc.set_block_size(512)
    for fill, blocks in ((b"a", 4), (b"b", 2), (b"c", 4)):
        ssc.write_fixed(fill * 512 * blocks, 512)
    ssc.write_filemarks(1)
    ssc.rewind()
    got = ssc.read_fixed(11, 512)
    assert (got.kind, got.residue) == (ReadKind.FILEMARK, 1)
    assert got.data == b"a" * 2048 + b"b" * 1024 + b"c" * 2048
    ssc.set_block_size(0)


def test_fixed_read_of_a_wrong_length_block(ssc: SscDriver) -> None:
    ssc.write(b"s" * 100)
    ssc.rewind()
    ssc.set_block_size(512)
    got = ssc.read_fixed(2, 512)
    assert (got.kind, got.ili, got.residue, got.record_length) == (ReadKind.DATA, True, 2, None)


def test_space_blocks_filemarks_and_end_of_data(ssc: SscDriver) -> None:
    for i in range(3):
        ssc.write(bytes([i]) * 10)
    ssc.write_filemarks(1)
    ssc.write(b"z" * 10)
    ssc.write_filemarks(1)
    ssc.rewind()
    assert ssc.space(2).stop is SpaceStop.COMPLETED
    hit = ssc.space(5)  # one block, then the filemark at 3
    assert (hit.stop, hit.residue, ssc.position().first) == (SpaceStop.FILEMARK, 4, 4)
    back = ssc.space(-10)
    assert (back.stop, back.residue) == (SpaceStop.FILEMARK, -10)
    ssc.rewind()
    assert ssc.space(2, SpaceCode.FILEMARKS).stop is SpaceStop.COMPLETED
    assert ssc.position().first == 6
    eod = ssc.space(1 << 40)  # SPACE(16); the residue does not fit fixed-format sense
    assert (eod.stop, eod.residue) == (SpaceStop.END_OF_DATA, 0)
    ssc.locate(6)
    eod = ssc.space(1 << 24)  # SPACE(16) with a residue that fits
    assert (eod.stop, eod.residue) == (SpaceStop.END_OF_DATA, (1 << 24))
    ssc.locate(1)
    bop = ssc.space(-3)
    assert (bop.stop, bop.residue) == (SpaceStop.BEGINNING_OF_PARTITION, -2)
    ssc.rewind()
    ssc.space_to_end_of_data()
    assert ssc.position().first == 6


def test_locate_forms(ssc: SscDriver) -> None:
    for i in range(4):
        ssc.write(bytes([i]) * 10)
        ssc.write_filemarks(1)
    ssc.locate(2)
    assert ssc.read(10).data == b"\x01" * 10
    ssc.locate_16(3, LocateDest.FILE)
    assert ssc.read(10).data == b"\x03" * 10
    ssc.locate_16(0, LocateDest.END_OF_DATA)
    assert ssc.position().first == 8
    ssc.locate_16(4)
    assert ssc.position_long().file == 2
    with pytest.raises(BlankCheck) as err:
        ssc.locate(100)
    assert err.value.sense.code == "00/05"
    assert ssc.position().first == 8


def test_erase_makes_end_of_data_here(ssc: SscDriver) -> None:
    ssc.write(b"a" * 10)
    ssc.write(b"b" * 10)
    ssc.write_filemarks(0)
    ssc.locate(1)
    ssc.erase()
    ssc.rewind()
    assert ssc.read(10).kind is ReadKind.DATA
    assert ssc.read(10).kind is ReadKind.END_OF_DATA


def test_unload_load_and_prevent_removal(ssc: SscDriver) -> None:
    ssc.prevent_removal(True)
    with pytest.raises(IllegalRequest) as err:
        ssc.unload()
    assert err.value.sense.code == "53/02"
    ssc.prevent_removal(False)
    ssc.unload()
    with pytest.raises(NotReady) as err:
        ssc.test_unit_ready()
    assert err.value.sense.code == "04/02"
    ssc.load()
    ssc.test_unit_ready()


def test_compression_and_device_configuration(ssc: SscDriver, tape: Tape) -> None:
    assert ssc.compression().enabled and ssc.compression().capable
    ssc.set_compression(False)
    assert not ssc.compression().enabled
    assert tape.drive.compression is False
    assert tape.drive.buffered_mode == 1  # MODE SELECT kept buffered mode
    ssc.set_compression(True)
    assert ssc.compression().enabled
    config = ssc.device_configuration()
    assert (config.sync_at_early_warning, config.eod_defined, config.compression_algorithm) == (
        True,
        3,
        1,
    )
    mode = ssc.mode()
    assert (mode.density_code, mode.write_protected, mode.worm, mode.buffered_mode) == (
        0x5E,
        False,
        False,
        1,
    )


def test_logs_and_cartridge_memory(ssc: SscDriver) -> None:
    assert {0x00, 0x0C, 0x2E, 0x31} <= set(ssc.supported_log_pages())
    ssc.write(b"x" * 4096)
    ssc.write_filemarks(1)
    ssc.rewind()
    ssc.read(100)
    counters = ssc.sequential_access_counters()
    assert (counters.from_initiator, counters.to_medium, counters.to_initiator) == (4096, 4096, 100)
    assert not counters.cleaning_required
    capacity = ssc.tape_capacity()
    assert capacity.maximum == TEST_CAPACITY // MIB
    assert capacity.remaining == (TEST_CAPACITY - 4096 - 1) // MIB or capacity.remaining <= 4
    assert ssc.tapealerts().active == frozenset()
    mam = ssc.cartridge_memory()
    assert (mam.barcode, mam.load_count, mam.maximum_mib) == ("000001L8", 1, TEST_CAPACITY // MIB)
    assert mam.medium_serial and mam.last_written and len(mam.last_written) == 12
    assert TapeAlertFlag.CLEAN_NOW.label == "Clean now"
