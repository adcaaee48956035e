"""Work pools: the list (type, paused, Ready, limit, runs active) and one pool with its
process workers.

A process worker registers by heartbeating into its pool's ``status.workers`` (name, last
heartbeat, runs it executes; ``baton.worker.api``). It is shown healthy while that
heartbeat is younger than the pool's ``heartbeatTimeoutSeconds`` — the operator's own
deadline (``controller.admission.heartbeat_deadline``), after which it marks the worker's
runs Crashed — and lost after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from baton._kube.client import FLOWRUNS, WORKPOOLS
from baton.controller.admission import heartbeat_deadline
from baton.controller.labels import LABEL_POOL, label_value
from baton.resources import FlowRun, WorkPool
from baton.resources._base import Condition
from baton.ui.core import ui_of

PAGE = 50
RECENT_RUNS = 20


@dataclass(frozen=True)
class WorkerRow:
    """One process worker as the pool's status last recorded it."""

    name: str
    last_heartbeat: datetime
    running: int
    healthy: bool


def ready(conditions: list[Condition]) -> Condition | None:
    """The object's Ready condition, if the operator wrote one."""
    return next((c for c in conditions if c.type == "Ready"), None)


def workers(pool: WorkPool, now: datetime) -> list[WorkerRow]:
    """The pool's workers, healthy while their heartbeat is within the pool's timeout."""
    return [
        WorkerRow(
            w.name,
            w.last_heartbeat,
            w.running,
            heartbeat_deadline(w.last_heartbeat, pool.spec) > now,
        )
        for w in pool.status.workers
    ]


async def list_page(request: Request) -> Response:
    ui = ui_of(request)
    access = await ui.access(request)
    namespace = request.path_params["namespace"]
    page = await access.page(
        WORKPOOLS, namespace, limit=PAGE, cont=request.query_params.get("continue") or None
    )
    found = [WorkPool.model_validate(i) for i in page.items]
    now = datetime.now(UTC)
    return ui.render(
        request,
        "pools.html",
        namespace=namespace,
        pools=[(p, ready(p.status.conditions), workers(p, now)) for p in found],
        next_page=page.cont,
    )


async def detail(request: Request) -> Response:
    ui = ui_of(request)
    access = await ui.access(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    pool = WorkPool.model_validate(await access.client.get(WORKPOOLS, name, namespace))
    recent = await access.page(
        FLOWRUNS, namespace, limit=RECENT_RUNS, label_selector=f"{LABEL_POOL}={label_value(name)}"
    )
    return ui.render(
        request,
        "pool.html",
        namespace=namespace,
        pool=pool,
        ready=ready(pool.status.conditions),
        workers=workers(pool, datetime.now(UTC)),
        runs=[FlowRun.model_validate(i) for i in recent.items],
        more_runs=recent.cont is not None,
    )
