"""FlowRun: one run of a flow, and the record of what happened to it.

Two writers share the status, on disjoint fields, so neither overwrites the other:

* the **operator** owns ``state`` (with reason, message, history), ``attempts``, the Job
  and pod names, timing and conditions — scheduling, admission, Job lifecycle, Late,
  Crashed and Cancelled are its facts;
* the **flow runtime** in the pod owns ``runtime`` (what the flow itself reports:
  Running, Completed, Failed...), ``taskRuns``, ``artifacts``, ``result`` and ``error``.

The operator folds ``runtime`` into ``state``. Lists are bounded (see ``limits``) so a
run with 10,000 task runs stays far below etcd's 1.5 MiB object limit.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from baton import contract
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
    immutable,
    schema_extra,
)


class RunState(StrEnum):
    """A run state, with Prefect's names.

    The type each belongs to is ``STATE_TYPES[state]``.
    """

    SCHEDULED = "Scheduled"
    LATE = "Late"
    AWAITING_RETRY = "AwaitingRetry"
    PENDING = "Pending"
    RUNNING = "Running"
    RETRYING = "Retrying"
    COMPLETED = "Completed"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    CRASHED = "Crashed"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    PAUSED = "Paused"


class StateType(StrEnum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    PAUSED = "PAUSED"


STATE_TYPES: dict[RunState, StateType] = {
    RunState.SCHEDULED: StateType.SCHEDULED,
    RunState.LATE: StateType.SCHEDULED,
    RunState.AWAITING_RETRY: StateType.SCHEDULED,
    RunState.PENDING: StateType.PENDING,
    RunState.RUNNING: StateType.RUNNING,
    RunState.RETRYING: StateType.RUNNING,
    RunState.COMPLETED: StateType.COMPLETED,
    RunState.FAILED: StateType.FAILED,
    RunState.TIMED_OUT: StateType.FAILED,
    RunState.CRASHED: StateType.CRASHED,
    RunState.CANCELLING: StateType.CANCELLING,
    RunState.CANCELLED: StateType.CANCELLED,
    RunState.PAUSED: StateType.PAUSED,
}

#: The contract's terminal states (``baton.contract.TERMINAL_STATES``) as members.
TERMINAL_STATES = frozenset(RunState(state) for state in contract.TERMINAL_STATES)

#: The contract's active states (``baton.contract.ACTIVE_STATES``) as members: admitted and
#: not ended, so the run holds its slot and its Job (or worker) and the operator follows it.
ADMITTED_STATES = frozenset(RunState(state) for state in contract.ACTIVE_STATES)


def is_terminal(state: str | None) -> bool:
    return state in TERMINAL_STATES


#: Fixed when the run is created: what it runs, with which parameters, and when.
IMMUTABLE_FIELDS = ("deploymentRef", "flowRef", "parameters", "scheduledTime")


class ResumeRequest(Model):
    """A resume of the run's current pause (``baton resume`` writes it; a patch may too)."""

    pause_key: str = Field(
        description="The key of the pause it resumes (status.pause.key).",
        min_length=1,
        max_length=253,
    )
    input: FreeForm | None = free_form(
        "The input the paused flow waits for (checked against status.pause.inputSchema).",
        default=None,
    )


class FlowRunSpec(Model):
    """One run: what it runs (a Deployment or a Flow), its parameters and its time."""

    model_config = Model.model_config | {
        "json_schema_extra": schema_extra(
            validations=[
                cel(
                    "has(self.deploymentRef) != has(self.flowRef)",
                    "a FlowRun must set exactly one of deploymentRef or flowRef",
                ),
                cel(
                    "!has(self.workPoolRef) || has(self.flowRef)",
                    "workPoolRef is only for ad-hoc runs of a flowRef; a deploymentRef run "
                    "uses the Deployment's pool",
                    reason="FieldValueForbidden",
                    field_path=".workPoolRef",
                ),
                *(immutable(f) for f in IMMUTABLE_FIELDS),
            ]
        )
    }

    deployment_ref: LocalObjectReference | None = Field(
        default=None,
        description="The Deployment this run belongs to.",
    )
    flow_ref: LocalObjectReference | None = Field(
        default=None,
        description="Ad-hoc run of a Flow without a Deployment.",
    )
    work_pool_ref: LocalObjectReference | None = Field(
        default=None, description="Ad-hoc runs only: the WorkPool (default: default)."
    )
    parameters: FreeForm = Field(
        default_factory=dict,
        description="Parameters of this run, merged over the Deployment's defaults.",
        json_schema_extra=schema_extra(preserve_unknown=True),
    )
    scheduled_time: datetime | None = Field(
        default=None,
        description="When the run should start (unset: as soon as admitted).",
    )
    cancel_requested: bool = Field(
        default=False,
        description="Set to true to cancel the run (baton cancel does).",
        json_schema_extra=schema_extra(
            validations=[
                cel(
                    "self || !oldSelf",
                    "a cancel request cannot be withdrawn",
                    reason="FieldValueForbidden",
                )
            ]
        ),
    )
    resume: ResumeRequest | None = Field(
        default=None,
        description="Resume the paused run: the pause's key and its input (baton resume).",
    )


