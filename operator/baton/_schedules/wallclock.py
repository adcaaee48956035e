"""Local wall-clock time to UTC and back: the one place where the DST rules live.

Cron and rrule schedules are calendar rules, so they are evaluated on *naive local wall-clock*
datetimes (no DST anywhere in the calendar arithmetic) and only then mapped to instants with
:func:`wall_to_utc`. That mapping is where Prefect's DST semantics are decided:

- a wall-clock time that occurs twice (clocks set back) maps to its **first** occurrence;
- a wall-clock time that does not exist (clocks set forward) maps to the **first valid instant
  after it**, i.e. the moment of the transition (02:30 on a New York spring-forward day is
  03:00 EDT), which is also what croniter 7 does.

The mapping is non-decreasing in wall-clock time, so iterating wall-clock times in order and
dropping consecutive duplicates yields each fire instant once, in order.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from baton._schedules.specs import ScheduleError

_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
# Host-dependent pseudo-zones: a schedule must mean the same thing on every node.
_REJECTED_ZONES = frozenset({"localtime", "posixrules"})


@functools.lru_cache(maxsize=512)
def load_zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` or raise ``ScheduleError('unknown timezone "..."')``."""
    if not name or name != name.strip() or name in _REJECTED_ZONES:
        raise ScheduleError(f'unknown timezone "{name}"')
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: keys like "../etc" or absolute paths; OSError: unreadable/odd files.
        raise ScheduleError(f'unknown timezone "{name}"') from None


def utc_to_wall(instant: datetime, zone: tzinfo) -> tuple[datetime, bool]:
    """The naive wall-clock reading of an aware ``instant`` in ``zone``, and whether that
    reading is the second occurrence of a repeated wall-clock time."""
    local = instant.astimezone(zone)
    return local.replace(tzinfo=None, fold=0), local.fold == 1


def wall_to_utc(wall: datetime, zone: tzinfo) -> datetime:
    """Map a naive wall-clock time in ``zone`` to a UTC instant (see the module docstring)."""
    first = wall.replace(tzinfo=zone, fold=0).utcoffset()
    second = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert first is not None and second is not None  # zone is a real tzinfo
    if first == second:
        return (wall - first).replace(tzinfo=UTC)
    # PEP 495: in a repeated hour fold=0 is the earlier instant; in a gap fold=0 uses the
    # offset from before the transition, which lands *after* the transition.
    early, late = wall - first, wall - second
    if early <= late:
        return early.replace(tzinfo=UTC)
    return _transition_instant(late, early, zone)


def _transition_instant(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """First instant in ``(before, after]`` (naive UTC, ``before`` ahead of the transition)
    whose offset differs from ``before``'s: the moment the clocks jumped."""
    lo = before.replace(tzinfo=UTC)
    hi = after.replace(tzinfo=UTC)
    offset_before = lo.astimezone(zone).utcoffset()
    while hi - lo > _ONE_SECOND:  # tzdata transitions fall on whole seconds
        mid = lo + (hi - lo) // 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            mid = lo + _ONE_SECOND
        if mid.astimezone(zone).utcoffset() == offset_before:
            lo = mid
        else:
            hi = mid
    return hi


@functools.lru_cache(maxsize=4096)
def is_regular_day(day: date, zone: tzinfo) -> bool:
    """True if ``day`` is 24 h long in ``zone`` and both its midnights exist exactly once, so
    every wall-clock time of the day maps to a distinct instant at a constant offset."""
    offsets = set()
    for when in (datetime.combine(day, time()), datetime.combine(day + _ONE_DAY, time())):
        for fold in (0, 1):
            offsets.add(when.replace(tzinfo=zone, fold=fold).utcoffset())
    return len(offsets) == 1
