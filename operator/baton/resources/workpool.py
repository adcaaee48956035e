"""WorkPool: *where and how* runs execute — Jobs in the cluster, or processes on workers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from baton.resources._base import (
    AGE,
    NAME_PATTERN,
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


class SecretKeys(Model):
    """Where the bucket's credentials are: two keys of a Secret in the pool's namespace."""

    name: str = Field(
        description="The Secret's name (read by the pod through its environment; the "
        "operator never reads it).",
        min_length=1,
        max_length=253,
        pattern=NAME_PATTERN,
    )
    access_key_id_key: str = Field(
        default="accessKeyId", max_length=253, description="Key holding the access key id."
    )
    secret_access_key_key: str = Field(
        default="secretAccessKey", max_length=253, description="Key holding the secret key."
    )


class S3LogStorage(Model):
    """An S3-compatible bucket holding every run's full log (``pip install "baton[s3]"``)."""

    bucket: str = Field(
        description="The bucket (it must exist).",
        min_length=3,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$",
    )
    endpoint: str = Field(
        description="The S3 API's URL, e.g. https://s3.eu-west-1.amazonaws.com or "
        "http://minio.storage:9000.",
        max_length=2048,
        pattern=r"^https?://[^/\s]+/?$",
    )
    region: str | None = Field(default=None, max_length=64, description="The bucket's region.")
    prefix: str = Field(
        default="",
        max_length=512,
        description="Prepended to every key: prefix + namespace/run/uid/attempt/n.jsonl.",
    )
    credentials_secret: SecretKeys | None = Field(
        default=None,
        description="The Secret with the access keys; unset: the pod's own identity "
        "(the AWS_* variables of the jobTemplate, or the worker's environment).",
    )


class RunLogs(Model):
    """Where runs' logs are kept besides the ConfigMaps owned by each FlowRun."""

    s3: S3LogStorage | None = Field(
        default=None, description="Also keep each run's full log in this bucket."
    )


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
    startup_timeout_seconds: int | None = Field(
        default=None,
        ge=5,
        le=86400,
        description="Kubernetes pools: a run whose pod cannot start (refused by admission, "
        "unschedulable, image or referenced Secret/ConfigMap missing) ends Crashed with that "
        "reason this long after its Job was created; its message names the reason meanwhile. "
        "Unset: the operator's BATON_STARTUP_TIMEOUT_SECONDS (default 120).",
    )
    logs: RunLogs = Field(
        default_factory=RunLogs,
        description="Run logs: always kept (capped) in ConfigMaps owned by the FlowRun; "
        "optionally in full in an S3-compatible bucket (docs/logs.md).",
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
