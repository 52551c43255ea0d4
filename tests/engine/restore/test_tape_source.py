"""TapeSource's multi-record READs (engine/restore/sources.py) against hwsim drives, in-process
(the drive reads into the source's buffer) and through the daemon (the driver copies into it):
the same records as one READ per record, fewer commands, the block size given back, and a
filemark, end of data or medium error met mid-READ coming after the records before it."""

from __future__ import annotations

import pytest

from devices.events import MediaErrorRecorded
from devices.tape_library import TapeLibrary
from drivers.errors import MediumError
from engine.restore.sources import READ_AHEAD_MAX, TapeSource
from hwsim.faults import Fault
from hwsim.library import SimLibrary
from hwsim.opcodes import SscOpcode
from tests.devices.conftest import KIB, Events, record

RECORD = 16 * KIB
RECORDS = 40


def written(library: TapeLibrary, records: int = RECORDS):
    """A mounted tape holding ``records`` records, a filemark and one more record."""
    tape = library.mount("TST001L8", "drive0")
    for i in range(records):
        tape.write_record(record(RECORD, i))
    tape.write_filemarks()
    tape.write_record(record(RECORD, 99))
    tape.write_filemarks()
    return tape


def reads(devlib: SimLibrary) -> int:
    return devlib.device("drive0").counters.by_opcode.get(SscOpcode.READ_6, 0)


def read_all(source: TapeSource) -> list[bytes]:
    got = []
    while (rec := source.read_record()) is not None:
        got.append(bytes(rec))
    return got


def test_a_stream_reads_several_records_per_command(library: TapeLibrary, devlib) -> None:
    tape = written(library)
    source = TapeSource(tape, "TST001L8", RECORD, lambda _seq: None)
    source.locate(0)
    before = reads(devlib)
    assert read_all(source) == [record(RECORD, i) for i in range(RECORDS)]
    commands = reads(devlib) - before
    assert commands <= 3 + RECORDS // READ_AHEAD_MAX + 1, commands  # 1, 2, 4, then 8 a READ
    assert source.records_read == RECORDS
    assert tape.position() == RECORDS + 1, "stopped after the filemark, as single reads do"
    assert tape.block_size() == RECORD, "fixed blocks while the stream runs"
    source.locate(RECORDS + 1)  # a LOCATE ends the stream: variable blocks again
    assert tape.block_size() == 0
    assert read_all(source) == [record(RECORD, 99)]
    source.close()
    assert tape.block_size() == 0


def test_one_record_at_a_spot_costs_one_read(library: TapeLibrary, devlib) -> None:
    tape = written(library)
    source = TapeSource(tape, "TST001L8", RECORD, lambda _seq: None)
    source.locate(7)
    before = reads(devlib)
    assert bytes(source.read_record() or b"") == record(RECORD, 7)
    assert reads(devlib) - before == 1 and tape.position() == 8
    source.close()


def test_a_medium_error_mid_read_comes_after_the_records_before_it(
    library: TapeLibrary, devlib, events: Events
) -> None:
    tape = written(library)
    bad = 13  # inside the 8-record READ of records 7..14
    devlib.faults.arm(Fault("medium_error", "TST001L8", at_block=bad, op="read"))
    source = TapeSource(tape, "TST001L8", RECORD, lambda _seq: None)
    source.locate(0)
    got = []
    with pytest.raises(MediumError):
        while (rec := source.read_record()) is not None:
            got.append(bytes(rec))
    assert got == [record(RECORD, i) for i in range(bad)]
    assert tape.position() == bad, "the drive stopped at the bad block"
    assert len(events.of(MediaErrorRecorded)) == 1, "recorded once"
    source.locate(bad + 1)  # the next member is reached by LOCATE, as a restore does
    assert bytes(source.read_record() or b"") == record(RECORD, bad + 1)
    source.close()


def test_end_of_data_mid_read(library: TapeLibrary) -> None:
    tape = library.mount("TST001L8", "drive0")
    for i in range(5):
        tape.write_record(record(RECORD, i))
    tape.write_filemarks()
    source = TapeSource(tape, "TST001L8", RECORD, lambda _seq: None)
    source.locate(0)
    assert read_all(source) == [record(RECORD, i) for i in range(5)]
    assert source.read_record() is None, "end of data after the filemark"
    source.close()
