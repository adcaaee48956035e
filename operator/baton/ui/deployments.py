"""Deployments: the list (schedules, last and next run, paused), one Deployment, and runs.

Quick Run and Custom Run create the same FlowRun ``baton run`` creates
(``baton.cli.runs.custom_run``); a Custom Run may name it and give its start. A Custom
Run's parameters are checked first with ``baton.schema_validation.parameter_errors``
against the Deployment's defaults merged with the form, as the operator checks them before
starting a run: an invalid form is shown again with each error beside its field (and a bad
name or start beside theirs), and no FlowRun is created.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from baton._kube.client import DEPLOYMENTS, FLOWRUNS, FLOWS
from baton.cli.runs import custom_run, custom_run_name
from baton.contract import merge_parameters
from baton.controller.labels import LABEL_DEPLOYMENT, label_value
from baton.resources import Deployment, Flow, FlowRun
from baton.schema_validation import parameter_errors
from baton.ui import forms, schedules
from baton.ui.core import ui_of

PAGE = 50
RECENT_RUNS = 20


async def list_page(request: Request) -> Response:
    ui = ui_of(request)
    access = await ui.access(request)
    namespace = request.path_params["namespace"]
    page = await access.page(
        DEPLOYMENTS, namespace, limit=PAGE, cont=request.query_params.get("continue") or None
    )
    return ui.render(
        request,
        "deployments.html",
        namespace=namespace,
        deployments=[Deployment.model_validate(i) for i in page.items],
        next_page=page.cont,
        can_run=await access.can("create", "flowruns", namespace),
    )


async def render_detail(
    request: Request,
    *,
    status: int = 200,
    typed: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    run_typed: dict[str, str] | None = None,
    schedule_form: dict[str, str] | None = None,
    schedule_problem: schedules.Preview | None = None,
) -> Response:
    """The Deployment's page; ``typed``/``errors`` refill a refused Custom Run form,
    ``schedule_form``/``schedule_problem`` a refused schedule."""
    ui = ui_of(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    access = await ui.access(request)
    raw = await access.client.get(DEPLOYMENTS, name, namespace)
    deployment = Deployment.model_validate(raw)
    flow_raw = await access.get(FLOWS, deployment.spec.flow_ref.name, namespace)
    flow = Flow.model_validate(flow_raw) if flow_raw else None
    schema = flow.spec.parameter_schema if flow else None
    fields = forms.fields(schema, deployment.spec.parameters)
    if typed is not None:
        fields = [replace(f, value=typed.get(f.name, f.value)) for f in fields]
    recent = await access.page(
        FLOWRUNS,
        namespace,
        limit=RECENT_RUNS,
        label_selector=f"{LABEL_DEPLOYMENT}={label_value(name)}",
    )
    return ui.render(
        request,
        "deployment.html",
        status=status,
        namespace=namespace,
        deployment=deployment,
        flow=flow,
        fields=fields,
        errors=errors or {},
        run_typed=run_typed or {},
        runs=[FlowRun.model_validate(i) for i in recent.items],
        more_runs=recent.cont is not None,
        can_run=await access.can("create", "flowruns", namespace),
        can_edit=await access.can("patch", "deployments", namespace),
        schedules=schedules.summaries(deployment),
        gitops=schedules.gitops_manager(raw),
        generation=raw["metadata"].get("generation", 0),
        schedule_form=schedule_form or {},
        schedule_problem=schedule_problem,
        kinds=schedules.KINDS,
    )


async def detail(request: Request) -> Response:
    return await render_detail(request)


async def create_run(request: Request) -> Response:
    """Quick Run (no parameters) or Custom Run (the form's); the API server has the last word."""
    ui = ui_of(request)
    form = await ui.checked_form(request)
    access = await ui.access(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    raw = await access.client.get(DEPLOYMENTS, name, namespace)
    deployment = Deployment.model_validate(raw)
    parameters: dict[str, Any] = {}
    options = forms.RunOptions()
    if form.get("mode") == "custom":
        options = forms.run_options(form, datetime.now(UTC))
        flow_raw = await access.get(FLOWS, deployment.spec.flow_ref.name, namespace)
        schema = Flow.model_validate(flow_raw).spec.parameter_schema if flow_raw else None
        posted = forms.submission(forms.fields(schema, deployment.spec.parameters), form)
        parameters = posted.parameters
        errors: dict[str, list[str]] = dict(options.errors)
        for where, message in parameter_errors(
            schema or {}, merge_parameters(deployment.spec.parameters, parameters)
        ):
            errors.setdefault(where.split(".")[0], []).append(message)
        if errors:
            return await render_detail(
                request, status=422, typed=posted.typed, errors=errors, run_typed=options.typed
            )
    run_name = options.name or custom_run_name(name)
    manifest = custom_run(raw, parameters, run_name, scheduled_time=options.start)
    await access.client.create(FLOWRUNS, manifest, namespace)
    return RedirectResponse(f"/namespaces/{namespace}/runs/{run_name}", status_code=303)
