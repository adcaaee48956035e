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
from typing import Any

import kopf

from baton._kube.client import FLOWRUNS, AsyncKubeClient
from baton.controller.planning import MANAGED_BY
from baton.controller.scheduler import Scheduler

GROUP, VERSION = "baton.dev", "v1alpha1"
PREFIX = "baton.dev"


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

    client = AsyncKubeClient()
    scheduler = Scheduler(client)
    selector = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
    for run in await client.list(FLOWRUNS, label_selector=selector):
        scheduler.flow_run_event("ADDED", run)
    memo.client = client
    memo.scheduler = scheduler
    memo.scheduler_task = asyncio.create_task(scheduler.run(), name="baton-scheduler")
    logger.info("baton operator configured")


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    task = getattr(memo, "scheduler_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    client = getattr(memo, "client", None)
    if client is not None:
        await client.aclose()


@kopf.on.probe(id="scheduler")
def scheduler_alive(memo: kopf.Memo, **_: Any) -> bool:
    task = getattr(memo, "scheduler_task", None)
    if task is None or task.done():
        raise kopf.PermanentError("scheduler task is not running")
    return True


@kopf.on.event(GROUP, VERSION, "deployments")
def deployment_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.scheduler.deployment_event(event.get("type") or "ADDED", event["object"])


@kopf.on.event(GROUP, VERSION, "flowruns")
def flow_run_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.scheduler.flow_run_event(event.get("type") or "ADDED", event["object"])


def run(*, namespaces: list[str], liveness: str | None, verbose: bool = False) -> None:
    """Run the operator until interrupted (the ``baton operator`` command)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    kopf.configure(verbose=verbose)
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=liveness,
    )
