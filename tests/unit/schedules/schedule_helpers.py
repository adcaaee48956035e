"""Helpers for the schedule tests: fixed instants and local-day views of fire times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from baton.schedules import ScheduleSpec, fire_times_between


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local_fires(spec: ScheduleSpec, zone: str, day: date) -> list[str]:
    """Fire times during one local calendar day, shown as local ``HH:MM±hhmm``."""
    tz = ZoneInfo(zone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=tz)
    tick = timedelta(microseconds=1)
    times = fire_times_between(spec, start - tick, end - tick)
    return [t.astimezone(tz).strftime("%H:%M%z") for t in times]
