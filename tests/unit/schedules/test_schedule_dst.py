"""DST semantics of cron schedules: the table in docs/schedules.md, test by test.

2026 transitions: America/New_York springs forward on 8 March (02:00 EST -> 03:00 EDT) and
falls back on 1 November (02:00 EDT -> 01:00 EST); Europe/Berlin on 29 March (02:00 CET ->
03:00 CEST) and 25 October (03:00 CEST -> 02:00 CET).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from schedule_helpers import local_fires, utc

from baton._schedules.timeline import recent_fire_times
from baton._schedules.wallclock import day_clock, wall_to_utc
from baton.schedules import CronSpec, count_fire_times, fire_times_between, next_fire_times

pytestmark = pytest.mark.unit

NY = "America/New_York"
BERLIN = "Europe/Berlin"
NY_SPRING, NY_FALL = date(2026, 3, 8), date(2026, 11, 1)
BERLIN_SPRING, BERLIN_FALL = date(2026, 3, 29), date(2026, 10, 25)


def hours(*pairs: tuple[int, str]) -> list[str]:
    return [f"{h:02d}:00{offset}" for h, offset in pairs]


def test_hourly_new_york_spring_forward_fires_23_times() -> None:
    fires = local_fires(CronSpec("0 * * * *", NY), NY, NY_SPRING)
    assert len(fires) == 23
    assert fires[:3] == ["00:00-0500", "01:00-0500", "03:00-0400"]
    assert "02:00-0400" not in fires and "02:00-0500" not in fires


def test_hourly_new_york_fall_back_fires_repeated_hour_once() -> None:
    fires = local_fires(CronSpec("0 * * * *", NY), NY, NY_FALL)
    # 25-hour day, 24 firings: 01:00 fires at its first occurrence (EDT), then 02:00 EST
    # comes two hours later, as Prefect documents.
    assert len(fires) == 24
    assert fires[:4] == ["00:00-0400", "01:00-0400", "02:00-0500", "03:00-0500"]
    gap = next_fire_times(CronSpec("0 * * * *", NY), utc(2026, 11, 1, 5), 1)[0]
    assert gap - utc(2026, 11, 1, 5) == timedelta(hours=2)


def test_hourly_berlin_spring_and_fall() -> None:
    spring = local_fires(CronSpec("0 * * * *", BERLIN), BERLIN, BERLIN_SPRING)
    assert len(spring) == 23
    assert spring[:3] == ["00:00+0100", "01:00+0100", "03:00+0200"]
    fall = local_fires(CronSpec("0 * * * *", BERLIN), BERLIN, BERLIN_FALL)
    assert len(fall) == 24
    assert fall[:4] == ["00:00+0200", "01:00+0200", "02:00+0200", "03:00+0100"]


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        (NY, NY_SPRING - timedelta(days=1), "09:00-0500"),
        (NY, NY_SPRING, "09:00-0400"),
        (NY, NY_FALL, "09:00-0500"),
        (BERLIN, BERLIN_SPRING - timedelta(days=1), "09:00+0100"),
        (BERLIN, BERLIN_SPRING, "09:00+0200"),
        (BERLIN, BERLIN_FALL, "09:00+0100"),
    ],
)
def test_daily_nine_stays_nine_local(zone: str, day: date, expected: str) -> None:
    assert local_fires(CronSpec("0 9 * * *", zone), zone, day) == [expected]


def test_daily_across_spring_forward_is_23_hours_apart_in_utc() -> None:
    times = next_fire_times(CronSpec("0 9 * * *", NY), utc(2026, 3, 7), 3)
    assert times == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [(NY, NY_SPRING, ["03:00-0400"]), (BERLIN, BERLIN_SPRING, ["03:00+0200"])],
)
def test_nonexistent_local_time_fires_at_the_transition(
    zone: str, day: date, expected: list[str]
) -> None:
    # 02:30 does not exist that day: fire at the first valid instant after it (as croniter 7).
    assert local_fires(CronSpec("30 2 * * *", zone), zone, day) == expected
    # ... and the next day it is 02:30 again.
    assert local_fires(CronSpec("30 2 * * *", zone), zone, day + timedelta(days=1))[0][:5] == (
        "02:30"
    )


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [(NY, NY_FALL, ["01:30-0400"]), (BERLIN, BERLIN_FALL, ["02:30+0200"])],
)
def test_repeated_local_time_fires_once_at_first_occurrence(
    zone: str, day: date, expected: list[str]
) -> None:
    wall = "30 1 * * *" if zone == NY else "30 2 * * *"
    assert local_fires(CronSpec(wall, zone), zone, day) == expected


def test_every_30_minutes_across_spring_forward() -> None:
    fires = local_fires(CronSpec("*/30 0-4 * * *", NY), NY, NY_SPRING)
    assert fires == [
        "00:00-0500",
        "00:30-0500",
        "01:00-0500",
        "01:30-0500",
        "03:00-0400",  # 02:00 and 02:30 do not exist; both map to 03:00, which fires once
        "03:30-0400",
        "04:00-0400",
        "04:30-0400",
    ]


def test_every_30_minutes_across_fall_back() -> None:
    fires = local_fires(CronSpec("*/30 0-3 * * *", BERLIN), BERLIN, BERLIN_FALL)
    assert fires == [
        "00:00+0200",
        "00:30+0200",
        "01:00+0200",
        "01:30+0200",
        "02:00+0200",
        "02:30+0200",  # the second 02:00-02:59 (CET) does not fire again
        "03:00+0100",
        "03:30+0100",
    ]


def test_minute_cron_counts_on_transition_days() -> None:
    tz = ZoneInfo(NY)
    # Aware arithmetic in a ZoneInfo zone is wall-clock arithmetic: add hours in UTC.
    spring = datetime(2026, 3, 8, tzinfo=tz).astimezone(UTC)
    fall = datetime(2026, 11, 1, tzinfo=tz).astimezone(UTC)
    spec = CronSpec("* * * * *", NY)
    assert count_fire_times(spec, spring, spring + timedelta(hours=23)) == 23 * 60
    # Fall-back day lasts 25 h; the repeated hour fires once.
    assert count_fire_times(spec, fall, fall + timedelta(hours=25)) == 24 * 60


def test_starting_inside_the_repeated_hour() -> None:
    # 01:15 EST (second pass) on NY fall-back day; 01:30 already fired at 01:30 EDT.
    after = utc(2026, 11, 1, 6, 15)
    assert next_fire_times(CronSpec("30 1,2 * * *", NY), after, 2) == [
        utc(2026, 11, 1, 7, 30),  # 02:30 EST
        utc(2026, 11, 2, 6, 30),  # 01:30 EST the next day
    ]


def test_count_matches_enumeration_over_transitions() -> None:
    for zone in (NY, BERLIN, "Australia/Lord_Howe", "UTC"):
        for expression in ("*/7 * * * *", "0,30 1-3 * * *", "15 2 * * 0"):
            spec = CronSpec(expression, zone)
            for start, end in (
                (utc(2026, 3, 1, 0, 7), utc(2026, 4, 15, 3, 3)),
                (utc(2026, 10, 1, 0, 7), utc(2026, 11, 15, 3, 3)),
            ):
                listed = fire_times_between(spec, start, end, limit=100_000)
                assert count_fire_times(spec, start, end) == len(listed), (zone, expression)
                assert listed == sorted(set(listed))


@pytest.mark.parametrize("zone", [NY, BERLIN, "Australia/Lord_Howe", "America/Santiago"])
def test_day_clock_agrees_with_wall_to_utc(zone: str) -> None:
    tz = ZoneInfo(zone)
    day = date(2026, 1, 1)
    checked = 0
    while day.year == 2026:
        clock = day_clock(day, tz)
        if clock is not None and not clock.regular:
            for minute in range(0, 24 * 60, 5):
                wall = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
                assert clock.to_utc(wall) == wall_to_utc(wall, tz), (zone, wall)
            checked += 1
        day += timedelta(days=1)
    assert checked >= 1 or zone == "America/Santiago"


def test_fire_times_are_utc_aware() -> None:
    times = fire_times_between(CronSpec("0 9 * * *", BERLIN), utc(2026, 1, 1), utc(2026, 1, 3))
    assert [t.tzinfo for t in times] == [UTC, UTC]
    assert times == [utc(2026, 1, 1, 8), utc(2026, 1, 2, 8)]


def test_walking_back_from_inside_the_repeated_hour() -> None:
    # now = 01:15 EST, the second pass through 01:xx on NY fall-back day: 01:30 already fired
    # (at 01:30 EDT, 05:30Z), and 01:00/01:30 EST do not fire again.
    spec = CronSpec("*/30 * * * *", NY)
    recent, total = recent_fire_times(spec, utc(2026, 11, 1, 4, 10), utc(2026, 11, 1, 6, 15), 5)
    assert recent == [utc(2026, 11, 1, h, m) for h, m in ((4, 30), (5, 0), (5, 30))]
    assert total == 3
