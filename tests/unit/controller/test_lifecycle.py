"""State mapping from Job/pod outcomes and runtime reports (fixed clocks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton.controller.lifecycle import (
    CONTAINER_FAILED,
    CRASH_RETRY,
    DEADLINE_EXCEEDED,
    EVICTED,
    JOB_DELETED,
    OOM_KILLED,
    Timing,
    follow,
)
from baton.controller.startup import IMAGE_PULL
from baton.resources import FlowRun, RunState

pytestmark = pytest.mark.unit
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIMING = Timing(
    report_grace=timedelta(seconds=10),
    cancel_grace=timedelta(seconds=30),
    startup_timeout=timedelta(seconds=60),
)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def run(
    state: str = "Running",
    *,
    runtime: dict[str, Any] | None = None,
    cancel: bool = False,
    attempts: int = 1,
) -> FlowRun:
    status: dict[str, Any] = {
        "state": state,
        "attempts": attempts,
        "jobName": "r-1",
        "stateTime": stamp(T0),
        "startTime": stamp(T0),
    }
    if runtime:
        status["runtime"] = {"attempt": attempts, **runtime}
    return FlowRun.model_validate(
        {
            "metadata": {"name": "r", "namespace": "ns"},
            "spec": {"deploymentRef": {"name": "d"}, "cancelRequested": cancel},
            "status": status,
        }
    )


def job(condition: str | None = None, reason: str = "", at: datetime = T0) -> dict[str, Any]:
    conditions = (
        [{"type": condition, "status": "True", "reason": reason, "lastTransitionTime": stamp(at)}]
        if condition
        else []
    )
    return {"metadata": {"name": "r-1"}, "status": {"conditions": conditions}}


def pod(
    terminated: dict[str, Any] | None = None, waiting: dict[str, Any] | None = None, **status: Any
) -> dict[str, Any]:
    state = {"terminated": terminated} if terminated else {"waiting": waiting} if waiting else {}
    return {
        "metadata": {"name": "r-1-abc", "creationTimestamp": stamp(T0)},
        "status": {"containerStatuses": [{"state": state}], **status},
    }


def step_at(
    now: datetime,
    r: FlowRun,
    j: dict[str, Any] | None,
    p: dict[str, Any] | None,
    retries: int = 0,
    missing: datetime | None = None,
) -> Any:
    return follow(r, j, p, now, timing=TIMING, crash_retries=retries, job_missing_since=missing)


def test_runtime_final_report_wins() -> None:
    r = run(runtime={"state": "Completed", "endTime": stamp(T0 + timedelta(seconds=75))})
    step = step_at(T0 + timedelta(seconds=80), r, job("Complete"), pod({"exitCode": 0}))
    assert step.state == RunState.COMPLETED
    assert step.fields["duration"] == "1m15s"


def test_a_run_that_ends_unseen_running_keeps_the_runtime_start_time() -> None:
    """Pending -> Completed in one look (a fast flow): startTime comes from the report."""
    r = run(
        "Pending",
        runtime={
            "state": "Completed",
            "startTime": stamp(T0 + timedelta(seconds=2)),
            "endTime": stamp(T0 + timedelta(seconds=3)),
        },
    )
    r.status.start_time = None
    step = step_at(T0 + timedelta(seconds=4), r, job("Complete"), pod({"exitCode": 0}))
    assert step.state == RunState.COMPLETED
    assert step.fields["startTime"] == T0 + timedelta(seconds=2)
    assert step.fields["duration"] == "1s"
    # A run whose Running step recorded it keeps its own.
    seen = run(runtime={"state": "Completed", "endTime": stamp(T0 + timedelta(seconds=3))})
    assert "startTime" not in step_at(T0, seen, job("Complete"), pod({"exitCode": 0})).fields


def test_pending_becomes_running_on_the_runtime_report() -> None:
    r = run("Pending", runtime={"state": "Running", "startTime": stamp(T0)})
    step = step_at(T0, r, job(), pod())
    assert step.state == RunState.RUNNING


def test_a_paused_report_pauses_the_run_and_running_resumes_it() -> None:
    paused = run(runtime={"state": "Paused", "message": ""})
    step = step_at(T0, paused, job(), pod())
    assert step.state == RunState.PAUSED and step.reason == "Paused"
    # Still followed while Paused: the same report changes nothing, a crash still counts.
    assert step_at(T0, run("Paused", runtime={"state": "Paused"}), job(), pod()).state is None
    resumed = step_at(T0, run("Paused", runtime={"state": "Running"}), job(), pod())
    assert resumed.state == RunState.RUNNING and resumed.reason == "Resumed"
    oom = pod({"reason": "OOMKilled", "exitCode": 137})
    late = T0 + timedelta(seconds=11)
    crashed = step_at(late, run("Paused", runtime={"state": "Paused"}), job(), oom)
    assert crashed.state == RunState.CRASHED


def test_oom_waits_for_the_grace_period_then_crashes() -> None:
    finished = T0 + timedelta(seconds=5)
    oom = pod({"exitCode": 137, "reason": "OOMKilled", "finishedAt": stamp(finished)})
    early = step_at(
        finished + timedelta(seconds=3), run(), job("Failed", "BackoffLimitExceeded"), oom
    )
    assert early.state is None and early.wake_at == finished + TIMING.report_grace
    late = step_at(finished + timedelta(seconds=11), run(), job("Failed"), oom)
    assert (late.state, late.reason) == (RunState.CRASHED, OOM_KILLED)


def test_late_final_report_prevents_a_false_crash() -> None:
    finished = T0 + timedelta(seconds=5)
    r = run(runtime={"state": "Failed", "message": "boom"})
    step = step_at(
        finished + timedelta(minutes=5),
        r,
        job("Failed"),
        pod({"exitCode": 1, "finishedAt": stamp(finished)}),
    )
    assert (step.state, step.message) == (RunState.FAILED, "boom")


def test_eviction_deadline_exit_code_and_deleted_job() -> None:
    later = T0 + timedelta(minutes=1)
    evicted = step_at(
        later, run(), job(), pod(reason="Evicted", message="low memory", startTime=stamp(T0))
    )
    assert (evicted.state, evicted.reason) == (RunState.CRASHED, EVICTED)
    deadline = step_at(later, run(), job("Failed", "DeadlineExceeded"), None)
    assert (deadline.state, deadline.reason) == (RunState.FAILED, DEADLINE_EXCEEDED)
    exited = step_at(later, run(), job("Failed"), pod({"exitCode": 3, "finishedAt": stamp(T0)}))
    assert (exited.state, exited.reason) == (RunState.CRASHED, CONTAINER_FAILED)
    assert "code 3" in exited.message
    gone = step_at(later, run(), None, None, missing=T0)
    assert (gone.state, gone.reason) == (RunState.CRASHED, JOB_DELETED)
    fresh = step_at(T0 + timedelta(seconds=2), run(), None, None, missing=T0)
    assert fresh.state is None


def test_crash_retries_start_a_new_attempt() -> None:
    oom = pod({"exitCode": 137, "reason": "OOMKilled", "finishedAt": stamp(T0)})
    step = step_at(T0 + timedelta(minutes=1), run(), job("Failed"), oom, retries=1)
    assert (step.state, step.reason, step.new_attempt) == (
        RunState.AWAITING_RETRY,
        CRASH_RETRY,
        True,
    )
    exhausted = step_at(T0 + timedelta(minutes=1), run(attempts=2), job("Failed"), oom, retries=1)
    assert exhausted.state == RunState.CRASHED


def test_image_pull_gives_up_after_the_timeout() -> None:
    stuck = pod(waiting={"reason": "ImagePullBackOff", "message": "no such image"})
    early = step_at(T0 + timedelta(seconds=30), run("Pending"), job(), stuck)
    assert (early.state, early.reason) == (RunState.PENDING, IMAGE_PULL)
    assert "no such image" in early.message and early.wake_at == T0 + timedelta(seconds=60)
    step = step_at(T0 + timedelta(seconds=61), run("Pending"), job(), stuck)
    assert (step.state, step.reason, step.delete_job) == (RunState.CRASHED, IMAGE_PULL, True)


def test_cancel_deletes_the_job_then_ends_cancelled() -> None:
    first = step_at(T0, run(cancel=True), job(), pod())
    assert (first.state, first.delete_job) == (RunState.CANCELLING, True)
    stubborn = run("Cancelling", cancel=True)
    assert step_at(T0 + timedelta(seconds=10), stubborn, job(), pod()).state is None
    forced = step_at(T0 + timedelta(seconds=31), stubborn, job(), pod())
    assert forced.state == RunState.CANCELLED and forced.delete_job
    gone = step_at(T0 + timedelta(seconds=5), stubborn, None, None)
    assert gone.state == RunState.CANCELLED
    sigterm = run("Cancelling", cancel=True, runtime={"state": "Crashed", "message": "SIGTERM"})
    assert step_at(T0, sigterm, job(), pod()).state == RunState.CANCELLED
