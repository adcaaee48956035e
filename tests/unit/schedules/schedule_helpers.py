"""Helpers for the schedule tests: fixed instants and local-day views of fire times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from baton.schedules import ScheduleSpec, fire_times_between


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local_fires(spec: ScheduleSpec, zone: str, day: date) -> list[str]:
    """Fire times during one local calendar day, shown as local ``HH:MM±hhmm``."""
    tz = ZoneInfo(zone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=tz)
    times = fire_times_between(spec, start - timedelta(microseconds=1), end - timedelta(microseconds=1))
    return [t.astimezone(tz).strftime("%H:%M%z") for t in times]
