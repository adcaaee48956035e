"""The dashboard: runs by state over a window (attention first), and upcoming runs.

Counting needs the runs of the window, and the API has no time index: the counts come
from a bounded scan (``SCAN_LIMIT`` runs, in pages) and say so when the scan stopped
early. The lists of runs needing attention are exact: one ``fieldSelector`` request per
state (the FlowRun CRD makes ``status.state`` selectable).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from baton._kube.client import DEPLOYMENTS, FLOWRUNS
from baton.resources import Deployment, FlowRun
from baton.ui.core import ATTENTION, ui_of

#: Windows the dashboard offers, in hours.
WINDOWS = (1, 24, 168)
SCAN_LIMIT = 2000
PAGE = 500
ATTENTION_SHOWN = 5
UPCOMING_SHOWN = 10


def _when(run: FlowRun) -> datetime:
    return run.spec.scheduled_time or run.created_at


async def page(request: Request) -> Response:
    ui = ui_of(request)
    namespace = request.path_params["namespace"]
    try:
        hours = int(request.query_params.get("hours", "24"))
    except ValueError:
        hours = 24
    hours = hours if hours in WINDOWS else 24
    since = datetime.now(UTC) - timedelta(hours=hours)

    counts: dict[str, int] = {}
    scanned, cont, complete = 0, None, True
    while True:
        batch = await ui.access.page(FLOWRUNS, namespace, limit=PAGE, cont=cont)
        for item in batch.items:
            run = FlowRun.model_validate(item)
            if _when(run) >= since:
                state = str(run.status.state or "New")
                counts[state] = counts.get(state, 0) + 1
        scanned += len(batch.items)
        cont = batch.cont
        if not cont:
            break
        if scanned >= SCAN_LIMIT:
            complete = False
            break
    ordered = sorted(counts.items(), key=lambda kv: (kv[0] not in ATTENTION, -kv[1], kv[0]))

    attention: list[tuple[str, list[FlowRun]]] = []
    for state in ATTENTION:
        found = await ui.access.page(
            FLOWRUNS, namespace, limit=ATTENTION_SHOWN, field_selector=f"status.state={state}"
        )
        if found.items:
            attention.append((state, [FlowRun.model_validate(i) for i in found.items]))

    upcoming: list[tuple[datetime, str]] = []
    listed = await ui.access.page(DEPLOYMENTS, namespace, limit=PAGE)
    for item in listed.items:
        deployment = Deployment.model_validate(item)
        if deployment.spec.paused:
            continue
        upcoming.extend((t, deployment.name) for t in deployment.status.next_fire_times)
    upcoming.sort()
    context: dict[str, Any] = {
        "namespace": namespace,
        "hours": hours,
        "windows": WINDOWS,
        "counts": ordered,
        "total": sum(counts.values()),
        "scanned": scanned,
        "complete": complete,
        "attention": attention,
        "upcoming": upcoming[:UPCOMING_SHOWN],
        "more_deployments": listed.cont is not None,
    }
    return ui.render(request, "dashboard.html", **context)
