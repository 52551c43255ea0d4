"""Drive speed: buffer fill against the tape draining at native rate, underruns, tape time.

A drive streams when the host keeps its buffer from running empty. The host fills the
buffer with each WRITE; the tape drains it at the native rate from the moment data arrives.
If the buffer runs empty while the host is still writing (the next WRITE finds it empty) the
tape had to stop, back up and restart: a buffer underrun ("shoe-shining"), which costs a
reposition. Flushes (WRITE FILEMARKS, rewind, locate) stop the tape on purpose: counted as
tape stops. ``sim_time`` accumulates tape motion: data written and read at native rate,
repositions, and locates/rewinds modelled as a fixed overhead plus a high-speed wind
proportional to distance. With ``realtime`` the host is slowed to the native rate when the
buffer is full, as a real drive would by not accepting data.

``clock`` is injectable (tests pass a fake one); it is read, never advanced here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hwsim.models import DriveModel

LOCATE_OVERHEAD_S = 1.5  # stop, change direction, settle before a high-speed wind


@dataclass
class SpeedModel:
    model: DriveModel
    clock: Callable[[], float] = time.monotonic
    realtime: bool = False
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.level = 0.0
        self.streaming = False
        self.starved = False
        self.last = self.clock()
        self.sim_time = 0.0
        self.underruns = 0
        self.tape_stops = 0
        self.bytes_written = 0
        self.bytes_read = 0

    @property
    def rate(self) -> int:
        return self.model.native_rate

    def _drain(self) -> None:
        now = self.clock()
        elapsed, self.last = max(0.0, now - self.last), now
        if not self.streaming:
            return
        drained = min(self.level, elapsed * self.rate)
        self.level -= drained
        self.sim_time += drained / self.rate
        if self.level <= 0:
            self.level = 0.0
            self.streaming = False
            self.starved = True

    def write(self, nbytes: int) -> None:
        """The host handed ``nbytes`` to the drive buffer."""
        self._drain()
        if self.starved:
            self.underruns += 1
            self.sim_time += self.model.reposition_s
            self.starved = False
        self.level += nbytes
        self.bytes_written += nbytes
        self.streaming = True
        excess = self.level - self.model.buffer_bytes
        if excess > 0:  # the host must wait for the tape to make room
            wait = excess / self.rate
            self.level -= excess
            self.sim_time += wait
            if self.realtime:
                self.sleep(wait)
                self.last = self.clock()

    def read(self, nbytes: int) -> None:
        """``nbytes`` came off the tape (read-ahead streams at native rate)."""
        self._drain()
        self.bytes_read += nbytes
        self.sim_time += nbytes / self.rate

    def flush(self) -> None:
        """Write out the buffer and stop the tape."""
        self._drain()
        if self.level > 0 or self.streaming or self.starved:
            self.sim_time += self.level / self.rate
            self.tape_stops += 1
        self.level = 0.0
        self.streaming = self.starved = False

    def wind(self, distance: int, capacity: int) -> None:
        """A locate, space or rewind over ``distance`` bytes of a ``capacity``-byte tape."""
        self.flush()
        fraction = min(1.0, distance / capacity) if capacity else 0.0
        self.sim_time += LOCATE_OVERHEAD_S + self.model.full_seek_s * fraction

    def load(self) -> None:
        self.sim_time += self.model.load_s

    def unload(self) -> None:
        self.flush()
        self.sim_time += self.model.unload_s

    def status(self) -> dict[str, Any]:
        return {
            "native_rate": self.rate,
            "buffer_bytes": self.model.buffer_bytes,
            "buffer_level": int(self.level),
            "streaming": self.streaming,
            "underruns": self.underruns,
            "tape_stops": self.tape_stops,
            "simulated_time_s": round(self.sim_time, 6),
        }

    def to_state(self) -> dict[str, Any]:
        return {
            "sim_time": self.sim_time,
            "underruns": self.underruns,
            "tape_stops": self.tape_stops,
        }

    def restore_state(self, raw: dict[str, Any]) -> None:
        self.sim_time = float(raw.get("sim_time", 0.0))
        self.underruns = int(raw.get("underruns", 0))
        self.tape_stops = int(raw.get("tape_stops", 0))
