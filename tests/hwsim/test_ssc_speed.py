"""Speed model: streaming, underruns (shoe-shining), tape stops, simulated time, realtime."""

from __future__ import annotations

import dataclasses

import pytest

from hwsim.models import DRIVE_MODELS, model_by_name
from hwsim.speed import LOCATE_OVERHEAD_S, SpeedModel


def test_fast_host_streams_without_underruns(tape):
    for _ in range(20):
        tape.write(b"x" * 1000)  # the fake clock stands still: the host is infinitely fast
    assert tape.drive.speed.underruns == 0


def test_slow_host_causes_underruns_and_repositions(tape, clock):
    rate = tape.drive.model.native_rate
    before = tape.drive.speed.sim_time
    for _ in range(5):
        tape.write(b"x" * 1000)
        clock.advance(1000 / rate * 10)  # the buffer drains long before the next record
    speed = tape.drive.speed
    assert speed.underruns == 4
    assert speed.sim_time - before == pytest.approx(
        4 * tape.drive.model.reposition_s + 4 * 1000 / rate
    )
    assert tape.drive.status()["underruns"] == 4


def test_flush_counts_a_tape_stop(tape):
    tape.write(b"x" * 1000)
    stops = tape.drive.speed.tape_stops
    tape.wfm(0)
    assert tape.drive.speed.tape_stops == stops + 1


def test_locate_costs_overhead_plus_distance(tape):
    for _ in range(10):
        tape.write(b"x" * 100_000)
    tape.wfm(0)
    before = tape.drive.speed.sim_time
    tape.ok(tape.locate_cdb(0))
    full = tape.drive.model.full_seek_s
    expected = LOCATE_OVERHEAD_S + full * 1_000_000 / tape.drive.cartridge.capacity
    assert tape.drive.speed.sim_time - before == pytest.approx(expected)


def test_realtime_throttles_a_full_buffer():
    now = [0.0]
    slept: list[float] = []
    model = dataclasses.replace(model_by_name("LTO-5"), buffer_bytes=1000)
    speed = SpeedModel(model, lambda: now[0], realtime=True, sleep=slept.append)
    speed.write(800)
    speed.write(800)
    assert slept == [pytest.approx(600 / model.native_rate)]


def test_every_model_is_consistent():
    for name, model in DRIVE_MODELS.items():
        assert model.name == name and model.native_rate > 0 and model.buffer_bytes > 0
        assert model.writes <= model.reads
    with pytest.raises(ValueError, match="unknown drive model 'LTO-3'; known: LTO-5"):
        model_by_name("LTO-3")
