"""RunLength (engine/backup/plain_runs.py): how many names of a plain run go in one batch."""

from __future__ import annotations

from engine.backup.plain_runs import RunLength

MIB = 1 << 20


def test_starts_small_then_fills_the_buffer_at_the_sizes_seen() -> None:
    length = RunLength(most=64, room=MIB, late_most=4)
    assert length.value == 8  # until sizes are known: a batch's bytes pace the checkpoints
    length.observe(names=8, members=8, used=8 * 10_000, late=0)
    assert length.value == 64  # 0.75 MiB / 10 KB is 78: capped at most
    length.observe(names=64, members=64, used=64 * 60_000, late=0)
    assert 4 <= length.value < 64  # the running average moved towards 60 KB a member
    for _ in range(30):
        length.observe(names=length.value, members=length.value, used=length.value * 60_000,
                       late=0)  # fmt: skip
    assert length.value == int(MIB * 0.75 / 60_000)


def test_large_files_the_format_stage_streams_keep_batches_short() -> None:
    length = RunLength(most=64, room=MIB, late_most=4)
    length.observe(names=8, members=8, used=8 * 1_000, late=0)
    assert length.value == 64
    length.observe(names=64, members=0, used=0, late=64)  # a directory of large files
    assert length.value == 4  # about late_most streamed files between two checkpoint checks
    length.observe(names=4, members=2, used=2 * 1_000, late=2)
    assert length.value == 8
    length.observe(names=8, members=8, used=8 * 1_000, late=0)
    assert length.value == 64  # small files again


def test_never_below_least() -> None:
    length = RunLength(most=64, room=64 * 1024, late_most=1, least=4)
    length.observe(names=64, members=1, used=60_000, late=63)
    assert length.value == 4
