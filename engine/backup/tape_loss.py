"""What a failed write to a tape means for the tape and the job (issue 7).

Called by the tape target (target_tape.py) when a WRITE, a flush or a filemark fails. The
device's exception is turned into one job-level error that names the drive, the tape and the
job, after the tape's state is settled so no later session appends to it:

- Power loss. Signs: the drive stops answering (a transport error: powered off, gone from the
  bus) and later answers with a power-on unit attention; or the attention arrives on the next
  WRITE (``DriveReset``). The drive waits ``drive_wait_s`` for the drive to answer again; the
  attention is consumed by ``TapeDrive``, which records the power loss (time, session note,
  last flushed block) and makes the medium SUSPECT (devices/media_rules.py). ``PowerLoss``.
- Drive lost: the drive did not answer again within the wait, or came back without a reset
  (its buffer and position cannot be trusted either). The medium is made SUSPECT here, with
  the same facts. ``DriveLost``.
- Medium write error (``MediumError``): the drive recorded it (freeze and drive-down rules);
  the tape is closed FULL at the last good block unless the rules froze it. ``MediumWriteFailed``.
Everything flushed before the failure stays in the catalog and restores from the tape; the job
continues from its last checkpoint on other media when checkpoint restart allows it (job.py).

Thread: the write stage's or the format stage's, whichever was talking to the drive.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from devices.errors import DeviceError, DriveNotReady, DriveReset
from devices.media import MediaModelError, MediaState, MediaStore
from devices.media_rules import change_state
from devices.tape_drive import TapeDrive
from drivers.errors import MediumError, ScsiError
from drivers.transport.contract import TransportError
from engine.backup.targets import BackupError

ACTOR = "tapir-backup"
DRIVE_WAIT_S = 60.0
"""How long a run waits for a drive that stopped answering mid-write: long enough for power
to return or a drive to finish its power-on self test (tens of seconds on LTO), short enough
that the job moves on to another tape while the operator is still looking."""
POLL_S = 1.0
LOSS_SIGNS = (TransportError, DriveReset, DriveNotReady)
"""Exceptions from a write that mean the drive itself went away or was reset."""


class DriveLost(BackupError):
    """A drive stopped answering (or was reset) while writing; the tape is SUSPECT."""

    code = "backup.drive_lost"


class DriveTimedOut(DriveLost):
    """A drive stopped answering mid-write and did not answer again within the job's drive
    wait (``BackupSpec.drive_wait_s``, ``tapir backup --drive-wait``): the run ends TIMED_OUT
    (shared/JOB-STATUS.md), not FAILED."""


class PowerLoss(DriveLost):
    """A drive lost power while writing (power-on reset seen); the tape is SUSPECT."""

    code = "backup.power_loss"


class MediumWriteFailed(BackupError):
    """A medium error on write: the tape is closed (FULL or frozen) at the last good block."""

    code = "backup.medium_write_error"


def diagnose(
    exc: BaseException,
    tape: TapeDrive,
    barcode: str,
    store: MediaStore,
    note: str,
    *,
    wait_s: float = DRIVE_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> BackupError | None:
    """The job-level error for ``exc`` raised by a write to ``tape`` holding ``barcode``, with
    the tape's state settled (module docstring); None when ``exc`` is none of these (the
    caller re-raises it unchanged)."""
    flushed = tape.flushed_block
    where = f"drive {tape.name} while writing {barcode} ({note})"
    kept = (
        f"last flushed block {flushed}; what was flushed before it is in the catalog and "
        "restores from the tape"
        if flushed is not None
        else "nothing of this session was flushed to it"
    )
    if isinstance(exc, MediumError):
        closed = _close_full(store, barcode, f"Medium error on write in drive {tape.name}.")
        return MediumWriteFailed(
            f"Medium error in {where}: {exc.sense.describe()}; the tape is {closed} at the "
            f"last good block ({kept}).",
            device=tape.name,
        )
    if not isinstance(exc, LOSS_SIGNS):
        return None
    was_writing = tape.writing
    returned = was_writing and _returned(tape, wait_s, sleep)
    reset = isinstance(exc, DriveReset) or returned
    medium = store.get_medium(barcode)
    if reset and not tape.writing and medium is not None and medium.state is MediaState.SUSPECT:
        return PowerLoss(
            f"Power lost on {where}; {barcode} is now SUSPECT: it is never appended to again "
            f"({kept}).",
            device=tape.name,
        )
    why = describe_loss(exc)
    _make_suspect(
        store,
        barcode,
        f"Drive {tape.name} {why} while writing ({note}); last flushed block "
        f"{flushed if flushed is not None else 'none'}; the end of data is not trustworthy: "
        "never appended to again, but what was flushed may still be restored from it; erase "
        "or relabel it to reuse it.",
    )
    if was_writing and not reset:
        return DriveTimedOut(
            f"Drive {tape.name} {why} while writing {barcode} ({note}; {exc}); {barcode} is "
            f"now SUSPECT ({kept}); the drive did not answer again within {wait_s:g} s (the "
            "job's drive wait).",
            device=tape.name,
        )
    return DriveLost(
        f"Drive {tape.name} {why} while writing {barcode} ({note}; {exc}); {barcode} is now "
        f"SUSPECT ({kept}).",
        device=tape.name,
    )


def describe_loss(exc: BaseException) -> str:
    if isinstance(exc, DriveReset):
        return "was reset"
    if isinstance(exc, DriveNotReady):
        return "became not ready"
    return "stopped answering"


def _returned(tape: TapeDrive, wait_s: float, sleep: Callable[[float], None]) -> bool:
    """Poll the drive until it answers (its power-on attention consumed by ``TapeDrive``), for
    at most ``wait_s``. True if it answered."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            tape.wait_ready()
            return True
        except (TransportError, ScsiError, DeviceError):
            if time.monotonic() >= deadline:
                return False
            sleep(min(POLL_S, max(wait_s / 20, 0.001)))


def _make_suspect(store: MediaStore, barcode: str, reason: str) -> None:
    medium = store.get_medium(barcode)
    if medium is None or medium.state is MediaState.SUSPECT:
        return
    with contextlib.suppress(MediaModelError):
        change_state(store, barcode, MediaState.SUSPECT, reason=reason, actor=ACTOR)


def _close_full(store: MediaStore, barcode: str, reason: str) -> str:
    """FULL unless the error rules already froze it (or it is closed otherwise)."""
    medium = store.get_medium(barcode)
    if medium is None:
        return "closed"
    if medium.state is MediaState.APPENDABLE or medium.state is MediaState.SCRATCH:
        with contextlib.suppress(MediaModelError):
            change_state(store, barcode, MediaState.FULL, reason=reason, actor=ACTOR)
            return "FULL"
    return (store.get_medium(barcode) or medium).state.value.upper()
