"""When a definition is due: its cron expression (croniter) read in its time zone.

All times in and out are aware UTC datetimes; the expression's hours are those of the
definition's zone, so "0 22 * * *" in Europe/Berlin stays 22:00 there across daylight saving.
When clocks go back, the hour that happens twice gives one occurrence, not two (croniter
yields both; a backup set for 02:30 runs once that night).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

ONE_SECOND = timedelta(seconds=1)


class CronSchedule:
    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        self.expression = expression
        self.zone = ZoneInfo(timezone)

    def _iter(self, start: datetime) -> croniter:
        return croniter(self.expression, start.astimezone(self.zone))

    def next_after(self, when: datetime) -> datetime:
        """The first occurrence strictly after ``when``."""
        it = self._iter(when)
        previous = None
        while True:
            occ: datetime = it.get_next(datetime)
            if not _repeat(previous, occ):
                return occ.astimezone(UTC)
            previous = occ

    def latest_until(self, when: datetime) -> datetime:
        """The last occurrence at or before ``when``."""
        occ: datetime = self._iter(when + ONE_SECOND).get_prev(datetime)
        if occ.astimezone(UTC) > when:  # sub-second part of ``when``
            occ = self._iter(occ).get_prev(datetime)
        return occ.astimezone(UTC)

    def between(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """Occurrences in ``(after, until]``, oldest first; at most the ``limit`` latest (found
        walking back from ``until``, so a long gap costs ``limit`` steps, not one per
        occurrence)."""
        it = self._iter(until + ONE_SECOND)
        backwards: list[datetime] = []
        while len(backwards) < limit + 1:
            occ: datetime = it.get_prev(datetime)
            if occ.astimezone(UTC) <= after:
                break
            if occ.astimezone(UTC) <= until:
                backwards.append(occ)
        found: list[datetime] = []
        previous = None
        for occ in reversed(backwards):
            if not _repeat(previous, occ):
                found.append(occ.astimezone(UTC))
            previous = occ
        return found[-limit:]


def _repeat(previous: datetime | None, occ: datetime) -> bool:
    """``occ`` is the second pass of the same wall-clock time (a repeated hour)."""
    return (
        previous is not None
        and occ.fold == 1
        and previous.replace(tzinfo=None) == occ.replace(tzinfo=None, fold=0)
    )
