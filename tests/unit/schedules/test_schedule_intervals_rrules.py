"""Interval schedules (absolute UTC arithmetic from an anchor) and rrules (wall clock of their
timezone, DTSTART from the text), plus the one-line descriptions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from schedule_helpers import local_fires, utc

from baton.schedules import (
    CronSpec,
    IntervalSpec,
    RRuleSpec,
    count_fire_times,
    describe,
    fire_times_between,
    format_interval,
    next_fire_times,
    validate_schedule,
)

pytestmark = pytest.mark.unit


def test_interval_without_anchor_is_aligned_to_the_epoch() -> None:
    spec = IntervalSpec(timedelta(seconds=30))
    assert next_fire_times(spec, utc(2026, 1, 1, 12, 0, 10), 3) == [
        utc(2026, 1, 1, 12, 0, 30),
        utc(2026, 1, 1, 12, 1),
        utc(2026, 1, 1, 12, 1, 30),
    ]


def test_interval_is_exclusive_of_start_inclusive_of_end() -> None:
    spec = IntervalSpec(timedelta(minutes=90))
    assert fire_times_between(spec, utc(2026, 1, 1, 0), utc(2026, 1, 1, 3)) == [
        utc(2026, 1, 1, 1, 30),
        utc(2026, 1, 1, 3),
    ]


def test_interval_anchor_in_the_past_sets_the_phase() -> None:
    spec = validate_schedule(interval="1h30m", anchor_time=utc(2025, 6, 1, 0, 10))
    after = utc(2026, 1, 1)
    first = next_fire_times(spec, after, 1)[0]
    assert first > after
    assert (first - utc(2025, 6, 1, 0, 10)) % timedelta(minutes=90) == timedelta(0)
    assert first - after <= timedelta(minutes=90)


def test_interval_anchor_in_the_future_is_a_phase_not_a_start() -> None:
    # As in Prefect, the anchor is a reference point: the grid extends before it.
    spec = IntervalSpec(timedelta(hours=1), anchor=utc(2030, 1, 1, 0, 20))
    assert next_fire_times(spec, utc(2026, 1, 1), 2) == [
        utc(2026, 1, 1, 0, 20),
        utc(2026, 1, 1, 1, 20),
    ]


def test_interval_iso_and_seconds() -> None:
    iso = validate_schedule(interval="PT1H30M")
    assert iso == validate_schedule(interval=5400) == validate_schedule(interval="5400")


def test_daily_interval_drifts_an_hour_in_local_time_across_dst() -> None:
    # Absolute durations: 24 h after 09:00 CET on the day before the change is 10:00 CEST.
    spec = validate_schedule(
        interval="1d", timezone="Europe/Berlin", anchor_time=datetime(2026, 3, 28, 9)
    )
    assert local_fires(spec, "Europe/Berlin", date(2026, 3, 28)) == ["09:00+0100"]
    assert local_fires(spec, "Europe/Berlin", date(2026, 3, 29)) == ["10:00+0200"]
    # A cron keeps 09:00 local.
    cron = CronSpec("0 9 * * *", "Europe/Berlin")
    assert local_fires(cron, "Europe/Berlin", date(2026, 3, 29)) == ["09:00+0200"]


def test_interval_count_is_arithmetic() -> None:
    spec = IntervalSpec(timedelta(seconds=1))
    assert count_fire_times(spec, utc(2025, 1, 1), utc(2026, 1, 1)) == 365 * 86400


def test_rrule_default_dtstart_and_utc() -> None:
    spec = RRuleSpec("RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=30")
    assert next_fire_times(spec, utc(2026, 5, 1, 10), 2) == [
        utc(2026, 5, 2, 9, 30),
        utc(2026, 5, 3, 9, 30),
    ]


def test_rrule_in_a_timezone_keeps_wall_clock_across_dst() -> None:
    spec = RRuleSpec("RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "America/New_York")
    times = next_fire_times(spec, utc(2026, 3, 7), 3)
    assert times == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]


def test_rrule_dtstart_tzid_sets_timezone_and_start() -> None:
    text = "DTSTART;TZID=Europe/Berlin:20260105T093000\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=3"
    spec = validate_schedule(rrule=text)
    assert spec.timezone == "Europe/Berlin"
    assert next_fire_times(spec, utc(2020, 1, 1), 5) == [
        utc(2026, 1, 5, 8, 30),
        utc(2026, 1, 7, 8, 30),
        utc(2026, 1, 12, 8, 30),
    ]


def test_rrule_utc_dtstart_and_until_are_instants() -> None:
    # 14:00Z is 09:00 in New York; UNTIL 14:00Z on the 3rd includes the 3rd.
    text = "DTSTART:20260101T140000Z\nRRULE:FREQ=DAILY;UNTIL=20260103T140000Z"
    spec = validate_schedule(rrule=text, timezone="America/New_York")
    assert fire_times_between(spec, utc(2025, 1, 1), utc(2027, 1, 1)) == [
        utc(2026, 1, 1, 14),
        utc(2026, 1, 2, 14),
        utc(2026, 1, 3, 14),
    ]


def test_rrule_exdate_and_rdate() -> None:
    text = (
        "DTSTART:20260601T080000\nRRULE:FREQ=DAILY;COUNT=3\n"
        "EXDATE:20260602T080000\nRDATE:20260610T120000"
    )
    assert fire_times_between(RRuleSpec(text), utc(2026, 1, 1), utc(2027, 1, 1)) == [
        utc(2026, 6, 1, 8),
        utc(2026, 6, 3, 8),
        utc(2026, 6, 10, 12),
    ]


def test_rrule_nonexistent_time_follows_the_cron_rule() -> None:
    spec = RRuleSpec("RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30", "America/New_York")
    assert local_fires(spec, "America/New_York", date(2026, 3, 8)) == ["03:00-0400"]
    assert local_fires(spec, "America/New_York", date(2026, 11, 1)) == ["02:30-0500"]


def test_rrule_fast_forward_gives_the_same_times() -> None:
    # An hourly rule from 2020: fast-forwarded and walked from DTSTART must agree.
    spec = RRuleSpec("RRULE:FREQ=HOURLY;INTERVAL=5;BYMINUTE=7", "Europe/Berlin")
    slow = RRuleSpec("RRULE:FREQ=HOURLY;INTERVAL=5;BYMINUTE=7;COUNT=100000", "Europe/Berlin")
    after = utc(2026, 3, 28, 12)
    assert next_fire_times(spec, after, 12) == next_fire_times(slow, after, 12)


def test_describe() -> None:
    assert describe(CronSpec("*/5 * * * *", "Europe/Berlin")) == "*/5 * * * * (Europe/Berlin)"
    assert describe(CronSpec("0 9 * * *")) == "0 9 * * *"
    assert describe(CronSpec("0 9 8-14 * 5", day_or=False)) == (
        "0 9 8-14 * 5 [day-of-month AND day-of-week]"
    )
    assert describe(IntervalSpec(timedelta(minutes=90))) == "every 1h30m"
    assert describe(IntervalSpec(timedelta(days=2, seconds=5))) == "every 2d5s"
    text = "DTSTART;TZID=Europe/Berlin:20260105T093000\nRRULE:FREQ=DAILY;BYHOUR=9"
    assert describe(RRuleSpec(text, "Europe/Berlin")) == "RRULE:FREQ=DAILY;BYHOUR=9 (Europe/Berlin)"
    long = "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9,10,11,12,13,14,15,16,17"
    assert describe(RRuleSpec(long)) == long[:57] + "..."


def test_format_interval() -> None:
    assert format_interval(timedelta(seconds=45)) == "45s"
    assert format_interval(timedelta(days=7)) == "7d"
    assert format_interval(timedelta(hours=25)) == "1d1h"


def test_naive_instants_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_times(CronSpec("* * * * *"), datetime(2026, 1, 1), 1)


def test_non_utc_aware_inputs_are_accepted_and_output_is_utc() -> None:
    after = datetime(2026, 1, 1, 10, tzinfo=ZoneInfo("Asia/Kolkata"))
    (first,) = next_fire_times(CronSpec("0 * * * *"), after, 1)
    assert first == utc(2026, 1, 1, 5) and first.tzinfo is UTC
