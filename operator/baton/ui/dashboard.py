"""The dashboard: runs by state over a window (attention first), and upcoming runs.

The counts come from the namespace's watched run index (``counts.RunIndex``): the API
has no time index, and a scan per view costs far more than the page's budget. The lists
of runs needing attention are one ``fieldSelector`` request per state (the FlowRun CRD
makes ``status.state`` selectable), all read at once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from baton._kube.client import DEPLOYMENTS, FLOWRUNS
from baton.resources import FlowRun
from baton.ui.access import Access
from baton.ui.core import ATTENTION, ui_of

#: Windows the dashboard offers, in hours.
WINDOWS = (1, 24, 168)
PAGE = 500
ATTENTION_SHOWN = 5
UPCOMING_SHOWN = 10


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


async def _attention(access: Access, namespace: str, state: str) -> tuple[str, list[FlowRun]]:
    found = await access.page(
        FLOWRUNS, namespace, limit=ATTENTION_SHOWN, field_selector=f"status.state={state}"
    )
    return state, [FlowRun.model_validate(i) for i in found.items]


async def _upcoming(access: Access, namespace: str) -> tuple[list[tuple[datetime, str]], bool]:
    """The next fire times of the first page of Deployments; whether there are more."""
    listed = await access.page(DEPLOYMENTS, namespace, limit=PAGE)
    upcoming: list[tuple[datetime, str]] = []
    for item in listed.items:
        if (item.get("spec") or {}).get("paused"):
            continue
        for value in (item.get("status") or {}).get("nextFireTimes") or []:
            when = _time(value)
            if when is not None:
                upcoming.append((when, item["metadata"]["name"]))
    upcoming.sort()
    return upcoming[:UPCOMING_SHOWN], listed.cont is not None


async def page(request: Request) -> Response:
    ui = ui_of(request)
    access = await ui.access(request)
    namespace = request.path_params["namespace"]
    try:
        hours = int(request.query_params.get("hours", "24"))
    except ValueError:
        hours = 24
    hours = hours if hours in WINDOWS else 24
    since = datetime.now(UTC) - timedelta(hours=hours)
    # Independent reads, at once: the page costs its slowest read, not their sum.
    counts, (upcoming, more), attention = await asyncio.gather(
        access.run_counts(namespace, since),
        _upcoming(access, namespace),
        asyncio.gather(*(_attention(access, namespace, state) for state in ATTENTION)),
    )
    ordered = sorted(counts.items(), key=lambda kv: (kv[0] not in ATTENTION, -kv[1], kv[0]))
    context: dict[str, Any] = {
        "namespace": namespace,
        "hours": hours,
        "windows": WINDOWS,
        "counts": ordered,
        "total": sum(counts.values()),
        "attention": [(state, runs) for state, runs in attention if runs],
        "upcoming": upcoming,
        "more_deployments": more,
    }
    return ui.render(request, "dashboard.html", **context)
