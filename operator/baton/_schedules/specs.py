"""The schedule value types, shared by every other schedules module.

They are plain frozen dataclasses (not pydantic models) so that the pure scheduling code has no
dependency on the resource models; ``validate_schedule`` builds them from user input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Default interval anchor: intervals without ``anchorTime`` are aligned to the Unix epoch."""


class ScheduleError(ValueError):
    """A schedule the user wrote is invalid; the message is meant to be shown to them as is."""


class NeverFiresError(ScheduleError):
    """A well-formed schedule with no fire time within the bounded search (reason
    ``NeverFires``): ``0 0 30 2 *``, ``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``, an interval of
    centuries. Every schedule search is bounded (docs/security.md, "Bounded work")."""


@dataclass(frozen=True)
class CronSpec:
    """A 5-field cron expression evaluated on the wall clock of ``timezone``.

    ``day_or`` is croniter's switch: when both day-of-month and day-of-week are restricted
    (neither is ``*``), a day matches if either matches (``True``, classic cron) or only if both
    match (``False``, e.g. "the second Friday": ``0 9 8-14 * 5``).
    """

    expression: str
    timezone: str = "UTC"
    day_or: bool = True


@dataclass(frozen=True)
class IntervalSpec:
    """Fire every ``every``, at ``anchor + k * every`` for every integer ``k`` (absolute time).

    ``anchor`` sets the phase only; it is not a start date. ``None`` means the Unix epoch.
    ``timezone`` is used to read a naive anchor and for display; the arithmetic is in UTC.
    """

    every: timedelta
    anchor: datetime | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class RRuleSpec:
    """An RFC 5545 recurrence rule (``DTSTART``/``RRULE``/``RDATE``/``EXDATE``/``EXRULE`` lines)
    evaluated on the wall clock of ``timezone``."""

    rrule: str
    timezone: str = "UTC"


ScheduleSpec = CronSpec | IntervalSpec | RRuleSpec


def require_aware(value: datetime, what: str) -> datetime:
    """Return ``value`` in UTC; naive datetimes are a programming error, never guessed at."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got naive {value!r}")
    return value.astimezone(UTC)
