"""The kopf application: settings, watch handlers, and the scheduler's lifetime.

Run it with ``baton operator`` or ``kopf run -m baton.controller.app --all-namespaces``.
Handlers here are thin: they hand each watch event to the scheduler, which decides.
The operator only ever writes ``status`` of users' objects (and creates FlowRuns), so
its handlers are ``on.event`` ones: kopf adds no finalizers or annotations to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import timedelta
from typing import Any

import kopf

from baton._kube import config
from baton._kube.client import FLOWRUNS, JOBS, PODS, AsyncKubeClient
from baton.controller import events, metrics
from baton.controller.labels import MANAGED_BY, selector
from baton.controller.lifecycle import Timing
from baton.controller.reflector import reflect
from baton.controller.runs import RunController
from baton.controller.scheduler import Scheduler

GROUP, VERSION = "baton.dev", "v1alpha1"
PREFIX = "baton.dev"


@kopf.on.login()
def login(**_: Any) -> kopf.ConnectionInfo:
    """kopf's watches use the credentials Baton's own client uses (``baton._kube.config``).

    One loader for both, so the operator needs neither the ``kubernetes`` package nor
    pykube (kopf would otherwise pick whichever is installed). kopf calls this again
    when the API server answers 401, which re-reads a rotated projected token.
    """
    credentials = config.load()
    token = credentials.bearer()
    return kopf.ConnectionInfo(
        server=credentials.server,
        ca_path=credentials.ca_file,
        insecure=credentials.insecure,
        scheme="Bearer" if token else None,
        token=token,
        certificate_path=credentials.cert_file,
        private_key_path=credentials.key_file,
        default_namespace=credentials.namespace,
    )


@kopf.on.startup()
async def configure(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    """All kopf settings in one place, then the scheduler, seeded with the existing runs."""
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    # Baton records its own Events with stable reasons; kopf's log-to-event is noise.
    settings.posting.enabled = False
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.error_backoffs = [1, 2, 5, 10]

    client = AsyncKubeClient(observer=metrics.observe_request)
    recorder = events.Recorder(client)
    scheduler = Scheduler(client, recorder)
    runs = RunController(client, recorder, timing=timing_from_env())
    managed = selector(MANAGED_BY)
    namespaces = getattr(memo, "namespaces", None) or None
    # Per watched namespace when there are some: the chart's RBAC is then namespaced.
    for scope in namespaces or [None]:
        for run in await client.list(FLOWRUNS, scope, label_selector=managed):
            scheduler.flow_run_event("ADDED", run)
    memo.client = client
    memo.scheduler = scheduler
    memo.runs = runs
    memo.recorder = recorder
    memo.tasks = [
        asyncio.create_task(recorder.run(), name="baton-events"),
        asyncio.create_task(scheduler.run(), name="baton-scheduler"),
        asyncio.create_task(runs.queue.run(), name="baton-runs"),
        asyncio.create_task(
            reflect(client, JOBS, managed, runs.job_event, namespaces=namespaces),
            name="baton-jobs",
        ),
        asyncio.create_task(
            reflect(client, PODS, managed, runs.pod_event, namespaces=namespaces),
            name="baton-pods",
        ),
    ]
    logger.info("baton operator configured")


def timing_from_env() -> Timing:
    """Grace periods, overridable for tests and impatient clusters."""

    def seconds(name: str, default: float) -> timedelta:
        return timedelta(seconds=float(os.environ.get(name, default)))

    defaults = Timing()
    return Timing(
        report_grace=seconds("BATON_REPORT_GRACE_SECONDS", defaults.report_grace.total_seconds()),
        cancel_grace=seconds("BATON_CANCEL_GRACE_SECONDS", defaults.cancel_grace.total_seconds()),
        image_pull_timeout=seconds(
            "BATON_IMAGE_PULL_TIMEOUT_SECONDS", defaults.image_pull_timeout.total_seconds()
        ),
    )


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    recorder = getattr(memo, "recorder", None)
    if recorder is not None:
        await recorder.drain(timeout=2.0)
    for task in getattr(memo, "tasks", []):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    client = getattr(memo, "client", None)
    if client is not None:
        await client.aclose()


@kopf.on.probe(id="loops")
def loops_alive(memo: kopf.Memo, **_: Any) -> bool:
    dead = [t.get_name() for t in getattr(memo, "tasks", []) if t.done()]
    if dead:
        raise kopf.PermanentError(f"operator loops stopped: {', '.join(dead)}")
    return True


# Handlers are coroutines on purpose: kopf runs plain functions in a thread pool, and
# the controllers' in-memory state belongs to the event loop's thread alone.
@kopf.on.event(GROUP, VERSION, "deployments")
async def deployment_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.scheduler.deployment_event(event.get("type") or "ADDED", event["object"])
    memo.runs.deployment_event(event.get("type") or "ADDED", event["object"])


@kopf.on.event(GROUP, VERSION, "flowruns")
async def flow_run_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.scheduler.flow_run_event(event.get("type") or "ADDED", event["object"])
    memo.runs.run_event(event.get("type") or "ADDED", event["object"])


@kopf.on.event(GROUP, VERSION, "flows")
async def flow_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.runs.flow_event(event.get("type") or "ADDED", event["object"])


@kopf.on.event(GROUP, VERSION, "workpools")
async def work_pool_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.scheduler.pool_event(event.get("type") or "ADDED", event["object"])
    memo.runs.pool_event(event.get("type") or "ADDED", event["object"])


def run(
    *,
    namespaces: list[str],
    liveness: str | None,
    verbose: bool = False,
    log_format: str = "json",
    metrics_port: int = 0,
) -> None:
    """Run the operator until interrupted (the ``baton operator`` command)."""
    formats = {
        "json": kopf.LogFormat.JSON,
        "plain": kopf.LogFormat.PLAIN,
        "full": kopf.LogFormat.FULL,
    }
    kopf.configure(verbose=verbose, log_format=formats[log_format])
    # One line per API request is noise at INFO; failures are logged by Baton itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # kopf logs every successful handler call ("Handler 'x' succeeded.") at INFO: one
    # line per watch event, thousands a minute at scale. Failures stay visible.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    metrics.serve(metrics_port)
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=liveness,
        memo=kopf.Memo(namespaces=namespaces),
    )