class StateTransition(StatusModel):
    """One state the run entered."""

    state: RunState = Field(description="The state entered.")
    timestamp: datetime = Field(description="When it was entered.")
    reason: str = Field(default="", description="CamelCase reason for the change.")
    message: str = Field(default="", description="Human-readable message, bounded.")


class RuntimeReport(StatusModel):
    """What the flow runtime itself reported (written only by the runtime)."""

    state: RunState = Field(description="Running, Completed, Failed, TimedOut, Cancelled...")
    message: str = Field(default="", description="The runtime's state message.")
    timestamp: datetime | None = Field(default=None, description="When it was reported.")
    attempt: int = Field(default=1, description="Which attempt reported it.")
    start_time: datetime | None = Field(default=None, description="When the flow began.")
    end_time: datetime | None = Field(default=None, description="When the flow ended.")


class PauseStatus(StatusModel):
    """The run's current pause (``pause_flow_run`` / ``suspend_flow_run``), from the runtime."""

    key: str = Field(description="The pause's key; a resume names it (spec.resume.pauseKey).")
    input_schema: FreeForm | None = free_form(
        "JSON Schema of the input the flow waits for (none: it waits for no input).",
        default=None,
    )
    deadline: datetime | None = Field(
        default=None, description="When the pause gives up and the run fails."
    )
    suspended: bool = Field(
        default=False, description="The pod exited; a resume starts a new attempt."
    )
    message: str = Field(default="", description="Why the last resume was refused, if it was.")


class TaskRunSummary(StatusModel):
    """One task run of the flow run."""

    id: str = Field(description="The task run's ID (unique within the flow run).")
    name: str = Field(description="Task run name, e.g. extract-0.")
    state: str = Field(description="Its state name, e.g. Completed or Failed.")
    start_time: datetime | None = Field(default=None, description="When it started.")
    end_time: datetime | None = Field(default=None, description="When it ended.")
    message: str = Field(default="", description="Its state message, bounded.")
    upstream: list[str] = Field(
        default_factory=list,
        max_length=contract.MAX_TASK_UPSTREAM,
        description="IDs of the task runs it depends on: futures or states among its "
        f"inputs, and wait_for (at most {contract.MAX_TASK_UPSTREAM}).",
    )


class TaskRuns(StatusModel):
    """Task runs of the flow run: counts and a bounded list."""

    total: int = Field(default=0, description="Task runs in this flow run.")
    counts: dict[str, int] = Field(default_factory=dict, description="Task runs per state name.")
    items: list[TaskRunSummary] = Field(
        default_factory=list, description="A bounded list: failed ones first, then latest."
    )
    omitted: int = Field(default=0, description="Task runs not listed in items.")


class Artifact(StatusModel):
    """An artifact the run created (markdown, table, link or progress)."""

    key: str | None = Field(default=None, description="The artifact's key, if it has one.")
    type: str = Field(description="markdown, table, link or progress.")
    description: str | None = Field(default=None, description="Its description.")
    data: str = Field(default="", description="The content (JSON text for tables), bounded.")
    truncated: bool = Field(default=False, description="data was cut to fit the status.")
    config_map: str | None = Field(default=None, description="ConfigMap holding the full content.")
    created: datetime | None = Field(default=None, description="When it was created.")


