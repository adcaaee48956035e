"""croniter is the reference for what an expression means: our parser and day rule must agree
with it on every expression it accepts (on UTC, where DST plays no part), and the public
surface must stay what it says it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from schedule_helpers import utc

import baton._schedules.catchup
import baton.schedules
from baton.schedules import CronSpec, next_fire_times

pytestmark = pytest.mark.unit

EXPRESSIONS = [
    "*/5 * * * *",
    "0 9 * * mon-fri",
    "0 22-2 * * *",
    "5/15 * * * *",
    "1,2,3-5/2 * * * *",
    "0 0 L * *",
    "0 0 1,L * *",
    "0 0 */2 * 1",
    "0 0 1 * */2",
    "0 0 13 * 5",
    "0 0 * * 5#2",
    "0 12 ? JAN-MAR,dec SUN",
    "30 4 29 2 *",
    "0 0 30-2 * *",
    "0 0 * * fri-mon",
    "0 0 * * 0-7",
    "0 0 * * 1-7/2",
    "@weekly",
    "@monthly",
    "@yearly",
    "0 9 8-14 * 5",
]


@pytest.mark.parametrize("day_or", [True, False])
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_agrees_with_croniter_in_utc(expression: str, day_or: bool) -> None:
    start = datetime(2026, 1, 1, 0, 3)
    reference = croniter(expression, start, day_or=day_or)
    expected = [reference.get_next(datetime).replace(tzinfo=UTC) for _ in range(40)]
    assert next_fire_times(CronSpec(expression, day_or=day_or), start.replace(tzinfo=UTC), 40) == (
        expected
    )


def test_agrees_with_croniter_in_a_zone_away_from_transitions() -> None:
    # croniter 7 with zoneinfo is right except around transitions (it fires a repeated hour
    # twice); away from them both must agree.
    zone = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 5, 1, tzinfo=zone)
    reference = croniter("17 */3 * * *", start)
    expected = [reference.get_next(datetime).astimezone(UTC) for _ in range(60)]
    assert next_fire_times(CronSpec("17 */3 * * *", "Europe/Berlin"), start, 60) == expected


def test_croniter_differs_on_the_repeated_hour_and_we_follow_prefect() -> None:
    zone = ZoneInfo("America/New_York")
    start = datetime(2026, 11, 1, 0, 30, tzinfo=zone)
    reference = croniter("0 * * * *", start)
    theirs = [reference.get_next(datetime).astimezone(UTC) for _ in range(3)]
    ours = next_fire_times(CronSpec("0 * * * *", "America/New_York"), start, 2)
    assert theirs == [utc(2026, 11, 1, 5), utc(2026, 11, 1, 6), utc(2026, 11, 1, 7)]
    assert ours == [utc(2026, 11, 1, 5), utc(2026, 11, 1, 7)]  # 01:00 EDT, 02:00 EST


def test_long_scan_for_rare_days_terminates() -> None:
    # Friday the 29th of February: next in 2036.
    spec = CronSpec("0 0 29 2 5", day_or=False)
    assert next_fire_times(spec, utc(2026, 1, 1), 1) == [utc(2036, 2, 29)]
    assert next_fire_times(CronSpec("0 0 29 2 *"), utc(2096, 3, 1), 1) == [utc(2104, 2, 29)]
    assert (utc(2104, 2, 29) - utc(2096, 3, 1)) > timedelta(days=365 * 7)


def test_public_surface_is_sorted_and_complete() -> None:
    exported = baton.schedules.__all__
    assert list(exported) == sorted(exported, key=lambda n: (not n.isupper(), n))
    public = {
        name
        for name in vars(baton.schedules)
        if not name.startswith("_") and name not in {"annotations"}
    }
    assert public == set(exported)
    assert baton._schedules.catchup.CatchupPolicy is baton.schedules.CatchupPolicy
