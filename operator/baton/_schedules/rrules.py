"""RFC 5545 recurrence rules, evaluated on the wall clock of the schedule's timezone.

``dateutil.rrule`` does the calendar work on *naive* datetimes; :mod:`wallclock` then applies
the same DST rules as for cron. Before parsing, the text is normalised so that every time in it
is a wall-clock time of the schedule's timezone:

- ``DTSTART`` with ``TZID=`` or a trailing ``Z`` is an instant and is converted; a floating
  ``DTSTART`` is read as wall-clock time; without ``DTSTART`` the rule starts at
  2020-01-01T00:00 local (Prefect's default anchor date);
- ``UNTIL=...Z`` is converted likewise; ``RDATE``/``EXDATE`` values are read as wall-clock.

Every search is bounded. dateutil finds the next occurrence by stepping through calendar
periods (days, weeks, months...) and checks ``UNTIL`` only on candidates, so a rule that
never matches (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``) steps to the year 9999: 12 s on
the operator's event loop. Each search here may take ``SEARCH_STEPS`` period steps per
occurrence found; one that runs out raises ``NeverFiresError``. The steps are counted by
an ``_iterinfo`` subclass (dateutil builds one per iteration and asks it for every
period's days and every new month or year), installed in ``dateutil.rrule`` at import.
Counting happens only inside a search started here; elsewhere dateutil is unchanged.
``FREQ=SECONDLY`` is refused: one of its steps can walk 86,400 seconds (use an interval);
so is ``FREQ=MINUTELY`` with ``BYHOUR``, whose steps walk up to 1,440 minutes (use a cron).

Long-running rules are fast-forwarded: dateutil iterates from ``DTSTART``, so an hourly rule
started in 2020 would walk 50k hours on every call. For rules without ``COUNT`` and a fixed-length
period (``SECONDLY`` .. ``WEEKLY``), moving ``DTSTART`` forward by whole periods does not change
any later occurrence, so it is moved to just before the time asked about.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

import dateutil.rrule
from dateutil.rrule import rrule, rrulebase, rruleset, rrulestr

from baton._schedules.specs import NeverFiresError, ScheduleError
from baton._schedules.wallclock import load_zone

MAX_RRULE_LENGTH: Final = 6500  # Prefect's bound: about a year of RDATEs
#: Calendar steps one search may take per occurrence: a day's period is one step, a week's
#: or a month's two, a year's six (what each costs dateutil, measured); about eight years
#: of days, at most ~25 ms on the 2-core development machine (docs/security.md).
SEARCH_STEPS: Final = 3_000
#: Steps from a rule's start to the first occurrence asked for (a rule with ``COUNT`` cannot
#: be fast-forwarded, so it is walked from ``DTSTART``): at most ~0.1 s.
SEARCH_STEPS_TOTAL: Final = 30_000
DEFAULT_DTSTART: Final = datetime(2020, 1, 1)
_DTSTART = re.compile(
    r"^DTSTART(?:;VALUE=DATE(?:-TIME)?)?(?:;TZID=(?P<tz>[^:;]+))?(?:;VALUE=DATE(?:-TIME)?)?:"
    r"(?P<value>\d{8}(?:T\d{6})?)(?P<utc>Z?)$",
    re.IGNORECASE,
)
_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)
_FIXED_PERIODS: Final = {
    "SECONDLY": timedelta(seconds=1),
    "MINUTELY": timedelta(minutes=1),
    "HOURLY": timedelta(hours=1),
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(weeks=1),
}


class _OutOfSteps(Exception):
    pass


_STEPS_LEFT: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "baton_rrule_steps", default=None
)


def _step(cost: int = 1) -> None:
    left = _STEPS_LEFT.get()
    if left is not None:
        left[0] -= cost
        if left[0] < 0:
            raise _OutOfSteps


class _CountedIterinfo(dateutil.rrule._iterinfo):
    """dateutil's per-iteration calendar helper, spending one step per period or month.

    No ``__slots__`` of its own: the base's ``__init__`` sets ``self.__slots__``, which must
    stay the base's list.
    """

    def rebuild(self, year: int, month: int) -> None:
        _step()
        super().rebuild(year, month)

    def ydayset(self, *args: Any) -> Any:
        _step(6)
        return super().ydayset(*args)

    def mdayset(self, *args: Any) -> Any:
        _step(2)
        return super().mdayset(*args)

    def wdayset(self, *args: Any) -> Any:
        _step(2)
        return super().wdayset(*args)

    def ddayset(self, *args: Any) -> Any:
        _step()
        return super().ddayset(*args)


dateutil.rrule._iterinfo = _CountedIterinfo  # type: ignore[misc]


def bounded(rule: rrulebase, text: str, after: datetime | None = None) -> Iterator[datetime]:
    """``rule``'s occurrences after ``after``, with bounded work before each one.

    At most ``SEARCH_STEPS`` steps between two occurrences and ``SEARCH_STEPS_TOTAL`` from
    the rule's start to the first one after ``after`` (a rule with ``COUNT`` is walked from
    its ``DTSTART``); more raises ``NeverFiresError``.
    """
    occurrences = iter(rule)
    total = SEARCH_STEPS_TOTAL
    left = [SEARCH_STEPS]
    while True:
        left[0] = min(SEARCH_STEPS, total)
        token = _STEPS_LEFT.set(left)
        try:
            occurrence = next(occurrences, None)
        except _OutOfSteps:
            within = "calendar steps" if total > SEARCH_STEPS else "steps from its DTSTART"
            raise fail(
                text, f"never fires: no occurrence within {SEARCH_STEPS} {within}", never=True
            ) from None
        except (ValueError, OverflowError) as exc:
            # dateutil finds some contradictions only while iterating ("Invalid combination
            # of interval and byhour resulting in empty rule"), or runs past the year 9999.
            raise fail(text, str(exc) or type(exc).__name__) from None
        finally:
            _STEPS_LEFT.reset(token)
        if occurrence is None:
            return
        if after is not None and occurrence <= after:
            total -= SEARCH_STEPS - left[0] + 1
            continue
        total = SEARCH_STEPS_TOTAL
        yield occurrence


@dataclass(frozen=True)
class ParsedRule:
    """A rule ready to iterate on naive wall-clock time, and its fast-forward period."""

    rule: rrulebase
    period: timedelta | None
    text: str

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        """Naive occurrences strictly after naive ``after``, ascending."""
        rule = self.rule
        if self.period is not None and isinstance(rule, rrule):
            start = _dtstart(rule)
            skip = (after - start) // self.period - 1
            if skip > 0:
                rule = rule.replace(dtstart=start + skip * self.period)
        return bounded(rule, self.text, after)


def _dtstart(rule: rrule) -> datetime:
    value: datetime = rule._dtstart  # type: ignore[attr-defined]  # dateutil has no public getter
    return value


def _shown(text: str) -> str:
    flat = text.strip().replace("\r", "").replace("\n", "\\n")
    return flat if len(flat) <= 80 else flat[:77] + "..."


def fail(text: str, message: str, *, never: bool = False) -> ScheduleError:
    kind = NeverFiresError if never else ScheduleError
    return kind(f'rrule "{_shown(text)}": {message}')


def dtstart_timezone(text: str) -> str | None:
    """The ``TZID`` of the ``DTSTART`` line, ``"UTC"`` for a ``Z`` value, else ``None``."""
    for line in text.splitlines():
        match = _DTSTART.match(line.strip())
        if match:
            if match["tz"]:
                return match["tz"]
            return "UTC" if match["utc"] else None
    return None


def _parse_stamp(text: str, value: str) -> datetime:
    try:
        if "T" in value.upper():
            return datetime.strptime(value.upper(), "%Y%m%dT%H%M%S")
        return datetime.strptime(value, "%Y%m%d")
    except ValueError:
        raise fail(text, f'invalid date "{value}"') from None


def _to_wall(stamp: datetime, source: tzinfo, zone: tzinfo) -> datetime:
    return stamp.replace(tzinfo=source).astimezone(zone).replace(tzinfo=None)


def _rule_properties(text: str, line: str) -> dict[str, str]:
    body = line.split(":", 1)[1] if ":" in line else line
    props: dict[str, str] = {}
    for part in body.split(";"):
        key, _, value = part.partition("=")
        props[key.strip().upper()] = value.strip()
    for key in ("INTERVAL", "COUNT"):
        if key in props and (not props[key].isdigit() or int(props[key]) < 1):
            raise fail(text, f"{key} must be a positive integer, got {props[key]!r}")
    freq = props.get("FREQ", "").upper()
    if freq == "SECONDLY":
        raise fail(text, "FREQ=SECONDLY is not supported; use an interval schedule")
    if freq == "MINUTELY" and "BYHOUR" in props:
        # dateutil walks up to 1,440 minutes per step to reach a BYHOUR: 0.4 s per search.
        raise fail(text, "FREQ=MINUTELY with BYHOUR is not supported; use a cron schedule")
    return props


@functools.lru_cache(maxsize=1024)
def parse_rrule(text: str, timezone: str) -> ParsedRule:
    """Parse ``text`` for evaluation in ``timezone``; raise ``ScheduleError`` if invalid."""
    if not text.strip():
        raise fail(text, "empty rule")
    if len(text) > MAX_RRULE_LENGTH:
        raise fail(text, f"{len(text)} characters, at most {MAX_RRULE_LENGTH} allowed")
    zone = load_zone(timezone)
    dtstart = DEFAULT_DTSTART
    lines: list[str] = []
    rule_lines: list[dict[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        upper = line.upper()
        if upper.startswith("DTSTART"):
            match = _DTSTART.match(line)
            if not match:
                raise fail(
                    text, f'cannot read "{line}" (expected DTSTART[;TZID=Zone]:YYYYMMDDTHHMMSS[Z])'
                )
            dtstart = _parse_stamp(text, match["value"])
            if match["tz"]:
                try:
                    source = load_zone(match["tz"])
                except ScheduleError:
                    raise fail(text, f'unknown timezone "{match["tz"]}" in DTSTART') from None
                dtstart = _to_wall(dtstart, source, zone)
            elif match["utc"]:
                dtstart = _to_wall(dtstart, UTC, zone)
            continue
        if ":" not in line and not upper.startswith("FREQ="):
            raise fail(
                text, f'cannot read "{line}" (expected lines like RRULE:FREQ=DAILY;BYHOUR=9)'
            )
        if upper.startswith(("RRULE", "EXRULE", "FREQ=")):
            rule_lines.append(_rule_properties(text, line))
            line = _UNTIL_UTC.sub(
                lambda m: (
                    "UNTIL="
                    + _to_wall(_parse_stamp(text, m[1]), UTC, zone).strftime("%Y%m%dT%H%M%S")
                ),
                line,
            )
        lines.append(line)
    if not lines:
        raise fail(text, "no RRULE or RDATE line")
    try:
        rule = rrulestr("\n".join(lines), dtstart=dtstart, ignoretz=True, cache=False)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise fail(text, str(exc) or type(exc).__name__) from None
    period = None
    if isinstance(rule, rrule) and len(rule_lines) == 1 and "COUNT" not in rule_lines[0]:
        unit = _FIXED_PERIODS.get(rule_lines[0].get("FREQ", ""))
        if unit is not None:
            period = unit * int(rule_lines[0].get("INTERVAL", "1"))
    assert isinstance(rule, (rrule, rruleset))
    return ParsedRule(rule=rule, period=period, text=text)


@functools.lru_cache(maxsize=1024)
def check_fires(text: str, timezone: str) -> None:
    """Raise ``NeverFiresError`` unless the rule has an occurrence, found with bounded work."""
    parsed = parse_rrule(text, timezone)
    if next(bounded(parsed.rule, text), None) is None:
        raise fail(text, "never fires: the rule has no occurrence at all", never=True)
