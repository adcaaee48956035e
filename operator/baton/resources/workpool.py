"""WorkPool: *where and how* runs execute — Jobs in the cluster, or processes on workers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from baton.resources._base import (
    AGE,
    Model,
    ObservedStatus,
    PrinterColumn,
    Resource,
    ResourceKind,
    StatusModel,
    schema_extra,
)
from baton.resources.job_template import DEFAULT_JOB_VARIABLES, JobTemplate, JobVariable


class PoolType(StrEnum):
    KUBERNETES = "kubernetes"
    PROCESS = "process"


class WorkPoolSpec(Model):
    """Where and how runs execute: the pool type, its limits and the base Job template."""

    type: PoolType = Field(
        default=PoolType.KUBERNETES,
        description="kubernetes: the operator runs each flow run as a Job. process: "
        "process workers (baton worker start -p POOL) run them as local processes.",
    )
    paused: bool = Field(default=False, description="Stop starting new runs from this pool.")
    concurrency_limit: int | None = Field(
        default=None, ge=1, description="Most runs of this pool running at once (unset: no limit)."
    )
    job_template: JobTemplate = Field(
        default_factory=JobTemplate,
        description="Base Job/pod settings for runs (kubernetes pools).",
    )
    allowed_job_variables: list[JobVariable] = Field(
        default_factory=lambda: list(DEFAULT_JOB_VARIABLES),
        max_length=len(JobVariable),
        description="The jobTemplate fields a Deployment of this pool may set in its "
        "jobVariables; a Deployment setting any other is Ready=False (reason "
        "JobVariablesRefused) and its runs fail with no Job. serviceAccountName and the "
        "security contexts can never be allowed, nor hostPath volumes.",
        json_schema_extra=schema_extra(list_type="set"),
    )
    heartbeat_timeout_seconds: int = Field(
        default=60,
        ge=5,
        le=3600,
        description="Process pools: a worker silent this long has its runs marked Crashed.",
    )


class WorkerStatus(StatusModel):
    """One process worker serving the pool, as its last heartbeat recorded it."""

    name: str = Field(description="Worker identity (host/pid).")
    last_heartbeat: datetime = Field(description="When the worker last reported.")
    running: int = Field(default=0, description="Runs the worker is executing.")


class WorkPoolStatus(ObservedStatus):
    """Written by the operator (counts, Ready) and by process workers (heartbeats)."""

    running: int = Field(default=0, description="Runs of this pool Pending or Running.")
    queued: int = Field(default=0, description="Runs waiting for a slot in this pool.")
    workers: list[WorkerStatus] = Field(
        default_factory=list, description="Process workers and their heartbeats."
    )


WORKPOOL_KIND = ResourceKind(
    kind="WorkPool",
    plural="workpools",
    short_names=("wp", "bwp"),
    spec=WorkPoolSpec,
    status=WorkPoolStatus,
    spec_required=False,
    description="A pool of capacity where flow runs execute, with its concurrency limit, "
    "pause switch and base Job template.",
    printer_columns=(
        PrinterColumn("Type", ".spec.type"),
        PrinterColumn("Paused", ".spec.paused", "boolean"),
        PrinterColumn("Limit", ".spec.concurrencyLimit", "integer"),
        PrinterColumn("Running", ".status.running", "integer"),
        PrinterColumn("Queued", ".status.queued", "integer"),
        AGE,
    ),
)


class WorkPool(Resource):
    KIND = WORKPOOL_KIND
    spec: WorkPoolSpec = Field(default_factory=WorkPoolSpec)
    status: WorkPoolStatus = Field(default_factory=WorkPoolStatus)
