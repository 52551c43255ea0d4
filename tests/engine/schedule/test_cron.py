"""Cron occurrences in a time zone (Hypothesis): every occurrence matches the expression, they
are strictly increasing, inside the asked range, and a repeated hour gives one occurrence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.schedule.cron import CronSchedule

EXPRESSIONS = ["0 22 * * *", "*/15 * * * *", "30 2 * * *", "0 0 1 * *", "5 4 * * 1-5", "@hourly"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
INSTANTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(EXPRESSIONS),
    st.sampled_from(ZONES),
    INSTANTS,
    st.integers(min_value=1, max_value=72),
    st.integers(min_value=1, max_value=12),
)
def test_between_is_ordered_matching_and_in_range(
    expression: str, zone: str, start: datetime, hours: int, limit: int
) -> None:
    cron = CronSchedule(expression, zone)
    until = start + timedelta(hours=hours)
    found = cron.between(start, until, limit)
    assert len(found) <= limit
    assert all(start < t <= until for t in found)
    assert found == sorted(set(found))
    for t in found:
        local = t.astimezone(ZoneInfo(zone))
        just_after_a_gap = (
            local.utcoffset() != (t - timedelta(hours=1)).astimezone(local.tzinfo).utcoffset()
        )
        assert croniter.match(expression, local.replace(tzinfo=None)) or just_after_a_gap
    if found:
        assert cron.latest_until(until) == found[-1]
        assert cron.next_after(found[-1]) > until


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.sampled_from(ZONES), INSTANTS)
def test_next_after_and_latest_until_bracket_now(expression: str, zone: str, now: datetime) -> None:
    cron = CronSchedule(expression, zone)
    before, after = cron.latest_until(now), cron.next_after(now)
    assert before <= now < after
    assert cron.between(before, after, 5) == [after]


def test_the_repeated_hour_gives_one_occurrence() -> None:
    cron = CronSchedule("30 2 * * *", "Europe/Berlin")  # clocks go back at 03:00 on 25 Oct
    found = cron.between(
        datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 25, 12, tzinfo=UTC), 10
    )
    assert found == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]


def test_the_skipped_hour_still_runs_that_night() -> None:
    cron = CronSchedule("30 2 * * *", "Europe/Berlin")  # 02:30 does not exist on 29 Mar
    found = cron.between(
        datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 3, 29, 12, tzinfo=UTC), 10
    )
    assert len(found) == 1 and found[0].date().isoformat() == "2026-03-29"
