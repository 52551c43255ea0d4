"""Checkpoint bookkeeping (rows released only when covered by flushed records, spilled to
disk past a bound) and the write stage (order, back-pressure, failures raised on the format
thread)."""

from __future__ import annotations

import pickle
import threading

import pytest

from engine.backup import checkpoint
from engine.backup.checkpoint import CatalogStage, PendingRows
from engine.backup.write_stage import WriteStage
from engine.catalog.files_model import Change, FileRow, join_path, split_path
from engine.catalog.row_staging import PlainBlob, PlainRows, row_count


def test_rows_are_released_only_up_to_the_covered_position(monkeypatch) -> None:
    monkeypatch.setattr(checkpoint, "SPILL_ROWS", 10)
    pending = PendingRows()
    for i in range(25):  # member i ends at byte 100 * i of part 0
        row = FileRow(b"/a/%d" % i, "file", change=Change.ADDED, checksum=bytes(16))
        pending.add(row, (0, 100 * i), covered=(0, 1500))
    sealed = pending.cut((0, 2000))
    rows = [r for batch in sealed.batches(7) for r in batch]
    assert [r.path for r in rows] == [b"/a/%d" % i for i in range(21)]
    assert rows[3].change is Change.ADDED and rows[3].checksum == bytes(16)
    assert len(pending) == 4  # members ending after the flushed records wait
    rest = [r.path for b in pending.cut((1, 0)).batches() for r in b]
    assert rest == [b"/a/%d" % i for i in range(21, 25)]


def test_catalog_stage_commits_in_order_and_raises_a_failure() -> None:
    got: list[bytes] = []
    stage = CatalogStage(lambda rows: got.extend(r.path for r in rows))
    pending = PendingRows()
    for i in range(3):
        pending.add(FileRow(b"/%d" % i, "file"), (0, i), (0, 0))
    stage.submit(pending.cut((0, 10)))
    stage.close()
    assert got == [b"/0", b"/1", b"/2"] and stage.committed == 3

    def broken(rows: list[FileRow]) -> None:
        raise RuntimeError("database is locked")

    failing = CatalogStage(broken)
    pending.add(FileRow(b"/x", "file"), (0, 0), (0, 0))
    failing.submit(pending.cut((0, 1)))
    with pytest.raises(RuntimeError, match="locked"):
        failing.close()


class SlowVolumes:
    def __init__(self, fail_at: int | None = None) -> None:
        self.records: list[bytes] = []
        self.commands: list[int] = []
        """Records per ``write_records`` call."""
        self.flushed = 0
        self.fail_at = fail_at
        self.gate = threading.Event()
        self.gate.set()

    def write_record(self, record: memoryview) -> bool:
        self.gate.wait()
        if self.fail_at is not None and len(self.records) == self.fail_at:
            raise OSError(5, "drive0: medium error")
        self.records.append(bytes(record))
        return len(self.records) >= 3

    def write_records(self, span: memoryview, count: int) -> bool:
        self.commands.append(count)
        size = len(span) // count
        warned = False
        for i in range(count):
            warned = self.write_record(span[i * size : (i + 1) * size])
        return warned

    def next_volume(self, seq: int) -> None:
        self.records.append(b"--volume %d--" % seq)

    def flush(self) -> None:
        self.flushed = len(self.records)


def _fill(stage: WriteStage, sent: list[bytes], n: int, buffer: memoryview | None = None) -> None:
    """Write ``n`` records as the format stage does: a fresh buffer, filled, handed back."""
    for _ in range(n):
        buffer = buffer if buffer is not None else stage.fresh_buffer()
        buffer[:] = bytes([len(sent) % 256]) * len(buffer)
        sent.append(bytes(buffer))
        stage.write_record(buffer)
        buffer = None


def test_write_stage_writes_each_group_in_one_command_in_order_and_bounds_buffers() -> None:
    volumes = SlowVolumes()
    stage = WriteStage(volumes, 512, depth=16).start()
    assert stage.span == 8
    volumes.gate.clear()
    sent: list[bytes] = []
    _fill(stage, sent, 16)  # two groups: one being written (held), one queued
    got: list[memoryview] = []
    waiter = threading.Thread(target=lambda: got.append(stage.fresh_buffer()))
    waiter.start()
    waiter.join(0.3)
    assert not got  # no free buffer until the device moves
    volumes.gate.set()
    waiter.join(5)
    assert got
    _fill(stage, sent, 1, got[0])
    _fill(stage, sent, 1)
    stage.flush()  # a barrier sends the group's part filled so far...
    assert volumes.commands == [8, 8, 2] and volumes.flushed == 18
    _fill(stage, sent, 6)
    stage.drain()  # ...and the rest of that group follows as one command
    assert volumes.commands == [8, 8, 2, 6] and volumes.records == sent
    assert stage.records == 24 and stage.early_warning
    stage.next_volume(1)
    assert not stage.early_warning and volumes.records[-1] == b"--volume 1--"
    stage.close()


def test_write_stage_writes_a_buffer_of_its_own_alone_after_what_came_before() -> None:
    volumes = SlowVolumes()
    stage = WriteStage(volumes, 512, depth=16).start()
    sent: list[bytes] = []
    _fill(stage, sent, 3)
    _fill(stage, sent, 1, memoryview(bytearray(512)))  # not a slot of the stage
    _fill(stage, sent, 5)
    stage.drain()
    assert volumes.records == sent
    assert volumes.commands == [3, 5]  # the foreign record went alone, by write_record
    stage.close()


