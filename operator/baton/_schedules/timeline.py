"""Fire times of any schedule spec: forward, backward and counted, all in UTC.

Everything here is a pure function of the spec and explicit instants. Cron and rrule walk the
wall clock of their timezone and map each time with :func:`wallclock.wall_to_utc`; intervals are
plain UTC arithmetic. Counting is arithmetic where it can be (intervals; cron on every day
without a DST transition), so a year of minute fire times is counted in a few hundred steps.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, time, timedelta
from functools import partial

from baton._schedules.cron import parse_cron
from baton._schedules.rrules import parse_rrule
from baton._schedules.specs import (
    EPOCH,
    CronSpec,
    IntervalSpec,
    RRuleSpec,
    ScheduleSpec,
    require_aware,
)
from baton._schedules.wallclock import day_clock, load_zone, utc_to_wall, wall_to_utc

_ONE_DAY = timedelta(days=1)
_ONE_MINUTE = timedelta(minutes=1)
# Longest stretch of repeated wall-clock time to look past when walking backwards from an
# instant inside a repeated hour (real transitions repeat 30 min to 2 h).
_FOLD_COVER = timedelta(hours=3)


def interval_anchor(spec: IntervalSpec) -> datetime:
    """The spec's anchor in UTC; a naive anchor is read in the spec's timezone."""
    if spec.anchor is None:
        return EPOCH
    if spec.anchor.tzinfo is None:
        return wall_to_utc(spec.anchor, load_zone(spec.timezone))
    return require_aware(spec.anchor, "anchor")


def _check_interval(spec: IntervalSpec) -> None:
    if spec.every <= timedelta(0):
        raise ValueError(f"interval must be positive, got {spec.every}")


def _distinct(instants: Iterable[datetime]) -> Iterator[datetime]:
    """Drop consecutive duplicates (several wall-clock times inside one DST gap map to the
    same instant)."""
    previous = None
    for instant in instants:
        if instant != previous:
            previous = instant
            yield instant


def iter_after(spec: ScheduleSpec, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after ``after``, ascending, without end (unless the rule ends)."""
    after = require_aware(after, "after")
    if isinstance(spec, IntervalSpec):
        _check_interval(spec)
        anchor = interval_anchor(spec)
        first = anchor + ((after - anchor) // spec.every + 1) * spec.every
        return (first + k * spec.every for k in itertools.count())
    zone = load_zone(spec.timezone)
    wall, _ = utc_to_wall(after, zone)
    naive: Iterator[datetime]
    if isinstance(spec, CronSpec):
        naive = parse_cron(spec.expression).iter_forward(wall, spec.day_or)
    else:
        naive = parse_rrule(spec.rrule, spec.timezone).iter_after(wall)
    # Wall-clock times just after `after` may map before it when `after` is the second pass
    # through a repeated hour; they were due at their first occurrence.
    mapped = (wall_to_utc(n, zone) for n in naive)
    return _distinct(t for t in mapped if t > after)


def iter_before(spec: CronSpec | IntervalSpec, until: datetime) -> Iterator[datetime]:
    """Fire times at or before ``until``, descending (not available for rrules)."""
    until = require_aware(until, "until")
    if isinstance(spec, IntervalSpec):
        _check_interval(spec)
        anchor = interval_anchor(spec)
        last = anchor + ((until - anchor) // spec.every) * spec.every
        return (last - k * spec.every for k in itertools.count())
    zone = load_zone(spec.timezone)
    wall, second_pass = utc_to_wall(until, zone)
    if second_pass:
        # The rest of the repeated hour already happened (first pass): include it.
        wall += _FOLD_COVER
    naive = parse_cron(spec.expression).iter_backward(wall, spec.day_or)
    mapped = (wall_to_utc(n, zone) for n in naive)
    return _distinct(t for t in mapped if t <= until)


def fire_times_between(
    spec: ScheduleSpec, start: datetime, end: datetime, *, limit: int = 10_000
) -> list[datetime]:
    """Fire times ``t`` with ``start < t <= end``, ascending, in UTC.

    Returns at most ``limit`` times (the earliest ones); use :func:`count_fire_times` to learn
    how many there are in a long range.
    """
    end = require_aware(end, "end")
    times = itertools.takewhile(lambda t: t <= end, iter_after(spec, start))
    return list(itertools.islice(times, max(limit, 0)))


def next_fire_times(spec: ScheduleSpec, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after``, ascending, in UTC (fewer if the
    schedule ends, as an rrule with ``COUNT`` or ``UNTIL`` can)."""
    return list(itertools.islice(iter_after(spec, after), max(count, 0)))


def count_fire_times(spec: ScheduleSpec, start: datetime, end: datetime) -> int:
    """How many fire times ``t`` satisfy ``start < t <= end``, without listing them for
    intervals and cron (rrules are counted by walking them)."""
    start = require_aware(start, "start")
    end = require_aware(end, "end")
    if end <= start:
        return 0
    if isinstance(spec, IntervalSpec):
        _check_interval(spec)
        anchor = interval_anchor(spec)
        return (end - anchor) // spec.every - (start - anchor) // spec.every
    if isinstance(spec, RRuleSpec):
        return sum(1 for _ in itertools.takewhile(lambda t: t <= end, iter_after(spec, start)))
    return _count_cron(spec, start, end)


def _count_cron(spec: CronSpec, start: datetime, end: datetime) -> int:
    zone = load_zone(spec.timezone)
    fields = parse_cron(spec.expression)
    minutes = fields.minutes_of_day
    first_wall = utc_to_wall(start, zone)[0]
    last_wall = utc_to_wall(end, zone)[0] + _FOLD_COVER
    total = 0
    previous: datetime | None = None
    day = first_wall.date()
    while day <= last_wall.date():
        if fields.matches(day, spec.day_or):
            clock = day_clock(day, zone)
            midnight = datetime.combine(day, time())
            if clock is not None and clock.regular:
                # Constant offset all day: count the minutes inside (start, end] by bisection.
                base = (midnight - clock.before).replace(tzinfo=UTC)
                total += bisect_right(minutes, (end - base) // _ONE_MINUTE) - bisect_right(
                    minutes, (start - base) // _ONE_MINUTE
                )
            else:
                # A DST day: map only the minutes whose wall-clock time can be in the range.
                low = bisect_left(minutes, (first_wall - _FOLD_COVER - midnight) // _ONE_MINUTE)
                high = bisect_right(minutes, (last_wall - midnight) // _ONE_MINUTE)
                to_utc = clock.to_utc if clock is not None else partial(wall_to_utc, zone=zone)
                for minute in minutes[low:high]:
                    instant = to_utc(midnight + minute * _ONE_MINUTE)
                    if start < instant <= end and instant != previous:
                        total += 1
                        previous = instant
        day += _ONE_DAY
    return total


def recent_fire_times(
    spec: ScheduleSpec, start: datetime, end: datetime, keep: int
) -> tuple[list[datetime], int]:
    """The ``keep`` most recent fire times in ``(start, end]`` (ascending) and how many fire
    times that range holds in total; bounded work for cron and intervals."""
    start = require_aware(start, "start")
    end = require_aware(end, "end")
    if end <= start:
        return [], 0
    if isinstance(spec, RRuleSpec):
        window: deque[datetime] = deque(maxlen=max(keep, 0))
        total = 0
        for instant in itertools.takewhile(lambda t: t <= end, iter_after(spec, start)):
            window.append(instant)
            total += 1
        return list(window), total
    newest = itertools.takewhile(lambda t: t > start, iter_before(spec, end))
    recent = list(itertools.islice(newest, max(keep, 0)))
    recent.reverse()
    return recent, count_fire_times(spec, start, end)
