"""Missed-run planning: each catch-up policy, the deadline, and the year-long outage."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from schedule_helpers import utc

from baton._schedules import timeline
from baton.schedules import (
    SKIPPED_SAMPLE_SIZE,
    CatchupPolicy,
    CronSpec,
    IntervalSpec,
    MissedPlan,
    RRuleSpec,
    ScheduleSpec,
    plan_due_runs,
)

pytestmark = pytest.mark.unit

HOURLY = CronSpec("0 * * * *")
MINUTELY_BERLIN = CronSpec("* * * * *", "Europe/Berlin")
CREATED = utc(2026, 1, 1)


def plan(
    spec: ScheduleSpec = HOURLY,
    *,
    last: object = None,
    now: object,
    policy: CatchupPolicy,
    deadline: int | None = None,
    max_catchup: int = 100,
) -> MissedPlan:
    return plan_due_runs(
        spec,
        last_scheduled=last,  # type: ignore[arg-type]
        created_at=CREATED,
        now=now,  # type: ignore[arg-type]
        policy=policy,
        starting_deadline_seconds=deadline,
        max_catchup=max_catchup,
    )


@pytest.mark.parametrize("policy", list(CatchupPolicy))
def test_on_time_tick_is_created_by_every_policy(policy: CatchupPolicy) -> None:
    result = plan(
        last=utc(2026, 1, 1, 9), now=utc(2026, 1, 1, 10, 0, 2), policy=policy, deadline=60
    )
    assert result == MissedPlan(
        to_create=[utc(2026, 1, 1, 10)], skipped=[], skipped_count=0, latest_due=utc(2026, 1, 1, 10)
    )


@pytest.mark.parametrize("policy", list(CatchupPolicy))
def test_nothing_due(policy: CatchupPolicy) -> None:
    assert (
        plan(last=utc(2026, 1, 1, 10), now=utc(2026, 1, 1, 10, 59), policy=policy) == MissedPlan()
    )
    # now before the window: nothing either
    assert plan(last=utc(2026, 1, 1, 10), now=utc(2026, 1, 1, 9), policy=policy) == MissedPlan()


def test_created_at_is_the_window_start_without_last_scheduled() -> None:
    result = plan(now=utc(2026, 1, 1, 3, 30), policy=CatchupPolicy.ALL)
    assert result.to_create == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2), utc(2026, 1, 1, 3)]


def test_latest_creates_only_the_most_recent() -> None:
    result = plan(last=utc(2026, 1, 1, 0), now=utc(2026, 1, 1, 5, 10), policy=CatchupPolicy.LATEST)
    assert result.to_create == [utc(2026, 1, 1, 5)]
    assert result.skipped == [utc(2026, 1, 1, h) for h in (1, 2, 3, 4)]
    assert result.skipped_count == 4
    assert result.latest_due == utc(2026, 1, 1, 5)


def test_latest_respects_the_deadline() -> None:
    result = plan(
        last=utc(2026, 1, 1, 0),
        now=utc(2026, 1, 1, 5, 10),
        policy=CatchupPolicy.LATEST,
        deadline=300,
    )
    assert result.to_create == []
    assert result.skipped_count == 5
    assert result.latest_due == utc(2026, 1, 1, 5)


def test_deadline_boundary_is_inclusive() -> None:
    now = utc(2026, 1, 1, 5, 5)
    on_edge = plan(last=utc(2026, 1, 1, 4), now=now, policy=CatchupPolicy.LATEST, deadline=300)
    assert on_edge.to_create == [utc(2026, 1, 1, 5)]
    past_edge = plan(last=utc(2026, 1, 1, 4), now=now, policy=CatchupPolicy.LATEST, deadline=299)
    assert past_edge.to_create == []


def test_all_creates_every_time_within_the_deadline() -> None:
    result = plan(
        last=utc(2026, 1, 1, 0),
        now=utc(2026, 1, 1, 5, 10),
        policy=CatchupPolicy.ALL,
        deadline=3 * 3600,
    )
    assert result.to_create == [utc(2026, 1, 1, 3), utc(2026, 1, 1, 4), utc(2026, 1, 1, 5)]
    assert result.skipped == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2)]
    assert result.skipped_count == 2


def test_all_is_capped_at_max_catchup_most_recent() -> None:
    result = plan(
        last=utc(2026, 1, 1, 0), now=utc(2026, 1, 1, 5, 10), policy=CatchupPolicy.ALL, max_catchup=2
    )
    assert result.to_create == [utc(2026, 1, 1, 4), utc(2026, 1, 1, 5)]
    assert result.skipped_count == 3


def test_skip_creates_only_a_time_due_now() -> None:
    due_now = plan(
        last=utc(2026, 1, 1, 0), now=utc(2026, 1, 1, 5, 0, 30), policy=CatchupPolicy.SKIP
    )
    assert due_now.to_create == [utc(2026, 1, 1, 5)]
    assert due_now.skipped_count == 4
    late = plan(last=utc(2026, 1, 1, 0), now=utc(2026, 1, 1, 5, 1, 1), policy=CatchupPolicy.SKIP)
    assert late.to_create == []
    assert late.skipped_count == 5
    # a shorter deadline tightens the 60 s tolerance; a longer one does not widen it
    tight = plan(
        last=utc(2026, 1, 1, 4),
        now=utc(2026, 1, 1, 5, 0, 30),
        policy=CatchupPolicy.SKIP,
        deadline=10,
    )
    assert tight.to_create == []
    wide = plan(
        last=utc(2026, 1, 1, 4), now=utc(2026, 1, 1, 5, 2), policy=CatchupPolicy.SKIP, deadline=3600
    )
    assert wide.to_create == []


def test_skipped_sample_is_bounded_and_most_recent() -> None:
    result = plan(last=utc(2026, 1, 1), now=utc(2026, 1, 3), policy=CatchupPolicy.LATEST)
    assert result.skipped_count == 47
    assert len(result.skipped) == SKIPPED_SAMPLE_SIZE
    assert result.skipped[-1] == utc(2026, 1, 2, 23)
    assert result.skipped == sorted(result.skipped)


@pytest.mark.parametrize("policy", list(CatchupPolicy))
def test_year_long_outage_on_a_minute_cron_is_bounded_work(
    policy: CatchupPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """525,540 missed minutes are counted, not walked: only the kept ones are generated."""
    generated = 0
    walk = timeline.iter_before

    def counted(spec: CronSpec | IntervalSpec, until: datetime) -> Iterator[datetime]:
        nonlocal generated
        for instant in walk(spec, until):
            generated += 1
            yield instant

    monkeypatch.setattr(timeline, "iter_before", counted)
    last, now = utc(2025, 1, 1), utc(2026, 1, 1, 0, 0, 5)
    result = plan(MINUTELY_BERLIN, last=last, now=now, policy=policy, deadline=None, max_catchup=50)
    due = 365 * 24 * 60 - 60  # Berlin's spring-forward hour does not exist
    created = {CatchupPolicy.LATEST: 1, CatchupPolicy.ALL: 50, CatchupPolicy.SKIP: 1}[policy]
    assert len(result.to_create) == created
    assert result.to_create[-1] == utc(2026, 1, 1)
    assert result.skipped_count == due - created
    # Only the runs to create and the skipped sample are generated, +1: the one that
    # ends the takewhile.
    assert 0 < generated <= created + SKIPPED_SAMPLE_SIZE + 1, generated


def test_year_long_outage_with_interval_and_deadline() -> None:
    spec = IntervalSpec(timedelta(seconds=10))
    result = plan(
        spec, last=utc(2025, 1, 1), now=utc(2026, 1, 1), policy=CatchupPolicy.ALL, deadline=60
    )
    assert result.to_create == [utc(2025, 12, 31, 23, 59, s) for s in range(0, 60, 10)] + [
        utc(2026, 1, 1)
    ]
    assert result.skipped_count == 365 * 8640 - 7


def test_rrule_plans_too() -> None:
    spec = RRuleSpec("RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0")
    result = plan(
        spec, last=utc(2026, 1, 1), now=utc(2026, 1, 10, 9, 0, 1), policy=CatchupPolicy.LATEST
    )
    assert result.to_create == [utc(2026, 1, 10, 9)]
    assert result.skipped_count == 9


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_catchup"):
        plan(now=utc(2026, 1, 2), policy=CatchupPolicy.ALL, max_catchup=0)
    with pytest.raises(ValueError, match="starting_deadline_seconds"):
        plan(now=utc(2026, 1, 2), policy=CatchupPolicy.ALL, deadline=-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(now=utc(2026, 1, 2).replace(tzinfo=None), policy=CatchupPolicy.ALL)


def test_policy_values_match_the_crd() -> None:
    assert [p.value for p in CatchupPolicy] == ["Latest", "All", "Skip"]
    assert CatchupPolicy("All") is CatchupPolicy.ALL
