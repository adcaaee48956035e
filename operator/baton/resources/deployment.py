"""Deployment: *when and with what* a Flow runs — schedules, parameters, concurrency.

Named after Prefect's deployments. The kind collides with ``apps/v1`` Deployment in
``kubectl get deployments``, so users list it as ``deployments.baton.dev`` or by its
short name ``bdep``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from baton.resources._base import (
    AGE,
    FreeForm,
    LocalObjectReference,
    Model,
    ObservedStatus,
    PrinterColumn,
    Resource,
    ResourceKind,
    StatusModel,
    cel,
    free_form,
    schema_extra,
)
from baton.resources.automation import Notification
from baton.resources.flow import BlockReference, blocks_field
from baton.resources.job_template import DEPLOYMENT_JOB_VARIABLES_RULES, JobTemplate

DEFAULT_WORK_POOL = "default"


def work_pool_of(run: Mapping[str, Any], deployment: Mapping[str, Any] | None) -> str:
    """The WorkPool a FlowRun runs in, from specs alone: its own ``workPoolRef``, else its
    Deployment's, else the default pool.

    Never from ``status.workPool``: a flow's pod may write its run's status, and the pool
    decides the concurrency slot, the Job template and which process worker runs it.
    """
    ref = (run.get("spec") or {}).get("workPoolRef")
    if not ref and deployment is not None:
        ref = (deployment.get("spec") or {}).get("workPoolRef")
    return str((ref or {}).get("name") or DEFAULT_WORK_POOL)


#: "30", "90s", "1h30m", "2d", or ISO 8601 "PT1H30M"; the operator checks the meaning.
INTERVAL_PATTERN = r"^([0-9]+([.][0-9]+)?|([0-9]+[smhdw])+|P(T?[0-9]+[DHMSW])+|PT([0-9]+[HMS])+)$"


class Schedule(Model):
    """One schedule: exactly one of cron, interval or rrule."""

    model_config = Model.model_config | {
        "json_schema_extra": schema_extra(
            validations=[
                cel(
                    "[has(self.cron), has(self.interval), has(self.rrule)]"
                    ".filter(x, x).size() == 1",
                    "schedule must set exactly one of cron, interval or rrule",
                ),
                cel(
                    "!has(self.anchorTime) || has(self.interval)",
                    "anchorTime applies only to interval schedules",
                ),
            ]
        )
    }

    name: str | None = Field(
        default=None,
        max_length=63,
        description="Optional label for this schedule in status/events.",
    )
    cron: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Five-field cron expression (or @hourly, @daily...), in the timezone.",
    )
    interval: int | str | None = Field(
        default=None,
        description="Run every N seconds, or a duration like 90s, 1h30m or PT1H.",
        # maxLength bounds the CEL cost estimate of the rule below.
        json_schema_extra={
            "maxLength": 64,
            **schema_extra(
                int_or_string=True,
                validations=[
                    cel(
                        f"type(self) == int ? self > 0 : self.matches('{INTERVAL_PATTERN}')",
                        "interval must be a positive number of seconds or a duration like 90s, "
                        "1h30m or PT1H",
                    )
                ],
            ),
        },
    )
    rrule: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="RFC 5545 recurrence rule, in the timezone.",
    )
    timezone: str = Field(
        default="UTC",
        min_length=1,
        max_length=64,
        description="IANA time zone the schedule's wall clock follows.",
    )
    day_or: bool = Field(
        default=True,
        description="Cron only: when both day-of-month and day-of-week are "
        "restricted, fire when either matches (standard cron).",
    )
    anchor_time: datetime | None = Field(
        default=None, description="Interval only: the instant intervals are counted from."
    )
    active: bool = Field(default=True, description="Inactive schedules create no runs.")
    parameters: FreeForm = free_form(
        "Parameters for runs of this schedule, merged over the Deployment's.", default_factory=dict
    )


class CollisionStrategy(StrEnum):
    ENQUEUE = "Enqueue"
    CANCEL_NEW = "CancelNew"
    CANCEL_OLD = "CancelOld"


class Concurrency(Model):
    """How many runs of this Deployment may run at once, and what happens past that."""

    model_config = Model.model_config | {
        "json_schema_extra": schema_extra(
            validations=[
                cel(
                    "!has(self.collisionStrategy) || has(self.limit)",
                    "concurrency.collisionStrategy is only allowed together with concurrency.limit",
                ),
            ]
        )
    }

    limit: int | None = Field(
        default=None, ge=1, description="Most runs Pending/Running at once (at least 1)."
    )
    collision_strategy: CollisionStrategy | None = Field(
        default=None,
        description="When the limit is reached: Enqueue (wait; the default), CancelNew "
        "(cancel the new run) or CancelOld (cancel the oldest running run).",
    )

    @property
    def strategy(self) -> CollisionStrategy:
        return self.collision_strategy or CollisionStrategy.ENQUEUE


class CatchupPolicy(StrEnum):
    LATEST = "Latest"
    ALL = "All"
    SKIP = "Skip"


class Catchup(Model):
    """What to do with fire times missed while the operator was down or the Deployment paused."""

    policy: CatchupPolicy = Field(
        default=CatchupPolicy.LATEST,
        description="Latest: run only the most recent missed time. All: run each missed time "
        "(at most maxRuns). Skip: run none of them.",
    )
    starting_deadline_seconds: int | None = Field(
        default=None,
        ge=0,
        description="A missed time older than this is skipped (unset: no deadline).",
    )
    max_runs: int = Field(
        default=10, ge=1, le=1000, description="All: the most missed runs created at once."
    )


class DeploymentSpec(Model):
    """When and with what a Flow runs: schedules, parameters, concurrency, catch-up."""

    flow_ref: LocalObjectReference = Field(description="The Flow to run.")
    work_pool_ref: LocalObjectReference = Field(
        default_factory=lambda: LocalObjectReference(name=DEFAULT_WORK_POOL),
        description="The WorkPool runs execute in.",
    )
    parameters: FreeForm = free_form("Default parameters of every run.", default_factory=dict)
    schedules: list[Schedule] = Field(
        default_factory=list,
        max_length=20,
        description="When runs are created.",
        json_schema_extra=schema_extra(list_type="atomic"),
    )
    paused: bool = Field(
        default=False, description="Stop creating scheduled runs (existing runs are not touched)."
    )
    concurrency: Concurrency | None = Field(
        default=None, description="Concurrency limit of this Deployment."
    )
    catchup: Catchup = Field(default_factory=Catchup, description="Missed-run policy.")
    late_after_seconds: int = Field(
        default=15,
        ge=0,
        description="A run not started this long after its scheduled time is marked Late.",
    )
    crash_retries: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Start a new attempt when a run Crashes (pod evicted, OOM-killed...).",
    )
    successful_runs_history_limit: int = Field(
        default=10, ge=0, description="Completed runs kept; older ones are deleted."
    )
    failed_runs_history_limit: int = Field(
        default=10, ge=0, description="Failed, Crashed and Cancelled runs kept."
    )
    blocks: list[BlockReference] = blocks_field("Deployment")
    job_variables: JobTemplate | None = Field(
        default=None,
        description="Overrides of the WorkPool's jobTemplate for these runs: only the "
        "fields the WorkPool lists in allowedJobVariables.",
        json_schema_extra=schema_extra(validations=DEPLOYMENT_JOB_VARIABLES_RULES),
    )
    description: str | None = Field(
        default=None, max_length=4096, description="What this deployment is for."
    )
    tags: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Free-form tags, copied to runs as labels' source.",
    )
    notifications: list[Notification] = Field(
        default_factory=list,
        max_length=10,
        description="Short form of an Automation: tell a channel when this Deployment's "
        "runs enter given states. Each entry becomes an Automation owned by the Deployment "
        "(docs/automations.md).",
        json_schema_extra=schema_extra(list_type="atomic"),
    )


class LastRun(StatusModel):
    """The Deployment's most recent FlowRun."""

    name: str = Field(description="FlowRun name.")
    state: str = Field(default="", description="Its state.")
    scheduled_time: datetime | None = Field(default=None, description="Its scheduled time.")


