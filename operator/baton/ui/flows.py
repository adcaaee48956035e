"""Flows: the list (entrypoint, code source, Ready) and one Flow with its parameters.

A Flow's ``parameterSchema`` is shown as a table read the way the Custom Run form reads it
(``forms.fields``): each property in the signature's order with its JSON type, its default
and whether a run must give it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from baton._kube.client import DEPLOYMENTS, FLOWS
from baton.resources import Deployment, Flow
from baton.ui import forms
from baton.ui.core import ui_of
from baton.ui.pools import ready

PAGE = 50


def source(flow: Flow) -> str:
    """Where a run's code comes from, in a few words."""
    found = flow.spec.source
    if found is not None and found.config_map is not None:
        return f"ConfigMap {found.config_map.name}"
    if found is not None and found.git is not None:
        git = found.git
        at = git.commit or git.ref or "HEAD"
        return f"git {git.url} @ {at}" + (f" ({git.sub_path})" if git.sub_path else "")
    return f"image {flow.spec.image}"


async def list_page(request: Request) -> Response:
    ui = ui_of(request)
    access = await ui.access(request)
    namespace = request.path_params["namespace"]
    page = await access.page(
        FLOWS, namespace, limit=PAGE, cont=request.query_params.get("continue") or None
    )
    found = [Flow.model_validate(i) for i in page.items]
    return ui.render(
        request,
        "flows.html",
        namespace=namespace,
        flows=[(f, source(f), ready(f.status.conditions)) for f in found],
        next_page=page.cont,
    )


async def detail(request: Request) -> Response:
    ui = ui_of(request)
    access = await ui.access(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    flow = Flow.model_validate(await access.client.get(FLOWS, name, namespace))
    # The Flow's Deployments: the first page of them only (the API cannot select by flowRef).
    page = await access.page(DEPLOYMENTS, namespace, limit=500)
    deployments = [Deployment.model_validate(i) for i in page.items]
    return ui.render(
        request,
        "flow.html",
        namespace=namespace,
        flow=flow,
        source=source(flow),
        ready=ready(flow.status.conditions),
        parameters=forms.fields(flow.spec.parameter_schema, {}),
        deployments=[d for d in deployments if d.spec.flow_ref.name == name],
        more_deployments=page.cont is not None,
    )