def test_write_stage_failure_is_raised_on_the_next_call() -> None:
    volumes = SlowVolumes(fail_at=1)
    stage = WriteStage(volumes, 512, depth=2).start()
    stage.write_record(memoryview(b"a" * 512))
    stage.write_record(memoryview(b"b" * 512))
    with pytest.raises(OSError, match="medium error"):
        stage.drain()
    with pytest.raises(OSError):
        stage.write_record(memoryview(b"c" * 512))
    stage.close()


class RecordingStaging:
    """A staging catalog kept in lists (engine/catalog/files_staging.py is the real one)."""

    def __init__(self) -> None:
        self.staged: list[bytes] = []
        self.published = 0
        self.closed = False

    def stage(self, rows: list[FileRow | PlainRows | PlainBlob]) -> int:
        for row in rows:
            if isinstance(row, PlainRows):
                self.staged += [plain[0] for plain in row]
            elif isinstance(row, PlainBlob):
                self.staged += [join_path(bytes(h[0]), bytes(h[1])) for h in row.heads()]
            else:
                self.staged.append(row.path)
        return row_count(rows)

    def publish(self, upto: int) -> int:
        added, self.published = upto - self.published, upto
        return added

    def close(self) -> None:
        self.closed = True


def _staged(monkeypatch) -> tuple[RecordingStaging, CatalogStage, checkpoint.StagedRows]:
    """A staging catalog stage taking 4 rows per staging call, and its pending rows."""
    monkeypatch.setattr(checkpoint, "STAGE_ROWS", 4)
    staging = RecordingStaging()
    stage = CatalogStage(None, staging=staging)
    points = checkpoint.Checkpoints(1 << 40, 1e9, lambda: None, stage)
    pending = points.pending
    assert isinstance(pending, checkpoint.StagedRows)
    return staging, stage, pending


def test_staged_rows_go_ahead_but_are_published_only_when_covered(monkeypatch) -> None:
    staging, stage, pending = _staged(monkeypatch)
    for i in range(10):  # member i ends at byte 100 * i of part 0, then part 1
        pending.add(FileRow(b"/a/%d" % i, "file"), (i // 8, 100 * i), (0, 0))
    stage.submit(pending.cut((0, 350)))  # members 0-3 end at or before 350
    assert len(pending) == 6
    stage.submit(pending.cut((1, 800)))  # part 1 up to 800: members 4-8
    stage.close()
    assert staging.staged == [b"/a/%d" % i for i in range(10)]  # all staged, in order
    assert staging.published == 9 and stage.committed == 9 and staging.closed
    assert len(pending) == 1


def test_plain_rows_are_staged_as_one_chunk_and_counted_one_by_one(monkeypatch) -> None:
    staging, stage, pending = _staged(monkeypatch)
    pending.add(FileRow(b"/a/0", "file"), (0, 100), (0, 0))
    plain = [(b"/a/%d" % i,) for i in range(1, 6)]  # members 1-5 end at 200..600
    pending.extend_plain(plain, [(0, 100 * (i + 1)) for i in range(1, 6)], (0, 0))
    assert len(pending) == 6
    pending.add(FileRow(b"/a/6", "file"), (0, 700), (0, 0))
    stage.submit(pending.cut((0, 450)))  # members 0-3
    assert len(pending) == 3
    stage.submit(pending.cut((0, 700)))
    stage.close()
    assert staging.staged == [b"/a/%d" % i for i in range(7)]
    assert staging.published == 7 and stage.committed == 7


def _blob(paths: list[bytes]) -> PlainBlob:
    """Row heads as a reader worker pickles them (row_staging.STAGED_FIELDS)."""
    heads = [(*map(bytearray, split_path(p)), bytearray(16), "file", 7, 0o100644, 0, 0, "root",
              "root", 1, 2, 3, 4, 1) for p in paths]  # fmt: skip
    placed = [(i, 512 * i) for i in range(len(paths))]
    return PlainBlob(pickle.dumps(heads), 2, placed)


def test_blob_rows_stay_one_blob_to_the_staging_and_count_one_by_one(monkeypatch) -> None:
    staging, stage, pending = _staged(monkeypatch)
    pending.add(FileRow(b"/a/0", "file"), (0, 100), (0, 0))
    blob = _blob([b"/a/%d" % i for i in range(1, 6)])  # members 1-5 end at 200..600
    pending.extend_blob(blob, [(0, 100 * (i + 1)) for i in range(1, 6)], (0, 0))
    assert len(pending) == 6
    stage.submit(pending.cut((0, 450)))  # members 0-3
    assert len(pending) == 2
    stage.submit(pending.cut((0, 600)))
    stage.close()
    assert staging.staged == [b"/a/%d" % i for i in range(6)]
    assert staging.published == 6


def test_blob_rows_become_whole_rows_for_a_catalog_without_staging() -> None:
    pending = PendingRows()
    pending.extend_blob(_blob([b"/b/x", b"/b/y"]), [(0, 100), (0, 200)], (0, 0))
    rows = [r for batch in pending.cut((0, 150)).batches() for r in batch]
    assert [(r.path, r.part, r.record, r.offset, r.size, r.checksum) for r in rows] == [
        (b"/b/x", 2, 0, 0, 7, bytes(16))
    ]
    (rest,) = [r for batch in pending.cut((0, 200)).batches() for r in batch]
    assert (rest.path, rest.record, rest.offset, rest.change) == (b"/b/y", 1, 512, None)
