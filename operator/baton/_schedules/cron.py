"""Cron expressions: parsing with precise, user-facing errors, and wall-clock iteration.

Why not croniter at run time? Three reasons, each found by testing croniter 7.0.0:
croniter fires a repeated (fall-back) hour twice, where Prefect's documented rule is once;
counting the fire times of a year-long outage on a minute cron needs per-day arithmetic that
croniter cannot do (500k ``get_next`` calls take seconds); and its errors do not name the field.
The grammar and the day-of-month/day-of-week rule follow croniter (the tests use croniter as
the oracle), so an expression means here what it means in Prefect.

Grammar per field: ``*``, ``N``, ``A-B`` (wraps if ``A > B``, e.g. ``fri-mon``, ``22-2``),
any of those ``/STEP`` (``N/STEP`` means ``N-max/STEP``), comma lists; month and weekday names
(``jan``, ``mon``), weekday 7 = Sunday; ``?`` = ``*`` in the two day fields; ``L`` (last day)
in day-of-month; ``D#N`` (N-th weekday D of the month) in day-of-week.
"""

from __future__ import annotations

import calendar
import functools
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from baton._schedules.specs import NeverFiresError, ScheduleError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MONTH_NAMES = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_NAMES: tuple[dict[str, int], ...] = ({}, {}, {}, _MONTH_NAMES, _DAY_NAMES)
_MONTH_FULL = tuple(calendar.month_name)
_MAX_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # Feb: leap years exist
_ONE_DAY = timedelta(days=1)
# A schedule that matches no day in a full Gregorian cycle never fires; stop looking there.
_SCAN_LIMIT_DAYS = 400 * 366
# Every one of the 14 kinds of year (leap or not, times the weekday of January 1st) occurs
# in 2001-2028, and whether a cron fires on a day depends only on the day's month, day,
# weekday and the kind of year: a cron that matches no day there matches none ever.
_EVERY_KIND_OF_YEAR = (date(2001, 1, 1), date(2029, 1, 1))


