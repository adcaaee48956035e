"""Flow runs: the list (filtered by state, Deployment, Flow and pool), one run, Cancel and
Retry, live updates.

Filters are the API server's: ``status.state`` is a selectable field of the FlowRun CRD
and runs carry their Deployment's, Flow's and pool's labels, so a filtered page is one
request. Retry creates a new run of what a terminal run ran, with its parameters, through
the same manifest as Quick and Custom Run (``baton.cli.runs.custom_run``). The run page
follows a watch on the run through server-sent events: each new version of the run is
rendered server-side and swapped in by htmx's SSE extension, and the stream says ``end``
once the run is terminal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from baton._kube.client import CONFIGMAPS, DEPLOYMENTS, FLOWRUNS, ApiError
from baton.cli.runs import custom_run, custom_run_name
from baton.controller.labels import LABEL_DEPLOYMENT, LABEL_FLOW, LABEL_POOL, label_value
from baton.resources import FlowRun, RunState
from baton.resources.flowrun import is_terminal
from baton.run_logs import LABEL_LOG_OF, kept_log_from, log_owner_label
from baton.ui.access import Access
from baton.ui.core import ui_of
from baton.ui.graph import task_graph

PAGE = 50
#: The run page shows the newest lines of the kept log; `baton logs` prints them all.
LOG_TAIL = 200
STATES = [s.value for s in RunState]
#: The runs list's label filters: query parameter → the label every created run carries.
FILTERS = {"deployment": LABEL_DEPLOYMENT, "flow": LABEL_FLOW, "pool": LABEL_POOL}


def run_selector(wanted: dict[str, str]) -> str | None:
    """The label selector of the runs list's filters (``None``: no filter)."""
    terms = [f"{FILTERS[key]}={label_value(value)}" for key, value in wanted.items() if value]
    return ",".join(terms) or None


async def list_page(request: Request) -> Response:
    ui = ui_of(request)
    access = await ui.access(request)
    namespace = request.path_params["namespace"]
    state = request.query_params.get("state") or ""
    wanted = {key: request.query_params.get(key) or "" for key in FILTERS}
    page = await access.page(
        FLOWRUNS,
        namespace,
        limit=PAGE,
        cont=request.query_params.get("continue") or None,
        field_selector=f"status.state={state}" if state else None,
        label_selector=run_selector(wanted),
    )
    return ui.render(
        request,
        "runs.html",
        namespace=namespace,
        runs=[FlowRun.model_validate(i) for i in page.items],
        next_page=page.cont,
        state=state,
        filters=wanted,
        query=urlencode({"state": state, **wanted}),
        states=STATES,
        flow_label=LABEL_FLOW,
        pool_label=LABEL_POOL,
    )


async def _run_context(access: Access, run: FlowRun) -> dict[str, Any]:
    live = not is_terminal(run.status.state)
    can_cancel = live and await access.can("patch", "flowruns", run.namespace)
    can_retry = not live and await access.can("create", "flowruns", run.namespace)
    return {
        "run": run,
        "graph": task_graph(run.status.task_runs),
        "live": live,
        "can_cancel": can_cancel,
        "can_retry": can_retry,
        "namespace": run.namespace,
    }


async def detail(request: Request) -> Response:
    ui = ui_of(request)
    access = await ui.access(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    run = FlowRun.model_validate(await access.client.get(FLOWRUNS, name, namespace))
    return ui.render(request, "run.html", **await _run_context(access, run))


async def cancel(request: Request) -> Response:
    ui = ui_of(request)
    await ui.checked_form(request)
    access = await ui.access(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    await access.client.patch(FLOWRUNS, name, namespace, {"spec": {"cancelRequested": True}})
    return RedirectResponse(f"/namespaces/{namespace}/runs/{name}", status_code=303)


async def retry(request: Request) -> Response:
    """A new run of what this terminal run ran (its Deployment, or its Flow and pool), with
    the same parameters; the API server decides whether the user may create it."""
    ui = ui_of(request)
    await ui.checked_form(request)
    access = await ui.access(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    run = FlowRun.model_validate(await access.client.get(FLOWRUNS, name, namespace))
    if not is_terminal(run.status.state):
        raise HTTPException(
            409, f"{name} is {run.status.state or 'New'}: only an ended run retries"
        )
    parameters = dict(run.spec.parameters)
    if run.spec.deployment_ref is not None:
        deployment = await access.client.get(DEPLOYMENTS, run.spec.deployment_ref.name, namespace)
        new_name = custom_run_name(run.spec.deployment_ref.name)
        manifest = custom_run(deployment, parameters, new_name)
    else:
        flow = run.spec.flow_ref.name if run.spec.flow_ref else ""
        pool = run.spec.work_pool_ref.name if run.spec.work_pool_ref else None
        new_name = custom_run_name(flow)
        manifest = custom_run(None, parameters, new_name, flow=flow, pool=pool)
    await access.client.create(FLOWRUNS, manifest, namespace)
    return RedirectResponse(f"/namespaces/{namespace}/runs/{new_name}", status_code=303)


async def log_tail(request: Request) -> Response:
    """The newest lines of the run's kept log (``baton.run_logs``), read as the user:
    the runtime ships it every second, so it follows a live run and outlives its pod."""
    ui = ui_of(request)
    access = await ui.access(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    run = await access.client.get(FLOWRUNS, name, namespace)
    uid = str(run["metadata"].get("uid", ""))
    context: dict[str, Any] = {"namespace": namespace, "run_name": name, "refused": None}
    try:
        items = await access.client.list(
            CONFIGMAPS, namespace, label_selector=f"{LABEL_LOG_OF}={log_owner_label(name, uid)}"
        )
    except ApiError as error:
        context["refused"] = error.message
        items = []
    kept = kept_log_from(items, uid)
    live = not is_terminal(FlowRun.model_validate(run).status.state)
    context.update(kept=kept, lines=kept.entries[-LOG_TAIL:], live=live, tail=LOG_TAIL)
    return ui.render(request, "_run_log.html", **context)


def _event(name: str, html: str) -> str:
    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: {name}\n{data}\n\n"


async def events(request: Request) -> Response:
    """Server-sent events: ``run`` with the run's rendered body per version, then ``end``."""
    ui = ui_of(request)
    session = await ui.session(request)
    access = session.access
    namespace, name = request.path_params["namespace"], request.path_params["name"]

    async def stream() -> AsyncIterator[str]:
        async for raw in access.follow_run(name, namespace):
            run = FlowRun.model_validate(raw)
            context = await _run_context(access, run)
            yield _event("run", ui.fragment(session, "_run_body.html", **context))
            if not context["live"]:
                yield _event("end", "")
                return

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
