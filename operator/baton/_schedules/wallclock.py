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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class DayClock:
    """How one local day's wall clock maps to UTC, precomputed: at most one transition.

    ``to_utc`` gives the same answer as :func:`wall_to_utc` for wall-clock times of that day,
    for a fraction of the cost (counting a DST day of a minute cron maps 1,440 times).
    """

    before: timedelta  # UTC offset before the transition (all day, if there is none)
    after: timedelta  # UTC offset after it
    transition: datetime | None  # naive UTC instant of the transition

    def to_utc(self, wall: datetime) -> datetime:
        if self.transition is None or wall < self.transition + min(self.before, self.after):
            return (wall - self.before).replace(tzinfo=UTC)
        if wall >= self.transition + max(self.before, self.after):
            return (wall - self.after).replace(tzinfo=UTC)
        if self.after > self.before:  # inside the gap: the first instant after it
            return self.transition.replace(tzinfo=UTC)
        return (wall - self.before).replace(tzinfo=UTC)  # repeated: the first occurrence

    @property
    def regular(self) -> bool:
        return self.transition is None


@functools.lru_cache(maxsize=4096)
def day_clock(day: date, zone: tzinfo) -> DayClock | None:
    """The :class:`DayClock` of ``day``, or ``None`` if a midnight is itself repeated or
    skipped (rare zones); callers then fall back to :func:`wall_to_utc`."""
    offsets = []
    for when in (datetime.combine(day, time()), datetime.combine(day + _ONE_DAY, time())):
        first = when.replace(tzinfo=zone, fold=0).utcoffset()
        second = when.replace(tzinfo=zone, fold=1).utcoffset()
        if first is None or first != second:
            return None
        offsets.append(first)
    before, after = offsets
    if before == after:
        return DayClock(before=before, after=after, transition=None)
    start = datetime.combine(day, time()) - before
    end = datetime.combine(day + _ONE_DAY, time()) - after
    transition = _transition_instant(start, end, zone).replace(tzinfo=None)
    return DayClock(before=before, after=after, transition=transition)
