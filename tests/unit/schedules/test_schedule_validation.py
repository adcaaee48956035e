"""Every validation error a user can see, with its exact wording (the CLI and the operator
show these messages verbatim), and the inputs that must be accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton.schedules import (
    CronSpec,
    IntervalSpec,
    RRuleSpec,
    ScheduleError,
    parse_interval,
    validate_cron,
    validate_rrule,
    validate_schedule,
    validate_timezone,
)

pytestmark = pytest.mark.unit

FIELDS = "expected 5 (minute hour day-of-month month day-of-week)"
INTERVAL_HELP = (
    'expected seconds (30), a duration like "1h30m" (units w d h m s) or ISO 8601 like "PT1H30M"'
)

BAD_CRON = [
    ("61 * * * *", 'cron "61 * * * *": minute 61 out of range (0-59)'),
    ("* 24 * * *", 'cron "* 24 * * *": hour 24 out of range (0-23)'),
    ("* * 0 * *", 'cron "* * 0 * *": day-of-month 0 out of range (1-31)'),
    ("* * * 13 *", 'cron "* * * 13 *": month 13 out of range (1-12)'),
    ("* * * * 8", 'cron "* * * * 8": day-of-week 8 out of range (0-7, 0 and 7 are Sunday)'),
    (
        "0 0 * * * *",
        f'cron "0 0 * * * *": 6 fields, {FIELDS}; seconds and year fields are not supported',
    ),
    (
        "0 0 0 1 1 * 2027",
        f'cron "0 0 0 1 1 * 2027": 7 fields, {FIELDS}; seconds and year fields are not supported',
    ),
    ("* * *", f'cron "* * *": 3 fields, {FIELDS}'),
    ("", 'cron "": empty expression'),
    (
        "@reboot",
        'cron "@reboot": unknown macro @reboot '
        "(known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)",
    ),
    ("*/0 * * * *", 'cron "*/0 * * * *": minute step 0 out of range (1-59)'),
    ("*/90 * * * *", 'cron "*/90 * * * *": minute step 90 out of range (1-59)'),
    ("a * * * *", 'cron "a * * * *": minute "a" is not a number'),
    ("* * * foo *", 'cron "* * * foo *": month "foo" is not a number or name (jan-dec)'),
    (
        "0 9 * * funday",
        'cron "0 9 * * funday": day-of-week "funday" is not a number or name (sun-sat)',
    ),
    ("H * * * *", 'cron "H * * * *": hashed (H) and random (R) values are not supported'),
    ("0 0 15W * *", 'cron "0 0 15W * *": day-of-month "15W": nearest-weekday (W) is not supported'),
    (
        "0 0 L-2 * *",
        'cron "0 0 L-2 * *": day-of-month "L-2": only a plain L (last day of month) is supported',
    ),
    ("0 0 30 2 *", 'cron "0 0 30 2 *": day-of-month 30 never occurs in February'),
    (
        "0 0 31 4,6,9,11 *",
        'cron "0 0 31 4,6,9,11 *": day-of-month 31 never occurs in '
        "April, June, September or November",
    ),
    ("1,,2 * * * *", 'cron "1,,2 * * * *": minute "1,,2" has an empty item'),
    ("0 0 * * 1#6", 'cron "0 0 * * 1#6": day-of-week "1#6": occurrence must be 1-5'),
    ("0 ? * * *", 'cron "0 ? * * *": hour "?" is only allowed in day-of-month/day-of-week'),
    ("1-2-3 * * * *", 'cron "1-2-3 * * * *": minute "1-2-3" is not a valid range (use A-B)'),
]


@pytest.mark.parametrize(("expression", "message"), BAD_CRON)
def test_bad_cron_messages(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        validate_cron(expression)
    assert str(raised.value) == message
    with pytest.raises(ScheduleError, match=r"^cron "):
        validate_schedule(cron=expression)


BAD_INTERVALS: list[tuple[Any, str]] = [
    ("0", 'interval "0": must be positive'),
    (-5, "interval -5: must be positive"),
    ("abc", f'interval "abc": {INTERVAL_HELP}'),
    ("1.5s", 'interval "1.5s": must be a whole number of seconds'),
    (
        "P1M",
        'interval "P1M": months and years are not fixed durations; use a cron or rrule schedule',
    ),
    ("", f'interval "": empty; {INTERVAL_HELP}'),
    ("1m1h", 'interval "1m1h": units must appear once each, largest first (w d h m s)'),
    ("PT", f'interval "PT": not an ISO 8601 duration; {INTERVAL_HELP}'),
    (True, f"interval True: a boolean is not an interval; {INTERVAL_HELP}"),
    (float("inf"), "interval inf: must be a finite duration"),
    (0.25, "interval 0.25: must be a whole number of seconds"),
]


@pytest.mark.parametrize(("value", "message"), BAD_INTERVALS)
def test_bad_interval_messages(value: Any, message: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_interval(value)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30, timedelta(seconds=30)),
        (30.0, timedelta(seconds=30)),
        ("30", timedelta(seconds=30)),
        ("30s", timedelta(seconds=30)),
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1.5h", timedelta(minutes=90)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("pt45s", timedelta(seconds=45)),
        ("P1D", timedelta(days=1)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("P2W", timedelta(weeks=2)),
        (timedelta(minutes=5), timedelta(minutes=5)),
    ],
)
def test_intervals_accepted(value: Any, expected: timedelta) -> None:
    assert parse_interval(value) == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Mars/Base", 'unknown timezone "Mars/Base"'),
        ("", 'unknown timezone ""'),
        ("localtime", 'unknown timezone "localtime"'),
        ("../etc/passwd", 'unknown timezone "../etc/passwd"'),
        (" UTC", 'unknown timezone " UTC"'),
    ],
)
def test_bad_timezone_messages(name: str, message: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        validate_timezone(name)
    assert str(raised.value) == message
    with pytest.raises(ScheduleError, match="unknown timezone"):
        validate_schedule(cron="0 9 * * *", timezone=name)


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_good_timezones(name: str) -> None:
    validate_timezone(name)


BAD_RRULES = [
    ("RRULE:FREQ=FOO", "rrule \"RRULE:FREQ=FOO\": invalid 'FREQ': FOO"),
    ("", 'rrule "": empty rule'),
    (
        "RRULE:FREQ=DAILY;INTERVAL=0",
        "rrule \"RRULE:FREQ=DAILY;INTERVAL=0\": INTERVAL must be a positive integer, got '0'",
    ),
    ("RRULE:FREQ=DAILY;BYHOUR=25", 'rrule "RRULE:FREQ=DAILY;BYHOUR=25": hour must be in 0..23'),
    (
        "DTSTART;TZID=Mars/Base:20260101T090000\nRRULE:FREQ=DAILY",
        'rrule "DTSTART;TZID=Mars/Base:20260101T090000\\nRRULE:FREQ=DAILY": '
        'unknown timezone "Mars/Base" in DTSTART',
    ),
    (
        "garbage",
        'rrule "garbage": cannot read "garbage" (expected lines like RRULE:FREQ=DAILY;BYHOUR=9)',
    ),
    (
        "DTSTART:2026\nRRULE:FREQ=DAILY",
        'rrule "DTSTART:2026\\nRRULE:FREQ=DAILY": cannot read "DTSTART:2026" '
        "(expected DTSTART[;TZID=Zone]:YYYYMMDDTHHMMSS[Z])",
    ),
    ("RRULE:FREQ=DAILY;FOO=1", "rrule \"RRULE:FREQ=DAILY;FOO=1\": unknown parameter 'FOO'"),
]


@pytest.mark.parametrize(("text", "message"), BAD_RRULES)
def test_bad_rrule_messages(text: str, message: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        validate_rrule(text)
    assert str(raised.value) == message
    with pytest.raises(ScheduleError) as again:
        validate_schedule(rrule=text)
    assert str(again.value) == message


def test_rrule_too_long() -> None:
    text = "RRULE:FREQ=DAILY\nRDATE:" + ",".join(["20260101T000000"] * 500)
    with pytest.raises(ScheduleError, match=r"characters, at most 6500 allowed$"):
        validate_rrule(text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "a schedule needs exactly one of cron, interval or rrule; got none"),
        (
            {"cron": "* * * * *", "interval": 5},
            "a schedule needs exactly one of cron, interval or rrule; got cron and interval",
        ),
        (
            {"cron": "* * * * *", "interval": 5, "rrule": "FREQ=DAILY"},
            "a schedule needs exactly one of cron, interval or rrule; "
            "got cron and interval and rrule",
        ),
        (
            {"cron": "* * * * *", "anchor_time": datetime(2026, 1, 1, tzinfo=UTC)},
            "anchorTime is only valid with an interval schedule",
        ),
        (
            {"cron": "0 0 1-7 * 1#2", "day_or": False},
            'cron "0 0 1-7 * 1#2": never fires: no date matches both day-of-month and day-of-week',
        ),
    ],
)
def test_schedule_shape_messages(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        validate_schedule(**kwargs)
    assert str(raised.value) == message


def test_schedule_error_is_a_value_error() -> None:
    assert issubclass(ScheduleError, ValueError)


@pytest.mark.parametrize(
    "expression",
    [
        "*/5 * * * *",
        "0 9 * * mon-fri",
        "0 22-2 * * *",
        "5/15 * * * *",
        "0 0 L * *",
        "0 0 1,L * *",
        "0 9 ? * 5#2",
        "0 0 * JAN-MAR,dec SUN",
        "0 0 29 2 *",
        "@hourly",
        "@daily",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "  0   9  * * *  ",
    ],
)
def test_good_cron(expression: str) -> None:
    validate_cron(expression)


def test_validate_schedule_builds_specs() -> None:
    assert validate_schedule(cron="0 9 * * *", timezone="Europe/Berlin") == CronSpec(
        "0 9 * * *", "Europe/Berlin"
    )
    assert validate_schedule(cron="0 9 8-14 * 5", day_or=False) == CronSpec(
        "0 9 8-14 * 5", "UTC", day_or=False
    )
    assert validate_schedule(interval="1h30m") == IntervalSpec(timedelta(minutes=90))
    # A naive anchor is read in the schedule's timezone; stored in UTC.
    spec = validate_schedule(
        interval=3600, timezone="Europe/Berlin", anchor_time=datetime(2026, 1, 1, 9, 15)
    )
    assert spec == IntervalSpec(
        timedelta(hours=1), anchor=datetime(2026, 1, 1, 8, 15, tzinfo=UTC), timezone="Europe/Berlin"
    )
    # An rrule's timezone defaults to its DTSTART TZID.
    text = "DTSTART;TZID=America/New_York:20260105T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO"
    assert validate_schedule(rrule=text) == RRuleSpec(text, "America/New_York")
    assert validate_schedule(rrule="RRULE:FREQ=DAILY") == RRuleSpec("RRULE:FREQ=DAILY", "UTC")
