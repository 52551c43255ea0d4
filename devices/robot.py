"""The changer command path of a TapeLibrary: unit attentions, door, robot retries.

Every changer command goes through ``Robot.run``:
- UNIT ATTENTION (28/00 door closed, 28/01 I/E accessed, 29/00 reset) is consumed, reported as
  ``ChangerAttention`` and sets ``stale`` so the library re-reads its inventory; the command is
  sent again;
- NOT READY 04/83 or 04/18 (door open) raises ``DoorOpen``; NOT READY 04/01 (re-scanning after
  the door closed) is waited out for at most ``READY_POLLS`` checks;
- HARDWARE ERROR 15/01 (mechanical positioning) is a transient robot failure: retried up to
  ``retries`` times, ``delay_s`` apart (``RobotRetry`` events), then ``RobotFailure``. Before a
  retry ``done()`` may tell that the robot finished the move after all, so it is not repeated.
Anything else raises the driver's ``ScsiError``. Not thread-safe (the library's thread).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from devices.errors import DoorOpen, RobotFailure
from devices.events import ChangerAttention, EventSink, RobotRetry
from drivers.errors import HardwareError, NotReady, UnitAttention

T = TypeVar("T")

MAX_ATTENTIONS = 8
READY_POLLS = 30  # a library re-scanning after its door closed answers 04/01 for a while
ROBOT_POSITIONING = (0x15, 0x01)
DOOR_OPEN = {(0x04, 0x83), (0x04, 0x18)}
BECOMING_READY = {(0x04, 0x00), (0x04, 0x01)}


class Robot:
    """Retry policy of one library's changer; ``stale`` is True after anything that may have
    changed what is where (an attention, a retried move)."""

    def __init__(
        self,
        name: str,
        emit: EventSink,
        *,
        retries: int,
        delay_s: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.name = name
        self.emit = emit
        self.retries = retries
        self.delay_s = delay_s
        self.sleep = sleep
        self.stale = True

    def run(
        self, what: str, fn: Callable[..., T], *args: object, done: Callable[[], bool] | None = None
    ) -> T | None:
        """Run a changer command: attentions consumed, robot failures retried, door reported.
        ``done``: after a robot failure, True when the operation happened anyway."""
        failures = attentions = polls = 0
        while True:
            try:
                return fn(*args)
            except UnitAttention as exc:
                attentions += 1
                self.stale = True
                sense = exc.sense
                self.emit(ChangerAttention(self.name, asc=sense.asc or 0, ascq=sense.ascq or 0))
                if attentions > MAX_ATTENTIONS:
                    raise
            except NotReady as exc:
                code = (exc.sense.asc, exc.sense.ascq)
                if code in DOOR_OPEN:
                    raise DoorOpen(
                        self.name,
                        f"{self.name}: the library door is open, so {what} is not possible; "
                        "close the door and retry.",
                    ) from exc
                if code not in BECOMING_READY or polls >= READY_POLLS:
                    raise
                polls += 1
                self.sleep(self.delay_s)
            except HardwareError as exc:
                if (exc.sense.asc, exc.sense.ascq) != ROBOT_POSITIONING:
                    raise
                failures += 1
                if failures > self.retries:
                    raise RobotFailure(
                        self.name,
                        f"{self.name}: the robot failed {failures} times {what} "
                        f"({exc.sense.describe()}); check the robot, then refresh the inventory.",
                    ) from exc
                self.stale = True
                self.emit(RobotRetry(self.name, attempt=failures, detail=exc.sense.describe()))
                self.sleep(self.delay_s)
                if done is not None and done():
                    return None
