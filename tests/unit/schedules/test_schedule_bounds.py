"""Schedule searches are bounded; a schedule that never fires is ``NeverFires``.

Guards the step budget on dateutil's rrule iteration (``_schedules/rrules.py``), the exact
28-year scan for crons (``_schedules/cron.py``), the interval horizon, and the planner's
turning a search that runs out into a ``NeverFires`` problem rather than an exception.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.controller.planning import plan_schedules, ready_condition
from baton.resources import Deployment
from baton.resources.validation import NEVER_FIRES, deployment_problems
from baton.schedules import (
    NeverFiresError,
    RRuleSpec,
    ScheduleError,
    next_fire_times,
    validate_schedule,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
#: Far above a bounded search (~25 ms), far below the 12 s an unbounded one took.
BOUND = 0.5

NEVER = [
    {"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"},
    {"rrule": "FREQ=MINUTELY;BYMONTH=4;BYMONTHDAY=31"},
    {"rrule": "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30"},
    {"rrule": "FREQ=WEEKLY;BYMONTH=2;BYMONTHDAY=31"},
    {"rrule": "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30"},
    {"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"},
    {"rrule": "FREQ=MINUTELY;BYSETPOS=2"},
    {"rrule": "DTSTART:20200101T000000\nRRULE:FREQ=DAILY;UNTIL=20190101T000000"},
    {"cron": "0 0 30 2 *"},
    {"cron": "0 0 1-7 * 1#2", "day_or": False},
    {"interval": 10**12},
]


@pytest.mark.parametrize("schedule", NEVER, ids=lambda s: next(iter(s.values())))
def test_schedules_that_never_fire_are_refused_quickly(schedule: dict[str, Any]) -> None:
    start = time.perf_counter()
    with pytest.raises(NeverFiresError, match="never"):
        validate_schedule(**schedule)
    assert time.perf_counter() - start < BOUND


@pytest.mark.parametrize(
    ("schedule", "first"),
    [
        ({"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29"}, datetime(2028, 2, 29, tzinfo=UTC)),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO"}, datetime(2044, 2, 29)),
        ({"cron": "0 0 29 2 1", "day_or": False}, datetime(2044, 2, 29, tzinfo=UTC)),
    ],
)
def test_sparse_schedules_still_fire(schedule: dict[str, Any], first: datetime) -> None:
    times = next_fire_times(validate_schedule(**schedule), NOW, 1)
    assert times == [first.replace(tzinfo=UTC)]


def test_secondly_rrules_and_minutely_by_hour_are_refused() -> None:
    with pytest.raises(ScheduleError, match="FREQ=SECONDLY is not supported"):
        validate_schedule(rrule="FREQ=SECONDLY;BYHOUR=23;BYMINUTE=59")
    with pytest.raises(ScheduleError, match="FREQ=MINUTELY with BYHOUR is not supported"):
        validate_schedule(rrule="FREQ=MINUTELY;BYHOUR=23;BYWEEKNO=1;BYYEARDAY=1")

    # The property test's find: dateutil raised ValueError from inside its iteration.
    with pytest.raises(ScheduleError):
        validate_schedule(
            rrule="FREQ=MINUTELY;INTERVAL=400;BYWEEKNO=1;BYYEARDAY=1;BYMINUTE=0;BYHOUR=23"
        )


def test_a_search_that_runs_out_later_raises_never_fires() -> None:
    # Fires in 2020 only: valid, but from 2026 on a search finds nothing within its bound.
    spec = RRuleSpec("DTSTART:20200101T000000\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30,1")
    validate_schedule(rrule=spec.rrule)
    start = time.perf_counter()
    times = next_fire_times(spec, NOW, 3)
    assert time.perf_counter() - start < BOUND
    assert times  # February 1st is real
    sparse = RRuleSpec("RRULE:FREQ=MINUTELY;INTERVAL=7;COUNT=1000000000")
    with pytest.raises(NeverFiresError):
        next_fire_times(sparse, NOW, 1)  # walked from 2020: beyond the total bound


def _deployment(schedules: list[dict[str, Any]]) -> Deployment:
    return Deployment.model_validate(
        {
            "metadata": {
                "name": "d",
                "namespace": "n",
                "generation": 2,
                "creationTimestamp": "2026-12-01T00:00:00Z",
            },
            "spec": {"flowRef": {"name": "f"}, "schedules": schedules},
        }
    )


def test_never_fires_is_the_deployments_ready_reason() -> None:
    deployment = _deployment([{"interval": 60}, {"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}])
    assert [p.reason for p in deployment_problems(deployment.spec)] == [NEVER_FIRES]
    plan = plan_schedules(deployment, now=NOW)
    assert plan.runs == []
    ready = ready_condition(deployment, plan, NOW)
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == (
        "False",
        "NeverFires",
        2,
    )
    assert ready["message"].startswith("schedules[1]: rrule")


_FREQS = st.sampled_from(["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY"])
_PARTS = st.fixed_dictionaries(
    {"FREQ": _FREQS},
    optional={
        "INTERVAL": st.integers(1, 400).map(str),
        "COUNT": st.integers(1, 5).map(str),
        "BYMONTH": st.lists(st.integers(1, 12), min_size=1, max_size=3).map(
            lambda v: ",".join(map(str, v))
        ),
        "BYMONTHDAY": st.lists(st.integers(-31, 31).filter(bool), min_size=1, max_size=3).map(
            lambda v: ",".join(map(str, v))
        ),
        "BYDAY": st.sampled_from(["MO", "2TU", "-1FR", "SA,SU", "5WE"]),
        "BYSETPOS": st.sampled_from(["1", "-1", "3", "400"]),
        "BYHOUR": st.sampled_from(["0", "23", "3,15"]),  # refused with MINUTELY
        "BYMINUTE": st.sampled_from(["0", "59"]),
        "BYYEARDAY": st.sampled_from(["1", "-1", "366", "60"]),
        "BYWEEKNO": st.sampled_from(["1", "53", "-1"]),
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=_PARTS,
    dtstart=st.sampled_from(["", "DTSTART:19990101T000000\n", "DTSTART:20991231T235900\n"]),
)
def test_any_rrule_gets_a_verdict_in_bounded_time(parts: dict[str, str], dtstart: str) -> None:
    text = dtstart + "RRULE:" + ";".join(f"{k}={v}" for k, v in parts.items())
    start = time.perf_counter()
    with contextlib.suppress(ScheduleError):
        next_fire_times(validate_schedule(rrule=text), NOW, 3)
    assert time.perf_counter() - start < BOUND, text


def test_a_search_that_runs_out_while_planning_is_never_fires_not_an_exception() -> None:
    # Valid (it fires at its DTSTART), but walking a COUNT rule from 2020 to now exceeds
    # the search bound: the plan says NeverFires instead of raising out of the scheduler.
    rule = "DTSTART:20200101T000000\nRRULE:FREQ=MINUTELY;INTERVAL=7;COUNT=1000000000"
    deployment = _deployment([{"rrule": rule}])
    assert deployment_problems(deployment.spec) == []
    plan = plan_schedules(deployment, now=NOW)
    assert plan.runs == []
    assert [p.reason for p in plan.problems] == [NEVER_FIRES]
    assert ready_condition(deployment, plan, NOW)["reason"] == "NeverFires"
