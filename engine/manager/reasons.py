"""Reasons for delay, in the words of seed 004 (shared/JOB-STATUS.md "Reasons for delay").

One function or constant per condition, so every module says it the same way and tests can
compare exact sentences.
"""

from __future__ import annotations

NO_DRIVES = "No drives available for reservation."
NOT_ENOUGH_DRIVES = "There are not enough drives in the drive pool."
MEDIA_RESERVED = "The media is already reserved by some other job(s)."
NOT_ENOUGH_MEDIA = "The operation could not be completed as there is not enough media."
NO_DISK_PATHS = "There are no disk paths that are enabled and with the required space."
TOO_MANY_WRITERS = "The number of writers would exceed the maximum allowed limit."
LIBRARY_OFFLINE = "The library is offline."
MEDIA_NOT_IN_LIBRARY = "The requested media is not in any slot of the library."
MOUNT_PATH_OFFLINE = "Mount path is offline."
NO_RESOURCES = "No resources available."
"""The preempted job, back to waiting (seed 004)."""
QUEUED = "Waiting in the queue for its turn."


def not_enough_streams(policy: str, need: int, free: int) -> str:
    return (
        f"Not enough streams available for storage policy [{policy}]. "
        f"Need {need} stream(s) and {free} stream(s) are available."
    )


def waiting_for_jobs(job_ids: list[int] | set[int]) -> str:
    shown = ", ".join(str(j) for j in sorted(job_ids))
    return f"Waiting for job(s) [{shown}] to release the resources."


def gave_up(attempts: int, reason: str) -> str:
    return f"Could not get its resources after {attempts} attempt(s): {reason}"
