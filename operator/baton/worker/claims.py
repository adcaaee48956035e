"""What a process worker decides, as pure functions over plain JSON objects.

The worker loop (``worker.loop``) gathers FlowRuns, Flows, Deployments and the WorkPool
from the API server and applies what these functions return: which runs it may claim and
in which order, the environment of ``baton execute`` for a claimed run, and the pool's
``status.workers`` list after one heartbeat. Keeping them free of I/O lets the unit tests
pin the protocol (docs/workers.md) with fixed clocks.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from baton.contract import (
    AWAITING_WORKER,
    PENDING,
    RUN_ENVIRONMENT,
    RunIdentity,
    encode_run_environment,
    merge_parameters,
    parse_time,
)
from baton.contract import format_time as stamp

Json = dict[str, Any]

#: Entries of silent workers are dropped after this many heartbeat timeouts.
STALE_FACTOR = 10
DEFAULT_HEARTBEAT_TIMEOUT = 60


def worker_identity() -> str:
    """``<host>-<pid>``: unique among live workers, readable in ``kubectl get -o yaml``."""
    return f"{socket.gethostname()}-{os.getpid()}"


def is_claimable(run: Mapping[str, Any], pool: str) -> bool:
    """A run the operator admitted to ``pool`` that no worker has claimed yet."""
    spec = run.get("spec") or {}
    status = run.get("status") or {}
    return (
        status.get("state") == PENDING
        and status.get("reason") == AWAITING_WORKER
        and status.get("workPool") == pool
        and not status.get("worker")
        and not spec.get("cancelRequested")
        and not (run.get("metadata") or {}).get("deletionTimestamp")
    )


def _due(run: Mapping[str, Any]) -> tuple[datetime, str]:
    metadata = run.get("metadata") or {}
    when = parse_time((run.get("spec") or {}).get("scheduledTime")) or parse_time(
        metadata.get("creationTimestamp")
    )
    return when or datetime.max.replace(tzinfo=UTC), str(metadata.get("name", ""))


def claim_order(runs: Iterable[Mapping[str, Any]], pool: str, slots: int | None) -> list[Json]:
    """The claimable runs of ``pool``, oldest scheduled time first, at most ``slots``."""
    ready = sorted((dict(r) for r in runs if is_claimable(r, pool)), key=_due)
    return ready if slots is None else ready[: max(0, slots)]


def merged_parameters(run: Mapping[str, Any], deployment: Mapping[str, Any] | None) -> Json:
    """The Deployment's default parameters with the run's own laid over them."""
    defaults = ((deployment or {}).get("spec") or {}).get("parameters") or {}
    return merge_parameters(defaults, (run.get("spec") or {}).get("parameters"))


def flow_name_of(run: Mapping[str, Any], deployment: Mapping[str, Any] | None) -> str | None:
    """The Flow a run executes: through its Deployment, or its own ``flowRef``."""
    if deployment is not None:
        return str(((deployment.get("spec") or {}).get("flowRef") or {}).get("name") or "") or None
    return ((run.get("spec") or {}).get("flowRef") or {}).get("name")


def run_environment(
    run: Mapping[str, Any],
    flow: Mapping[str, Any],
    deployment: Mapping[str, Any] | None,
    *,
    base: Mapping[str, str],
) -> dict[str, str]:
    """The environment of ``baton execute`` for ``run``: the same identity a Job's pod gets."""
    metadata = run.get("metadata") or {}
    status = run.get("status") or {}
    deployment_name = ((deployment or {}).get("metadata") or {}).get("name", "")
    identity = RunIdentity(
        name=str(metadata.get("name", "")),
        namespace=str(metadata.get("namespace", "")),
        uid=str(metadata.get("uid", "")),
        entrypoint=str((flow.get("spec") or {}).get("entrypoint", "")),
        attempt=max(1, int(status.get("attempts") or 1)),
        parameters=merged_parameters(run, deployment),
        scheduled_time=parse_time((run.get("spec") or {}).get("scheduledTime")),
        flow_name=str((flow.get("metadata") or {}).get("name", "")),
        deployment_name=str(deployment_name),
    )
    # The worker's own environment is the base; a stale run identity in it never leaks.
    env = {k: v for k, v in base.items() if k not in RUN_ENVIRONMENT}
    env.update(encode_run_environment(identity))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def pool_log_environment(pool: Mapping[str, Any]) -> dict[str, str]:
    """The pool's ``logs.s3`` as the run's environment. A worker passes its own ``AWS_*``
    credentials on (it reads no Secret); a malformed setting keeps logs in ConfigMaps."""
    from baton.resources.workpool import RunLogs  # noqa: PLC0415
    from baton.run_logs_s3 import s3_environment  # noqa: PLC0415

    try:
        storage = RunLogs.model_validate((pool.get("spec") or {}).get("logs") or {}).s3
    except ValueError:
        return {}
    return s3_environment(storage) if storage is not None else {}


def heartbeat_timeout(pool: Mapping[str, Any]) -> int:
    spec = pool.get("spec") or {}
    return int(spec.get("heartbeatTimeoutSeconds") or DEFAULT_HEARTBEAT_TIMEOUT)


def updated_workers(
    entries: Iterable[Mapping[str, Any]],
    me: str,
    *,
    now: datetime,
    running: int,
    timeout_seconds: int,
    leaving: bool = False,
) -> list[Json]:
    """``status.workers`` after one heartbeat of ``me`` (or its goodbye when ``leaving``).

    Other workers' entries are kept unless silent for ``STALE_FACTOR`` heartbeat timeouts,
    so the list cannot grow without bound as workers come and go.
    """
    horizon = now - timedelta(seconds=STALE_FACTOR * timeout_seconds)
    kept: list[Json] = []
    for entry in entries:
        if entry.get("name") == me:
            continue
        beat = parse_time(entry.get("lastHeartbeat"))
        if beat is not None and beat >= horizon:
            kept.append(dict(entry))
    if not leaving:
        kept.append({"name": me, "lastHeartbeat": stamp(now), "running": running})
    return sorted(kept, key=lambda e: str(e.get("name")))