class DeploymentStatus(ObservedStatus):
    """Written by the scheduler: Ready, the last and next fire times, active runs."""

    schedule_summary: str = Field(
        default="", description="The schedules in words (printer column)."
    )
    last_scheduled_time: datetime | None = Field(
        default=None, description="The latest fire time a run was created for."
    )
    last_fire_time: datetime | None = Field(
        default=None,
        description="The latest fire time handled, by creating its run or by "
        "skipping it under the catch-up policy.",
    )
    next_run_time: datetime | None = Field(default=None, description="The next fire time.")
    next_fire_times: list[datetime] = Field(
        default_factory=list, description="The next few fire times."
    )
    active_runs: int = Field(default=0, description="Runs not yet in a terminal state.")
    last_run: LastRun | None = Field(default=None, description="The most recent run.")


DEPLOYMENT_KIND = ResourceKind(
    kind="Deployment",
    plural="deployments",
    short_names=("bdep", "bdeploy"),
    spec=DeploymentSpec,
    status=DeploymentStatus,
    description="A deployment of a Flow: default parameters, schedules, concurrency and "
    "catch-up policy. FlowRuns are created from it.",
    printer_columns=(
        PrinterColumn("Flow", ".spec.flowRef.name"),
        PrinterColumn("Pool", ".spec.workPoolRef.name"),
        PrinterColumn("Schedule", ".status.scheduleSummary"),
        PrinterColumn("Paused", ".spec.paused", "boolean"),
        PrinterColumn("Last", ".status.lastRun.state"),
        PrinterColumn("Next", ".status.nextRunTime", "date"),
        PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        AGE,
    ),
)


class Deployment(Resource):
    KIND = DEPLOYMENT_KIND
    spec: DeploymentSpec
    status: DeploymentStatus = Field(default_factory=DeploymentStatus)
