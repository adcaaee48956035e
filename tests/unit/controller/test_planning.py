"""The scheduler's pure planner, with fixed clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton.controller.planning import (
    RunInfo,
    build_flow_run,
    deployment_status,
    plan_schedules,
    runs_to_delete,
)
from baton.resources import Deployment

pytestmark = pytest.mark.unit
CREATED = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)


def deployment(status: dict[str, Any] | None = None, **spec: Any) -> Deployment:
    return Deployment.model_validate(
        {
            "metadata": {
                "name": "etl",
                "namespace": "ns",
                "uid": "u-1",
                "generation": 3,
                "creationTimestamp": CREATED.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "spec": {"flowRef": {"name": "f"}, "parameters": {"a": 1, "b": 1}, **spec},
            "status": status or {},
        }
    )


def test_a_minute_cron_creates_the_due_run_with_identity_and_parameters() -> None:
    d = deployment(schedules=[{"cron": "* * * * *", "parameters": {"b": 2}}])
    plan = plan_schedules(d, now=CREATED + timedelta(seconds=30, milliseconds=50))
    assert plan.fire_times == [datetime(2026, 3, 1, 12, 1, tzinfo=UTC)]
    run = plan.runs[0]
    assert run["metadata"]["name"] == f"etl-{int(plan.fire_times[0].timestamp())}"
    assert run["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert run["metadata"]["labels"]["baton.dev/flow"] == "f"
    assert run["spec"] == {
        "deploymentRef": {"name": "etl"},
        "parameters": {"a": 1, "b": 2},
        "scheduledTime": "2026-03-01T12:01:00Z",
    }
    assert plan.wake_at == datetime(2026, 3, 1, 12, 2, tzinfo=UTC)


def test_nothing_before_creation_and_nothing_twice() -> None:
    d = deployment(schedules=[{"interval": 60}], status={"lastFireTime": "2026-03-01T12:01:00Z"})
    assert plan_schedules(d, now=datetime(2026, 3, 1, 12, 1, 30, tzinfo=UTC)).runs == []


def test_latest_policy_after_an_outage_creates_one_and_counts_the_rest() -> None:
    d = deployment(
        schedules=[{"cron": "* * * * *"}], status={"lastFireTime": "2026-03-01T12:01:00Z"}
    )
    plan = plan_schedules(d, now=datetime(2026, 3, 1, 13, 0, 5, tzinfo=UTC))
    assert plan.fire_times == [datetime(2026, 3, 1, 13, 0, tzinfo=UTC)]
    assert plan.skipped == 58
    assert plan.last_fire_time == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)


def test_paused_and_invalid_deployments_create_nothing() -> None:
    paused = plan_schedules(
        deployment(schedules=[{"interval": 10}], paused=True), now=CREATED + timedelta(hours=1)
    )
    assert paused.runs == [] and paused.next_fire_times == []
    broken = plan_schedules(
        deployment(schedules=[{"cron": "61 * * * *"}]), now=CREATED + timedelta(hours=1)
    )
    assert broken.runs == []
    assert broken.problems[0].reason == "InvalidSchedule"
    assert 'cron "61 * * * *"' in broken.problems[0].message


def test_status_reports_ready_next_last_and_active() -> None:
    d = deployment(schedules=[{"interval": "30s"}])
    now = CREATED + timedelta(seconds=31)
    plan = plan_schedules(d, now=now)
    runs = [
        RunInfo("etl-1", "Running", plan.fire_times[0], now),
        RunInfo("etl-0", "Completed", plan.fire_times[0] - timedelta(seconds=30), now),
    ]
    status = deployment_status(d, plan, runs, now)
    assert status["conditions"][0] | {"lastTransitionTime": None} == {
        "type": "Ready",
        "status": "True",
        "reason": "Scheduling",
        "message": "schedules are valid",
        "observedGeneration": 3,
        "lastTransitionTime": None,
    }
    assert status["scheduleSummary"] == "every 30s"
    assert status["lastScheduledTime"] == "2026-03-01T12:01:00Z"
    assert status["nextRunTime"] == "2026-03-01T12:01:30Z"
    assert status["activeRuns"] == 1
    assert status["lastRun"]["name"] == "etl-1"


def test_history_limits_delete_oldest_per_outcome() -> None:
    t = CREATED
    runs = [RunInfo(f"c{i}", "Completed", t + timedelta(minutes=i), t) for i in range(4)]
    runs += [
        RunInfo(f"f{i}", s, t + timedelta(minutes=i), t)
        for i, s in enumerate(["Failed", "Crashed", "Cancelled"])
    ]
    runs += [RunInfo("live", "Running", t, t)]
    d = deployment(successfulRunsHistoryLimit=1, failedRunsHistoryLimit=2)
    assert runs_to_delete(d.spec, runs) == ["c0", "c1", "c2", "f0"]


def test_build_flow_run_is_deterministic() -> None:
    d = deployment(schedules=[{"interval": 5}])
    fire = datetime(2026, 3, 1, 12, 0, 35, tzinfo=UTC)
    assert build_flow_run(d, d.spec.schedules[0], fire) == build_flow_run(
        d, d.spec.schedules[0], fire
    )