class Result(StatusModel):
    """A preview of the flow's return value."""

    type: str = Field(default="", description="Python type of the return value.")
    preview: str = Field(default="", description="repr() of the result, bounded.")
    truncated: bool = Field(default=False, description="preview was cut to fit the status.")


class RunError(StatusModel):
    """The exception that ended the run."""

    type: str = Field(default="", description="Exception type.")
    message: str = Field(default="", description="Exception message, bounded.")
    traceback: str = Field(default="", description="The traceback's last lines.")


class FlowRunStatus(ObservedStatus):
    """What happened: state (operator), task runs, artifacts, result and error (runtime)."""

    # Operator-owned.
    state: RunState | None = Field(default=None, description="Current state.")
    reason: str = Field(default="", description="CamelCase reason for the state.")
    message: str = Field(default="", description="Human-readable state message.")
    state_time: datetime | None = Field(default=None, description="When the state was entered.")
    history: list[StateTransition] = Field(
        default_factory=list, description="Recent state transitions (bounded)."
    )
    attempts: int = Field(default=0, description="Jobs started for this run.")
    job_name: str | None = Field(default=None, description="The current attempt's Job.")
    pod_name: str | None = Field(default=None, description="The current attempt's pod.")
    work_pool: str | None = Field(default=None, description="WorkPool the run was admitted to.")
    start_time: datetime | None = Field(default=None, description="When the flow started.")
    end_time: datetime | None = Field(default=None, description="When the run ended.")
    duration: str | None = Field(default=None, description="Run time, e.g. 1m20s.")
    worker: str | None = Field(default=None, description="Process pools: the claiming worker.")
    # Runtime-owned.
    runtime: RuntimeReport | None = Field(default=None, description="The runtime's own report.")
    task_runs: TaskRuns | None = Field(
        default=None, description="Task runs: counts and a bounded list."
    )
    artifacts: list[Artifact] = Field(
        default_factory=list, description="Artifacts created by the run (bounded)."
    )
    result: Result | None = Field(default=None, description="The flow's return value.")
    error: RunError | None = Field(default=None, description="The error that ended the run.")
    pause: PauseStatus | None = Field(
        default=None, description="The pause the run waits in, while Paused."
    )
    source_commit: str | None = Field(
        default=None,
        description="Git sources: the commit the run's code was checked out at (written by "
        "the runtime from its checkout).",
        max_length=64,
    )


#: The status fields the in-pod runtime writes; every other field of ``FlowRunStatus`` is
#: the operator's (or a process worker's). The chart's admission policy
#: (``resources/policy.py``) lets a flow's pod change these, of its own run, only.
RUNTIME_FIELDS = (
    "runtime",
    "taskRuns",
    "artifacts",
    "result",
    "error",
    "pause",
    "sourceCommit",
)


FLOWRUN_KIND = ResourceKind(
    kind="FlowRun",
    plural="flowruns",
    short_names=("fr", "bfr"),
    spec=FlowRunSpec,
    status=FlowRunStatus,
    description="One run of a flow: its parameters and scheduled time, and in status its "
    "state, task runs, artifacts, result and error.",
    printer_columns=(
        PrinterColumn("Deployment", ".spec.deploymentRef.name"),
        PrinterColumn("State", ".status.state"),
        PrinterColumn("Scheduled", ".spec.scheduledTime", "date"),
        PrinterColumn("Duration", ".status.duration"),
        PrinterColumn("Tasks", ".status.taskRuns.total", "integer", priority=1),
        PrinterColumn("Message", ".status.message", priority=1),
        AGE,
    ),
    selectable_fields=(".status.state", ".spec.deploymentRef.name"),
)


class FlowRun(Resource):
    KIND = FLOWRUN_KIND
    spec: FlowRunSpec
    status: FlowRunStatus = Field(default_factory=FlowRunStatus)


__all__ = [
    "ADMITTED_STATES",
    "FLOWRUN_KIND",
    "STATE_TYPES",
    "TERMINAL_STATES",
    "Artifact",
    "FlowRun",
    "FlowRunSpec",
    "FlowRunStatus",
    "PauseStatus",
    "Result",
    "ResumeRequest",
    "RunError",
    "RunState",
    "RuntimeReport",
    "StateTransition",
    "StateType",
    "TaskRunSummary",
    "TaskRuns",
    "is_terminal",
]
