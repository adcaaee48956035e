"""Pure decisions for a Deployment: which FlowRuns to create, what its status says.

Nothing here talks to the API server or reads a clock: the scheduler passes ``now`` and
the runs it knows of, and applies what comes back. That is what makes the daylight-
saving, catch-up and history rules testable with fixed clocks.

Exactly-once creation rests on two facts: a run's name is a pure function of the
Deployment and the fire time (``flow_run_name``), so creating it twice is an
``AlreadyExists``; and the window of fire times considered starts after the latest
one already handled (``status.lastFireTime``), which is written only after the runs
before it exist. A crash between the two replays creations that then collide harmlessly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from baton import schedules
from baton.contract import (
    API_VERSION,
    LABEL_DEPLOYMENT,
    LABEL_FLOW,
    LABEL_POOL,
    MANAGED_BY,
    label_value,
    merge_parameters,
    owner_reference,
    parse_time,
)
from baton.contract import format_time as _time
from baton.resources import Deployment, RunState, Schedule
from baton.resources._base import condition
from baton.resources.deployment import DeploymentSpec
from baton.resources.flowrun import TERMINAL_STATES
from baton.resources.validation import (
    INVALID_SCHEDULE,
    NEVER_FIRES,
    Problem,
    deployment_problems,
    job_variable_problems,
    schedule_error_problem,
    schedule_spec,
)
from baton.resources.workpool import WorkPoolSpec

NEXT_FIRE_TIMES = 3
SKIPPED_SAMPLE = 3

#: Ready condition reasons.
READY = "Scheduling"
PAUSED = "Paused"
NO_SCHEDULES = "NoActiveSchedules"
INVALID_SPEC = "InvalidSpec"


def to_spec(schedule: Schedule) -> schedules.ScheduleSpec:
    return schedule_spec(schedule)


@dataclass(frozen=True)
class RunInfo:
    """What the scheduler needs to know of one existing FlowRun."""

    name: str
    state: str | None
    scheduled_time: datetime | None
    created: datetime


@dataclass
class SchedulePlan:
    """The outcome of planning one Deployment at one instant."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    fire_times: list[datetime] = field(default_factory=list)
    skipped: int = 0
    skipped_sample: list[datetime] = field(default_factory=list)
    last_fire_time: datetime | None = None
    next_fire_times: list[datetime] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def wake_at(self) -> datetime | None:
        return self.next_fire_times[0] if self.next_fire_times else None


def window_start(deployment: Deployment) -> datetime:
    """The fire times after this instant are not handled yet."""
    status = deployment.status
    created = parse_time(deployment.metadata.get("creationTimestamp")) or datetime.now(UTC)
    handled = [t for t in (status.last_fire_time, status.last_scheduled_time) if t]
    return max([created, *handled])


def build_flow_run(
    deployment: Deployment, schedule: Schedule, fire_time: datetime
) -> dict[str, Any]:
    """The FlowRun manifest for one fire time of one schedule."""
    spec = deployment.spec
    uid = deployment.metadata.get("uid")
    return {
        "apiVersion": API_VERSION,
        "kind": "FlowRun",
        "metadata": {
            "name": schedules.flow_run_name(deployment.name, fire_time),
            "namespace": deployment.namespace,
            "labels": {
                **MANAGED_BY,
                LABEL_DEPLOYMENT: label_value(deployment.name),
                LABEL_FLOW: label_value(spec.flow_ref.name),
                LABEL_POOL: label_value(spec.work_pool_ref.name),
            },
            "ownerReferences": [owner_reference("Deployment", deployment.name, uid)] if uid else [],
        },
        "spec": {
            "deploymentRef": {"name": deployment.name},
            "parameters": merge_parameters(spec.parameters, schedule.parameters),
            "scheduledTime": _time(fire_time),
        },
    }


def plan_schedules(
    deployment: Deployment, *, now: datetime, pool: WorkPoolSpec | None = None
) -> SchedulePlan:
    """Which runs are due now, which missed times are skipped, and when to look again.

    ``pool`` is the Deployment's WorkPool when known: ``jobVariables`` it does not allow
    are a problem like an invalid schedule (``Ready=False``, no runs created).
    """
    spec = deployment.spec
    refused = job_variable_problems(spec, pool) if pool is not None else []
    plan = SchedulePlan(problems=deployment_problems(spec) + refused)
    if plan.problems:
        return plan
    start = window_start(deployment)
    due: dict[datetime, Schedule] = {}
    upcoming: set[datetime] = set()
    horizon = start
    for index, schedule in enumerate(spec.schedules):
        if not schedule.active:
            continue
        try:
            missed = _plan_one(deployment, schedule, start, now, upcoming)
        except schedules.ScheduleError as error:
            # A search that ran out of its bound (an rrule that never fires from here on).
            return SchedulePlan(problems=[schedule_error_problem(schedule, index, error)])
        if missed is None:
            continue
        for fire_time in missed.to_create:
            # Two schedules firing at the same instant make one run (the first schedule's).
            due.setdefault(fire_time, schedule)
        plan.skipped += missed.skipped_count
        plan.skipped_sample.extend(missed.skipped[-SKIPPED_SAMPLE:])
        considered = [*missed.to_create, *missed.skipped]
        if considered:
            horizon = max(horizon, *considered)
    plan.fire_times = sorted(due)
    plan.runs = [build_flow_run(deployment, due[t], t) for t in plan.fire_times]
    plan.skipped_sample = sorted(plan.skipped_sample)[-SKIPPED_SAMPLE:]
    plan.last_fire_time = horizon if horizon > start else deployment.status.last_fire_time
    plan.next_fire_times = [] if spec.paused else sorted(upcoming)[:NEXT_FIRE_TIMES]
    return plan


