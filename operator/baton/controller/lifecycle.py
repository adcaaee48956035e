"""Map what happens to a run's Job and pod, and what the runtime reports, to a state.

Pure: the run controller gathers the run, its Job, its pod and the clock, and applies
the ``Step`` that comes back. The rules, in order:

1. The runtime's own final report (for the current attempt) wins: Completed, Failed,
   TimedOut, Cancelled. A Crashed report while a cancel is under way is a Cancelled.
2. A cancel request moves the run to Cancelling and deletes the Job; it ends Cancelled
   once the pod is gone, or after the cancel grace period whatever the pod does.
3. A runtime report of Running moves Pending to Running; Paused (``pause_flow_run``, the
   pod waits) moves Running to Paused, and Running back again once resumed.
4. When the pod or Job ended with no final report, wait ``report_grace`` (the report may
   be in flight: no false Crashed), then: deadline exceeded → Failed(DeadlineExceeded);
   OOM-killed, evicted, deleted, exited without a report → Crashed with the reason.
   A Crashed run with crash retries left gets a new attempt instead.
5. A pod that cannot start (refused, unschedulable, image or Secret missing:
   ``startup.py``) gives the Pending run its reason at once, and ends it Crashed with
   that reason once the pool's start-up timeout has passed since the Job was created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from baton.contract import ACTIVE_STATES, CANCEL_REQUESTED, PAUSABLE_STATES
from baton.contract import parse_time as _time
from baton.controller.startup import startup_began, startup_problem
from baton.resources import FlowRun, RunState
from baton.resources.flowrun import TERMINAL_STATES

# Reasons recorded with states.
DEADLINE_EXCEEDED = "DeadlineExceeded"
OOM_KILLED = "OOMKilled"
EVICTED = "Evicted"
JOB_DELETED = "JobDeleted"
POD_DELETED = "PodDeleted"
NO_FINAL_REPORT = "NoFinalReport"
CONTAINER_FAILED = "ContainerFailed"
CRASH_RETRY = "CrashRetry"
STARTED = "Started"
WORKER_LOST = "WorkerLost"
REPORTED = "Reported"

_ACTIVE = ACTIVE_STATES
PAUSED = "Paused"
RESUMED = "Resumed"


@dataclass(frozen=True)
class Timing:
    report_grace: timedelta = timedelta(seconds=15)
    cancel_grace: timedelta = timedelta(seconds=30)
    #: From the Job's creation until its pod starts, when the pool sets no
    #: ``startupTimeoutSeconds`` of its own.
    startup_timeout: timedelta = timedelta(seconds=120)


@dataclass
class Step:
    """What to do with one run now. ``state=None`` means keep the current state."""

    state: RunState | None = None
    reason: str = ""
    message: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    delete_job: bool = False
    new_attempt: bool = False
    wake_at: datetime | None = None


def _condition(job: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    for condition in ((job or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return dict(condition)
    return None


def _terminated(pod: dict[str, Any] | None) -> dict[str, Any] | None:
    for status in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        terminated = (status.get("state") or {}).get("terminated")
        if terminated:
            return dict(terminated)
    return None


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def ending(run: FlowRun, now: datetime, end: datetime | None = None) -> dict[str, Any]:
    """The status fields of a run that just ended."""
    end = end or now
    start = run.status.start_time or (run.status.runtime.start_time if run.status.runtime else None)
    fields: dict[str, Any] = {"endTime": end}
    if start:
        fields["duration"] = format_duration((end - start).total_seconds())
        if run.status.start_time is None:
            # A flow that ends between two looks of the operator goes Pending -> Completed
            # without the Running step that records startTime: take the runtime's.
            fields["startTime"] = start
    return fields


def pod_failure(
    job: dict[str, Any] | None, pod: dict[str, Any] | None
) -> tuple[RunState, str, str, datetime | None] | None:
    """Why the pod/Job ended without a report: (state, reason, message, when)."""
    deadline = _condition(job, "Failed")
    if deadline and deadline.get("reason") == DEADLINE_EXCEEDED:
        return (
            RunState.FAILED,
            DEADLINE_EXCEEDED,
            f"the Job exceeded its deadline: {deadline.get('message', '')}".strip(),
            _time(deadline.get("lastTransitionTime")),
        )
    pod_status = (pod or {}).get("status") or {}
    if pod_status.get("reason") == EVICTED:
        failed_at = _condition(job, "Failed") or {}
        return (
            RunState.CRASHED,
            EVICTED,
            f"pod evicted: {pod_status.get('message', '')}",
            _time(failed_at.get("lastTransitionTime")),
        )
    terminated = _terminated(pod)
    if terminated:
        when = _time(terminated.get("finishedAt"))
        if terminated.get("reason") == OOM_KILLED:
            return (
                RunState.CRASHED,
                OOM_KILLED,
                "the flow container was OOM-killed (exit code "
                f"{terminated.get('exitCode')}); raise its memory limit",
                when,
            )
        code = terminated.get("exitCode")
        if code == 0:
            return (
                RunState.CRASHED,
                NO_FINAL_REPORT,
                "the flow process exited 0 without reporting a final state",
                when,
            )
        return (
            RunState.CRASHED,
            CONTAINER_FAILED,
            f"the flow container exited with code {code} "
            f"({terminated.get('reason', 'Error')}) without reporting a final state",
            when,
        )
    failed = _condition(job, "Failed")
    if failed:
        return (
            RunState.CRASHED,
            POD_DELETED if pod is None else CONTAINER_FAILED,
            f"the Job failed ({failed.get('reason', '')}) and the pod "
            f"{'is gone' if pod is None else 'failed'} without a final report",
            _time(failed.get("lastTransitionTime")),
        )
    complete = _condition(job, "Complete")
    if complete:
        return (
            RunState.CRASHED,
            NO_FINAL_REPORT,
            "the Job completed but the flow never reported a final state",
            _time(complete.get("lastTransitionTime")),
        )
    return None


def _current_report(run: FlowRun) -> Any:
    status = run.status
    if status.runtime and status.runtime.attempt == status.attempts:
        return status.runtime
    return None


def _settle(
    run: FlowRun, now: datetime, *, timing: Timing, stopped: bool, what: str
) -> Step | None:
    """Rules 1 and 2, shared by Job and process runs: final reports and cancellation.

    ``stopped`` says the run's process is known to be gone. Returns None when neither
    rule applies.
    """
    status = run.status
    state = status.state
    if state in TERMINAL_STATES or state not in _ACTIVE:
        return Step()
    report = _current_report(run)
    cancelling = run.spec.cancel_requested or state == RunState.CANCELLING
    if report and report.state in TERMINAL_STATES:
        final = report.state
        if cancelling and final in (RunState.CRASHED, RunState.FAILED):
            final = RunState.CANCELLED
        return Step(
            state=final,
            reason=REPORTED,
            message=report.message,
            fields=ending(run, now, report.end_time),
        )
    if not cancelling:
        return None
    if state != RunState.CANCELLING:
        return Step(
            state=RunState.CANCELLING,
            reason=CANCEL_REQUESTED,
            message=f"cancel requested; stopping {what}",
            delete_job=True,
            wake_at=now + timing.cancel_grace,
        )
    since = status.state_time or now
    if stopped or now >= since + timing.cancel_grace:
        message = (
            "cancelled"
            if stopped
            else (f"cancelled ({what} did not stop within the grace period and is being removed)")
        )
        return Step(
            state=RunState.CANCELLED,
            reason=CANCEL_REQUESTED,
            message=message,
            fields=ending(run, now),
            delete_job=not stopped,
        )
    return Step(wake_at=since + timing.cancel_grace)


def _progress(run: FlowRun, report: Any, now: datetime, running: str) -> Step:
    """Rule 3: the runtime's non-final reports moving the run along."""
    state = run.status.state
    if report is None:
        return Step()
    if report.state in (RunState.RUNNING, RunState.RETRYING) and state == RunState.PENDING:
        return Step(
            state=RunState.RUNNING,
            reason=STARTED,
            message=running,
            fields={"startTime": report.start_time or now},
        )
    if report.state == RunState.PAUSED and state in PAUSABLE_STATES:
        return Step(
            state=RunState.PAUSED,
            reason=PAUSED,
            message=report.message or "the flow is paused until resumed (baton resume)",
        )
    if report.state in (RunState.RUNNING, RunState.RETRYING) and state == RunState.PAUSED:
        return Step(state=RunState.RUNNING, reason=RESUMED, message="the flow was resumed")
    return Step()


