"""The one validation entry point the CLI and the operator share, and human-facing text.

``validate_schedule`` turns what a user wrote (a Deployment's ``schedules[]`` item or CLI flags)
into a spec, or raises ``ScheduleError`` with a message that names the field, the value and
what is allowed. Both callers show the message verbatim, so its wording is part of the API.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from baton._schedules.cron import check_fires, parse_cron
from baton._schedules.rrules import check_fires as check_rrule_fires
from baton._schedules.rrules import dtstart_timezone, parse_rrule
from baton._schedules.specs import (
    CronSpec,
    IntervalSpec,
    NeverFiresError,
    RRuleSpec,
    ScheduleError,
    ScheduleSpec,
)
from baton._schedules.wallclock import load_zone, wall_to_utc

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_COMPACT = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])")
_ISO = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?"
)
#: Longest interval: fire times further apart are beyond any search horizon (and their
#: arithmetic would overflow ``datetime`` long before ``timedelta.max``).
MAX_INTERVAL = timedelta(days=100 * 366)
_INTERVAL_HELP = (
    'expected seconds (30), a duration like "1h30m" (units w d h m s) or ISO 8601 like "PT1H30M"'
)


def _interval_error(value: object, message: str) -> ScheduleError:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return ScheduleError(f"interval {shown}: {message}")


def _seconds_from_text(value: str) -> float:
    text = value.strip()
    if not text:
        raise _interval_error(value, f"empty; {_INTERVAL_HELP}")
    try:
        return float(text)
    except ValueError:
        pass
    if text[0] in "Pp":
        iso = _ISO.fullmatch(text.upper())
        if not iso or text.upper() in ("P", "PT") or text.upper().endswith("T"):
            raise _interval_error(value, f"not an ISO 8601 duration; {_INTERVAL_HELP}")
        if iso["years"] or iso["months"]:
            raise _interval_error(
                value, "months and years are not fixed durations; use a cron or rrule schedule"
            )
        parts = {unit: float((iso[unit] or "0").replace(",", ".")) for unit in "wdhms"}
        return sum(_UNITS[unit] * amount for unit, amount in parts.items())
    compact = text.replace(" ", "")
    if not re.fullmatch(r"(?:\d+(?:\.\d+)?[wdhms])+", compact):
        raise _interval_error(value, _INTERVAL_HELP)
    pieces = _COMPACT.findall(compact)
    units = [unit for _, unit in pieces]
    if len(set(units)) != len(units) or units != sorted(units, key="wdhms".index):
        raise _interval_error(value, "units must appear once each, largest first (w d h m s)")
    return sum(float(amount) * _UNITS[unit] for amount, unit in pieces)


def parse_interval(value: str | int | float | timedelta) -> timedelta:
    """Parse an interval: seconds (``30``, ``"30"``), a compact duration (``"90s"``,
    ``"1h30m"``, ``"2d"``, ``"1w"``) or ISO 8601 (``"PT1H30M"``, ``"P1D"``).

    The result is a whole number of seconds, at least one: FlowRun names carry the scheduled
    time to the second, so two fire times may not share a second.

    Raises:
        ScheduleError: with a message such as ``interval "1x": expected seconds (30), ...``.
    """
    if isinstance(value, bool):
        raise _interval_error(value, f"a boolean is not an interval; {_INTERVAL_HELP}")
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _seconds_from_text(value)
    else:
        raise _interval_error(value, _INTERVAL_HELP)
    if not math.isfinite(seconds):
        raise _interval_error(value, "must be a finite duration")
    if seconds <= 0:
        raise _interval_error(value, "must be positive")
    if seconds != int(seconds):
        raise _interval_error(value, "must be a whole number of seconds")
    if seconds > timedelta.max.total_seconds():
        raise _interval_error(value, "is too long")
    if seconds > MAX_INTERVAL.total_seconds():
        raise NeverFiresError(
            f"interval {value if not isinstance(value, str) else repr(value)}: never fires "
            f"within the schedule horizon (at most {MAX_INTERVAL.days} days)"
        )
    return timedelta(seconds=int(seconds))


def format_interval(every: timedelta) -> str:
    """Compact text for a duration: ``1h30m``, ``2d``, ``45s``; 86405 s is ``1d5s``."""
    remaining = int(every.total_seconds())
    if remaining <= 0:
        return f"{every.total_seconds():g}s"
    out = []
    for unit in "dhms":
        amount, remaining = divmod(remaining, _UNITS[unit])
        if amount:
            out.append(f"{amount}{unit}")
    return "".join(out)


def validate_timezone(name: str) -> None:
    """Raise ``ScheduleError('unknown timezone "Mars/Base"')`` unless ``name`` is an IANA zone."""
    load_zone(name)


def validate_cron(expression: str) -> None:
    """Raise ``ScheduleError`` naming the field, the value and the allowed range; accepts 5
    fields and the ``@hourly @daily @midnight @weekly @monthly @yearly @annually`` macros."""
    check_fires(parse_cron(expression), day_or=True)


def validate_rrule(text: str) -> None:
    """Raise ``ScheduleError`` unless ``text`` is an RFC 5545 rule ``dateutil`` can evaluate."""
    parse_rrule(text, "UTC")


def validate_schedule(
    *,
    cron: str | None = None,
    interval: str | int | float | timedelta | None = None,
    rrule: str | None = None,
    timezone: str | None = None,
    anchor_time: datetime | None = None,
    day_or: bool = True,
) -> ScheduleSpec:
    """Build the spec for one schedule, or raise ``ScheduleError``.

    Exactly one of ``cron``, ``interval`` and ``rrule``. ``timezone`` defaults to UTC (for an
    rrule, to its ``DTSTART;TZID=`` zone). ``anchor_time`` is only for intervals; a naive one is
    read in ``timezone``.
    """
    given = [
        name
        for name, value in (("cron", cron), ("interval", interval), ("rrule", rrule))
        if value is not None
    ]
    if len(given) != 1:
        got = " and ".join(given) if given else "none"
        raise ScheduleError(f"a schedule needs exactly one of cron, interval or rrule; got {got}")
    if anchor_time is not None and interval is None:
        raise ScheduleError("anchorTime is only valid with an interval schedule")
    if timezone is not None:
        validate_timezone(timezone)
    if cron is not None:
        check_fires(parse_cron(cron), day_or=day_or)
        return CronSpec(expression=cron, timezone=timezone or "UTC", day_or=day_or)
    if rrule is not None:
        parse_rrule(rrule, "UTC")  # errors in the text first, naming the rule
        zone_name = timezone or dtstart_timezone(rrule) or "UTC"
        check_rrule_fires(rrule, zone_name)
        return RRuleSpec(rrule=rrule, timezone=zone_name)
    assert interval is not None
    every = parse_interval(interval)
    zone_name = timezone or "UTC"
    anchor = None
    if anchor_time is not None:
        if anchor_time.tzinfo is None:
            anchor = wall_to_utc(anchor_time, load_zone(zone_name))
        else:
            anchor = anchor_time.astimezone(UTC)
    return IntervalSpec(every=every, anchor=anchor, timezone=zone_name)


def describe(spec: ScheduleSpec) -> str:
    """A short summary for ``kubectl get`` printer columns and the CLI.

    ``*/5 * * * * (Europe/Berlin)``, ``every 1h30m``, ``RRULE:FREQ=DAILY;BYHOUR=9 (Europe/Berlin)``.
    """
    zone = "" if spec.timezone == "UTC" else f" ({spec.timezone})"
    if isinstance(spec, CronSpec):
        mode = "" if spec.day_or else " [day-of-month AND day-of-week]"
        return f"{' '.join(spec.expression.split())}{mode}{zone}"
    if isinstance(spec, IntervalSpec):
        return f"every {format_interval(spec.every)}"
    lines = [line.strip() for line in spec.rrule.splitlines() if line.strip()]
    rule = next((line for line in lines if not line.upper().startswith("DTSTART")), "")
    if len(rule) > 60:
        rule = rule[:57] + "..."
    return f"{rule}{zone}"
