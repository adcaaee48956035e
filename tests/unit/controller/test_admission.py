"""Admission decisions: limits, pauses, collision strategies, ordering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from baton.controller.admission import (
    AWAITING_POOL_SLOT,
    AWAITING_SLOT,
    DEPLOYMENT_PAUSED,
    NO_WORKERS,
    POOL_PAUSED,
    POOL_PAUSED_READY,
    POOL_READY,
    WORKERS_READY,
    ActiveRun,
    Candidate,
    plan_admission,
    pool_readiness,
)
from baton.resources import DeploymentSpec, WorkPoolSpec

pytestmark = pytest.mark.unit
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def spec(**kwargs: object) -> DeploymentSpec:
    return DeploymentSpec.model_validate({"flowRef": {"name": "f"}, **kwargs})


def waiting(*names: str, deployment: str = "d") -> list[Candidate]:
    return [
        Candidate(("ns", n), deployment, T0 + timedelta(seconds=i)) for i, n in enumerate(names)
    ]


def test_no_limits_admits_everything_oldest_first() -> None:
    plan = plan_admission(WorkPoolSpec(), list(reversed(waiting("a", "b", "c"))), [], {"d": spec()})
    assert plan.admit == [("ns", "a"), ("ns", "b"), ("ns", "c")]


def test_enqueue_admits_up_to_the_limit_and_waits_in_order() -> None:
    plan = plan_admission(
        WorkPoolSpec(), waiting("a", "b", "c"), [], {"d": spec(concurrency={"limit": 1})}
    )
    assert plan.admit == [("ns", "a")]
    assert plan.wait[("ns", "b")][0] == AWAITING_SLOT
    assert "limit (1)" in plan.wait[("ns", "c")][1]


def test_active_runs_count_against_the_limit() -> None:
    active = [ActiveRun(("ns", "old"), "d", T0 - timedelta(minutes=1))]
    plan = plan_admission(
        WorkPoolSpec(), waiting("a"), active, {"d": spec(concurrency={"limit": 1})}
    )
    assert plan.admit == []


def test_cancel_new_cancels_the_newcomer() -> None:
    active = [ActiveRun(("ns", "old"), "d", T0 - timedelta(minutes=1))]
    plan = plan_admission(
        WorkPoolSpec(),
        waiting("a"),
        active,
        {"d": spec(concurrency={"limit": 1, "collisionStrategy": "CancelNew"})},
    )
    assert list(plan.cancel_new) == [("ns", "a")]
    assert plan.admit == [] and plan.cancel_old == []


def test_cancel_old_cancels_the_oldest_once_and_the_newcomer_waits() -> None:
    active = [
        ActiveRun(("ns", "older"), "d", T0 - timedelta(minutes=2)),
        ActiveRun(("ns", "old"), "d", T0 - timedelta(minutes=1)),
    ]
    plan = plan_admission(
        WorkPoolSpec(),
        waiting("a", "b"),
        active,
        {"d": spec(concurrency={"limit": 2, "collisionStrategy": "CancelOld"})},
    )
    assert plan.cancel_old == [("ns", "older"), ("ns", "old")]
    assert plan.admit == []
    assert set(plan.wait) == {("ns", "a"), ("ns", "b")}


def test_already_cancelling_run_is_not_cancelled_twice() -> None:
    active = [ActiveRun(("ns", "old"), "d", T0, cancelling=True)]
    plan = plan_admission(
        WorkPoolSpec(),
        waiting("a"),
        active,
        {"d": spec(concurrency={"limit": 1, "collisionStrategy": "CancelOld"})},
    )
    assert plan.cancel_old == []
    assert plan.wait[("ns", "a")][0] == AWAITING_SLOT


def test_pool_limit_and_pause() -> None:
    pool = WorkPoolSpec(concurrency_limit=2)
    other = [Candidate(("ns", "x"), "e", T0)]
    plan = plan_admission(pool, waiting("a", "b") + other, [], {"d": spec(), "e": spec()})
    assert plan.admit == [("ns", "a"), ("ns", "x")]  # same time: by name
    assert plan.wait[("ns", "b")][0] == AWAITING_POOL_SLOT
    paused = plan_admission(WorkPoolSpec(paused=True), waiting("a"), [], {"d": spec()})
    assert paused.wait[("ns", "a")][0] == POOL_PAUSED


def test_paused_deployment_holds_its_runs_only() -> None:
    plan = plan_admission(
        WorkPoolSpec(),
        waiting("a") + waiting("b", deployment="e"),
        [],
        {"d": spec(paused=True), "e": spec()},
    )
    assert plan.wait[("ns", "a")][0] == DEPLOYMENT_PAUSED
    assert plan.admit == [("ns", "b")]


def process_pool(**kwargs: object) -> WorkPoolSpec:
    return WorkPoolSpec.model_validate({"type": "process", "heartbeatTimeoutSeconds": 60, **kwargs})


def test_a_process_pool_without_a_live_worker_is_not_ready() -> None:
    none = pool_readiness("p", process_pool(), {}, T0)
    assert (none.status, none.reason, none.recheck_at) == ("False", NO_WORKERS, None)
    assert "baton worker start -p p" in none.message
    # A heartbeat exactly one timeout old is no longer live (the WorkerLost deadline).
    stale = pool_readiness("p", process_pool(), {"w": T0 - timedelta(seconds=60)}, T0)
    assert stale.reason == NO_WORKERS


def test_live_workers_make_a_process_pool_ready_until_the_next_deadline() -> None:
    beats = {"old": T0 - timedelta(seconds=50), "new": T0 - timedelta(seconds=5)}
    ready = pool_readiness("p", process_pool(), beats, T0)
    assert (ready.status, ready.reason) == ("True", WORKERS_READY)
    assert ready.message == "2 worker(s) heartbeating"
    # The count changes when the oldest heartbeat expires: look again then.
    assert ready.recheck_at == T0 + timedelta(seconds=10)
    later = pool_readiness("p", process_pool(), beats, T0 + timedelta(seconds=10))
    assert later.message == "1 worker(s) heartbeating"
    assert later.recheck_at == T0 + timedelta(seconds=55)


def test_kubernetes_pools_are_ready_and_paused_is_said() -> None:
    assert pool_readiness("k", WorkPoolSpec(), {}, T0).reason == POOL_READY
    paused = pool_readiness("k", WorkPoolSpec(paused=True), {}, T0)
    assert (paused.status, paused.reason) == ("True", POOL_PAUSED_READY)
    # A paused process pool with no worker is still unready: nothing could run it.
    assert pool_readiness("p", process_pool(paused=True), {}, T0).reason == NO_WORKERS