@dataclass(frozen=True)
class CronFields:
    """A parsed expression. ``minutes_of_day`` is the sorted ``hour * 60 + minute`` list."""

    expression: str
    minutes_of_day: tuple[int, ...]
    days: frozenset[int]
    last_day: bool
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    nth_weekdays: frozenset[tuple[int, int]]  # (weekday, n): the n-th such weekday
    dom_restricted: bool
    dow_restricted: bool

    def matches(self, day: date, day_or: bool) -> bool:
        """Whether ``day`` is a firing day (croniter's rule for combining the day fields)."""
        if day.month not in self.months:
            return False
        if day_or and self.dom_restricted and self.dow_restricted:
            return self._dom_matches(day) or self._dow_matches(day)
        return self._dom_matches(day) and self._dow_matches(day)

    def _dom_matches(self, day: date) -> bool:
        if day.day in self.days:
            return True
        return self.last_day and day.day == calendar.monthrange(day.year, day.month)[1]

    def _dow_matches(self, day: date) -> bool:
        weekday = (day.weekday() + 1) % 7
        if weekday in self.weekdays:
            return True
        return (weekday, (day.day - 1) // 7 + 1) in self.nth_weekdays

    def iter_forward(self, after: datetime, day_or: bool) -> Iterator[datetime]:
        """Naive wall-clock fire times strictly after naive ``after``, ascending."""
        day = after.date()
        first = bisect_left(self.minutes_of_day, after.hour * 60 + after.minute + 1)
        idle = 0
        while idle < _SCAN_LIMIT_DAYS:
            if self.matches(day, day_or):
                idle = 0
                for minute in self.minutes_of_day[first:]:
                    yield datetime.combine(day, time(minute // 60, minute % 60))
            first = 0
            if day.month not in self.months:  # jump to the 1st of the next month
                idle += 32 - day.day
                day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
            else:
                idle += 1
                day += _ONE_DAY

    def iter_backward(self, until: datetime, day_or: bool) -> Iterator[datetime]:
        """Naive wall-clock fire times at or before naive ``until``, descending."""
        day = until.date()
        stop = bisect_right(self.minutes_of_day, until.hour * 60 + until.minute)
        idle = 0
        while idle < _SCAN_LIMIT_DAYS and day > date.min:
            if self.matches(day, day_or):
                idle = 0
                for minute in reversed(self.minutes_of_day[:stop]):
                    yield datetime.combine(day, time(minute // 60, minute % 60))
            stop = len(self.minutes_of_day)
            if day.month not in self.months:  # jump to the last day of the previous month
                idle += day.day
                day = day.replace(day=1) - _ONE_DAY
            else:
                idle += 1
                day -= _ONE_DAY


def _fail(expression: str, message: str) -> ScheduleError:
    return ScheduleError(f'cron "{expression}": {message}')


def _value(expression: str, index: int, token: str) -> int:
    """One number or name of field ``index``, range-checked."""
    field = FIELD_NAMES[index]
    low, high = _BOUNDS[index]
    names = _NAMES[index]
    if token.lower() in names:
        return names[token.lower()]
    if not token.isdigit():
        if token.upper() in ("H", "R") or token.upper().startswith(("H(", "R(")):
            raise _fail(expression, "hashed (H) and random (R) values are not supported")
        if token.upper().endswith("W") and index == 2:
            raise _fail(expression, f'{field} "{token}": nearest-weekday (W) is not supported')
        hint = f" or name ({'jan-dec' if index == 3 else 'sun-sat'})" if names else ""
        raise _fail(expression, f'{field} "{token}" is not a number{hint}')
    number = int(token)
    if not low <= number <= high:
        shown = "0-7, 0 and 7 are Sunday" if index == 4 else f"{low}-{high}"
        raise _fail(expression, f"{field} {number} out of range ({shown})")
    return number


def _element(expression: str, index: int, element: str) -> list[int]:
    """Expand one comma-separated element (no ``L``/``#``) into values, in order."""
    field = FIELD_NAMES[index]
    low, high = _BOUNDS[index]
    base, slash, step_text = element.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit():
            raise _fail(expression, f'{field} step "{step_text}" is not a number')
        step = int(step_text)
        span = 6 if index == 4 else high - low
        if not 1 <= step <= span:
            raise _fail(expression, f"{field} step {step} out of range (1-{span})")
    if base in ("*", "?"):
        if base == "?" and index not in (2, 4):
            raise _fail(expression, f'{field} "?" is only allowed in day-of-month/day-of-week')
        start, end = low, (6 if index == 4 else high)
    elif "-" in base:
        start_text, _, end_text = base.partition("-")
        if not start_text or not end_text or "-" in end_text:
            raise _fail(expression, f'{field} "{base}" is not a valid range (use A-B)')
        start, end = _value(expression, index, start_text), _value(expression, index, end_text)
    else:
        start = _value(expression, index, base)
        end = (6 if index == 4 else high) if slash else start
    if start <= end:
        sequence = list(range(start, end + 1))
    else:  # wrapping range, as croniter: 22-2 is 22,23,0,1,2; fri-mon is 5,6,0,1
        sequence = list(range(start, (7 if index == 4 else high) + 1)) + list(range(low, end + 1))
    return sequence[::step]


def _day_of_week_nth(expression: str, element: str) -> tuple[int, int]:
    day_text, _, nth_text = element.partition("#")
    weekday = _value(expression, 4, day_text) % 7
    if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
        raise _fail(expression, f'day-of-week "{element}": occurrence must be 1-5')
    return weekday, int(nth_text)


@functools.lru_cache(maxsize=4096)
def parse_cron(expression: str) -> CronFields:
    """Parse a 5-field expression or macro, raising ``ScheduleError`` with a precise message."""
    text = " ".join(expression.split())
    if not text:
        raise _fail(expression, "empty expression")
    if text.startswith("@"):
        if text.lower() not in MACROS:
            known = ", ".join(MACROS)
            raise _fail(expression, f"unknown macro {text} (known: {known})")
        text = MACROS[text.lower()]
    fields = text.split(" ")
    if len(fields) != 5:
        extra = ""
        if len(fields) in (6, 7):
            extra = "; seconds and year fields are not supported"
        raise _fail(
            expression,
            f"{len(fields)} fields, expected 5 (minute hour day-of-month month day-of-week){extra}",
        )
    values: list[set[int]] = []
    last_day = False
    nth: set[tuple[int, int]] = set()
    for index, field_text in enumerate(fields):
        chosen: set[int] = set()
        for element in field_text.split(","):
            if not element:
                raise _fail(expression, f'{FIELD_NAMES[index]} "{field_text}" has an empty item')
            if index == 2 and element.upper() == "L":
                last_day = True
            elif index == 2 and "L" in element.upper():
                raise _fail(
                    expression,
                    f'day-of-month "{element}": only a plain L (last day of month) is supported',
                )
            elif index == 4 and "#" in element:
                nth.add(_day_of_week_nth(expression, element))
            else:
                chosen.update(_element(expression, index, element))
        values.append(chosen)
    minutes, hours, days, months, weekdays = values
    parsed = CronFields(
        expression=expression,
        minutes_of_day=tuple(sorted(h * 60 + m for h in hours for m in minutes)),
        days=frozenset(days),
        last_day=last_day,
        months=frozenset(months),
        weekdays=frozenset(d % 7 for d in weekdays),
        nth_weekdays=frozenset(nth),
        dom_restricted=fields[2] not in ("*", "?"),
        dow_restricted=fields[4] not in ("*", "?"),
    )
    _check_day_of_month_occurs(parsed)
    return parsed


def _check_day_of_month_occurs(parsed: CronFields) -> None:
    """Reject day-of-month/month pairs that never occur, like ``0 0 30 2 *``, when the
    day-of-week field cannot rescue them (it is ``*``)."""
    if parsed.last_day or not parsed.dom_restricted or parsed.dow_restricted:
        return
    longest = max(_MAX_DAYS[month] for month in parsed.months)
    smallest = min(parsed.days)
    if smallest > longest:
        names = [_MONTH_FULL[m] for m in sorted(parsed.months)]
        months = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        raise NeverFiresError(
            f'cron "{parsed.expression}": day-of-month {smallest} never occurs in {months}'
        )


@functools.lru_cache(maxsize=4096)
def check_fires(parsed: CronFields, day_or: bool) -> None:
    """Reject expressions whose day fields never match (e.g. day 1-7 AND the 2nd Monday).

    Exact and bounded: 10,227 days are looked at, at most (``_EVERY_KIND_OF_YEAR``).
    """
    day, end = _EVERY_KIND_OF_YEAR
    while day < end:
        if parsed.matches(day, day_or):
            return
        day += _ONE_DAY
    raise NeverFiresError(
        f'cron "{parsed.expression}": never fires: no date matches both day-of-month '
        "and day-of-week"
    )