def _plan_one(
    deployment: Deployment,
    schedule: Schedule,
    start: datetime,
    now: datetime,
    upcoming: set[datetime],
) -> schedules.MissedPlan | None:
    """One schedule's due runs (None when paused); adds its next fire times to ``upcoming``."""
    spec = deployment.spec
    parsed = to_spec(schedule)
    upcoming.update(schedules.next_fire_times(parsed, now, NEXT_FIRE_TIMES))
    if spec.paused:
        return None
    return schedules.plan_due_runs(
        parsed,
        last_scheduled=start,
        created_at=start,
        now=now,
        policy=schedules.CatchupPolicy(spec.catchup.policy.value),
        starting_deadline_seconds=spec.catchup.starting_deadline_seconds,
        max_catchup=spec.catchup.max_runs,
    )


def _summary(spec: DeploymentSpec) -> str:
    parts = []
    for schedule in spec.schedules:
        if not schedule.active:
            continue
        try:
            parts.append(schedules.describe(to_spec(schedule)))
        except schedules.ScheduleError:
            parts.append("invalid")
    return "; ".join(parts)


def ready_condition(deployment: Deployment, plan: SchedulePlan, now: datetime) -> dict[str, Any]:
    spec = deployment.spec
    if plan.problems:
        status, reason = "False", plan.problems[0].reason
        message = "; ".join(p.message for p in plan.problems)
    elif spec.paused:
        status, reason, message = "True", PAUSED, "paused: no new runs are scheduled"
    elif not any(s.active for s in spec.schedules):
        status, reason, message = (
            "True",
            NO_SCHEDULES,
            "no active schedule; runs start only when created by hand",
        )
    else:
        status, reason, message = "True", READY, "schedules are valid"
    previous = next((c for c in deployment.status.conditions if c.type == "Ready"), None)
    return condition(
        "Ready",
        status,
        reason,
        message,
        generation=deployment.generation,
        previous=previous,
        now=now,
    )


def deployment_status(
    deployment: Deployment, plan: SchedulePlan, runs: list[RunInfo], now: datetime
) -> dict[str, Any]:
    """The whole status the scheduler wants the Deployment to show."""
    status = deployment.status
    last_scheduled = max(
        [*plan.fire_times, *([status.last_scheduled_time] if status.last_scheduled_time else [])],
        default=None,
    )
    latest = max(runs, key=lambda r: (r.scheduled_time or r.created, r.name), default=None)
    active = sum(1 for r in runs if r.state not in TERMINAL_STATES)
    return {
        "observedGeneration": deployment.generation,
        "conditions": [ready_condition(deployment, plan, now)],
        "scheduleSummary": _summary(deployment.spec),
        "lastScheduledTime": _time(last_scheduled),
        "lastFireTime": _time(plan.last_fire_time),
        "nextRunTime": _time(plan.wake_at),
        "nextFireTimes": [_time(t) for t in plan.next_fire_times],
        "activeRuns": active,
        "lastRun": None
        if latest is None
        else {
            "name": latest.name,
            "state": latest.state or RunState.SCHEDULED.value,
            "scheduledTime": _time(latest.scheduled_time),
        },
    }


def runs_to_delete(spec: DeploymentSpec, runs: list[RunInfo]) -> list[str]:
    """Finished runs beyond the history limits, oldest first."""

    def age(run: RunInfo) -> tuple[datetime, str]:
        return (run.scheduled_time or run.created, run.name)

    completed = sorted((r for r in runs if r.state == RunState.COMPLETED), key=age)
    failed = sorted(
        (r for r in runs if r.state in TERMINAL_STATES and r.state != RunState.COMPLETED), key=age
    )
    doomed = completed[: max(0, len(completed) - spec.successful_runs_history_limit)]
    doomed += failed[: max(0, len(failed) - spec.failed_runs_history_limit)]
    return [r.name for r in doomed]


__all__ = [
    "INVALID_SCHEDULE",
    "NEVER_FIRES",
    "RunInfo",
    "SchedulePlan",
    "build_flow_run",
    "deployment_status",
    "plan_schedules",
    "runs_to_delete",
]