def follow_process(
    run: FlowRun,
    heartbeats: dict[str, datetime],
    now: datetime,
    *,
    timing: Timing,
    heartbeat_timeout: timedelta,
) -> Step:
    """The next step for an admitted run of a ``process`` pool.

    A worker claims the run by writing ``status.worker``; while its heartbeat in the
    WorkPool's status is fresh the run is its business. A silent worker's run is Crashed
    with reason WorkerLost once ``heartbeat_timeout`` has passed.
    """
    worker = run.status.worker
    settled = _settle(run, now, timing=timing, stopped=worker is None, what="the worker")
    if settled is not None:
        return settled
    report = _current_report(run)
    progress = _progress(run, report, now, f"running on {worker}")
    if worker is None:
        return progress
    last = heartbeats.get(worker) or run.status.state_time or now
    expires = last + heartbeat_timeout
    if now < expires:
        progress.wake_at = expires
        return progress
    return Step(
        state=RunState.CRASHED,
        reason=WORKER_LOST,
        message=f"worker {worker} stopped heartbeating (last seen "
        f"{last.strftime('%H:%M:%SZ')}; timeout "
        f"{int(heartbeat_timeout.total_seconds())}s)",
        fields=ending(run, now),
    )


def follow(
    run: FlowRun,
    job: dict[str, Any] | None,
    pod: dict[str, Any] | None,
    now: datetime,
    *,
    timing: Timing,
    crash_retries: int,
    job_missing_since: datetime | None,
    failed_create: str | None = None,
    startup_timeout: timedelta | None = None,
) -> Step:
    """The next step for a run whose Job was created (state Pending/Running/Cancelling).

    ``failed_create`` is the Job's newest ``FailedCreate`` Event message, if one was read;
    ``startup_timeout`` the pool's (default: ``timing.startup_timeout``).
    """
    settled = _settle(
        run,
        now,
        timing=timing,
        stopped=job is None and (pod is None or _terminated(pod) is not None),
        what="the Job",
    )
    if settled is not None:
        return settled
    status = run.status
    state = status.state
    report = _current_report(run)
    progress = _progress(run, report, now, "the flow is running")

    failure = pod_failure(job, pod)
    if failure is None and job is None:
        failure = (
            RunState.CRASHED,
            JOB_DELETED,
            "the run's Job was deleted before the flow reported a final state",
            job_missing_since,
        )
    if failure is None:
        problem = startup_problem(pod, failed_create) if state == RunState.PENDING else None
        if problem is None or progress.state is not None:
            return progress
        timeout = startup_timeout or timing.startup_timeout
        give_up = (startup_began(job, pod) or status.state_time or now) + timeout
        limit = int(timeout.total_seconds())
        if now < give_up:
            return Step(
                state=RunState.PENDING,
                reason=problem.reason,
                message=f"{problem.message} (Crashed at {give_up.strftime('%H:%M:%SZ')}, "
                f"{limit}s after the Job was created, unless the pod starts)",
                wake_at=give_up,
            )
        return _crash(
            run,
            now,
            problem.reason,
            f"{problem.message} (the pod did not start within {limit}s)",
            crash_retries,
            delete_job=True,
        )

    final, reason, message, when = failure
    # Unknown end time: count from when the run entered its current state.
    settle = (when or run.status.state_time or now) + timing.report_grace
    if now < settle:
        progress.wake_at = settle  # the runtime's final report may still arrive
        return progress
    if final == RunState.CRASHED:
        return _crash(run, now, reason, message, crash_retries)
    return Step(state=final, reason=reason, message=message, fields=ending(run, now))


def _crash(
    run: FlowRun,
    now: datetime,
    reason: str,
    message: str,
    crash_retries: int,
    *,
    delete_job: bool = False,
) -> Step:
    if run.status.attempts <= crash_retries:
        return Step(
            state=RunState.AWAITING_RETRY,
            reason=CRASH_RETRY,
            message=f"attempt {run.status.attempts} crashed ({reason}: {message}); "
            f"attempt {run.status.attempts + 1} follows",
            new_attempt=True,
            delete_job=delete_job,
        )
    return Step(
        state=RunState.CRASHED,
        reason=reason,
        message=message,
        fields=ending(run, now),
        delete_job=delete_job,
    )
