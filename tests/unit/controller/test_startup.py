"""Why a pod has not started, and when its run gives up (fixed clocks, no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton.controller.lifecycle import CRASH_RETRY, Timing, follow
from baton.controller.startup import (
    CONTAINER_CONFIG,
    FAILED_CREATE,
    FIRST_EVENT_LOOK,
    IMAGE_PULL,
    MAX_EVENT_LOOK,
    UNSCHEDULABLE,
    latest_failed_create,
    needs_event_look,
    next_event_look,
    startup_problem,
)
from baton.resources import FlowRun, RunState

pytestmark = pytest.mark.unit
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIMING = Timing(startup_timeout=timedelta(seconds=120))
REFUSED = (
    'Error creating: pods "r-1-x" is forbidden: error looking up service account '
    'ns/missing: serviceaccount "missing" not found'
)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def pending(attempts: int = 1) -> FlowRun:
    return FlowRun.model_validate(
        {
            "metadata": {"name": "r", "namespace": "ns"},
            "spec": {"deploymentRef": {"name": "d"}},
            "status": {
                "state": "Pending",
                "reason": "JobCreated",
                "message": "Job r-1 created",
                "attempts": attempts,
                "stateTime": stamp(T0),
            },
        }
    )


def job(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "r-1", "creationTimestamp": stamp(T0)}, "status": status}


def pod(
    *,
    waiting: dict[str, Any] | None = None,
    init_waiting: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    running: bool = False,
) -> dict[str, Any]:
    state = {"running": {}} if running else {"waiting": waiting or {"reason": "ContainerCreating"}}
    status: dict[str, Any] = {"containerStatuses": [{"name": "flow", "state": state}]}
    if init_waiting:
        status["initContainerStatuses"] = [
            {"name": "git-clone", "state": {"waiting": init_waiting}}
        ]
    if conditions:
        status["conditions"] = conditions
    return {"metadata": {"name": "r-1-x", "creationTimestamp": stamp(T0)}, "status": status}


UNSCHEDULED = [
    {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient cpu.",
    }
]


@pytest.mark.parametrize(
    ("the_pod", "failed_create", "reason", "words"),
    [
        (None, REFUSED, FAILED_CREATE, 'serviceaccount "missing" not found'),
        (
            pod(
                waiting={"reason": "CreateContainerConfigError", "message": 'secret "w" not found'}
            ),
            None,
            CONTAINER_CONFIG,
            'CreateContainerConfigError: secret "w" not found',
        ),
        (
            pod(waiting={"reason": "ErrImagePull", "message": "not found"}),
            None,
            IMAGE_PULL,
            "ErrImagePull: not found",
        ),
        (
            pod(init_waiting={"reason": "ImagePullBackOff", "message": "back-off"}),
            None,
            IMAGE_PULL,
            "container git-clone: ImagePullBackOff",
        ),
        (pod(conditions=UNSCHEDULED), None, UNSCHEDULABLE, "3 Insufficient cpu"),
    ],
)
def test_each_problem_is_named_at_once_and_crashes_after_the_timeout(
    the_pod: dict[str, Any] | None, failed_create: str | None, reason: str, words: str
) -> None:
    problem = startup_problem(the_pod, failed_create)
    assert problem is not None and problem.reason == reason and words in problem.message

    def at(seconds: float, *, timeout: timedelta | None = None, run: FlowRun | None = None) -> Any:
        return follow(
            run or pending(),
            job(),
            the_pod,
            T0 + timedelta(seconds=seconds),
            timing=TIMING,
            crash_retries=1 if run else 0,
            job_missing_since=None,
            failed_create=failed_create,
            startup_timeout=timeout,
        )

    early = at(3)
    assert (early.state, early.reason) == (RunState.PENDING, reason)
    assert words in early.message and "Crashed at 12:02:00Z" in early.message
    assert early.wake_at == T0 + timedelta(seconds=120)
    # The message is stable between looks: no status write per reconcile.
    assert at(60).message == early.message
    crashed = at(120)
    assert (crashed.state, crashed.reason, crashed.delete_job) == (RunState.CRASHED, reason, True)
    assert words in crashed.message and "within 120s" in crashed.message
    # The pool's own timeout wins over the operator's default.
    assert at(31, timeout=timedelta(seconds=30)).state == RunState.CRASHED
    # A crash retry left: a new attempt, and the Job of this one goes.
    retried = at(121, run=pending(attempts=1))
    assert (retried.state, retried.reason, retried.delete_job) == (
        RunState.AWAITING_RETRY,
        CRASH_RETRY,
        True,
    )


def test_a_pod_on_its_way_is_no_problem() -> None:
    assert startup_problem(pod(), None) is None
    assert startup_problem(pod(running=True), None) is None
    assert startup_problem(None, None) is None
    scheduled = [{"type": "PodScheduled", "status": "True"}]
    assert startup_problem(pod(conditions=scheduled), None) is None
    # A FailedCreate read before the pod appeared does not outlive it.
    assert startup_problem(pod(), REFUSED) is None
    step = follow(
        pending(),
        job(),
        pod(),
        T0 + timedelta(hours=1),
        timing=TIMING,
        crash_retries=0,
        job_missing_since=None,
    )
    assert step.state is None


def test_events_are_read_only_for_a_pod_less_unfinished_job() -> None:
    assert needs_event_look(job(), None)
    assert not needs_event_look(job(), pod())
    assert not needs_event_look(job(active=1), None)  # the pod watch lags the Job's count
    assert not needs_event_look(job(conditions=[{"type": "Failed", "status": "True"}]), None)
    assert not needs_event_look(None, None)


def test_event_looks_start_late_and_back_off() -> None:
    assert next_event_look(T0, T0) == T0 + FIRST_EVENT_LOOK
    assert next_event_look(T0, T0 + timedelta(seconds=2)) == T0 + timedelta(seconds=4)
    assert next_event_look(T0, T0 + timedelta(seconds=8)) == T0 + timedelta(seconds=16)
    late = T0 + timedelta(minutes=10)
    assert next_event_look(T0, late) == late + MAX_EVENT_LOOK


def test_the_newest_failed_create_wins() -> None:
    events = [
        {"reason": "SuccessfulCreate", "message": "Created pod", "lastTimestamp": stamp(T0)},
        {"reason": "FailedCreate", "message": "old", "lastTimestamp": stamp(T0)},
        {
            "reason": "FailedCreate",
            "message": "exceeded quota: q",
            "lastTimestamp": stamp(T0 + timedelta(seconds=5)),
        },
    ]
    assert latest_failed_create(events) == "exceeded quota: q"
    assert latest_failed_create(events[:1]) is None
