"""Editing a Deployment's schedules and pausing it, from its page.

A schedule typed into the form is checked by the very functions the operator uses
(``resources.validation.schedule_problem``, then ``baton.schedules.next_fire_times`` for
the preview of the next five fire times), so the form accepts exactly what the operator
schedules. A change is a JSON Patch whose first operation tests ``metadata.generation``
against the one the page was rendered from, then replaces ``spec.schedules`` (or
``spec.paused``): a spec edit made meanwhile (by someone else, or by a GitOps sync) makes
the API server refuse the patch instead of being overwritten, while the operator's status
writes (which move ``resourceVersion`` every few seconds) do not get in the way. The
patch is made as the user, so RBAC decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pydantic
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from baton._kube.client import DEPLOYMENTS, Invalid
from baton.controller.planning import to_spec
from baton.resources import Deployment
from baton.resources.deployment import Schedule
from baton.resources.validation import schedule_problem
from baton.schedules import ScheduleError, describe, next_fire_times
from baton.ui.access import Access
from baton.ui.core import ui_of

PREVIEW_COUNT = 5
KINDS = ("cron", "interval", "rrule")
#: Argo CD's tracking marks (label by default, annotation when configured so).
GITOPS_MARKS = ("argocd.argoproj.io/tracking-id", "argocd.argoproj.io/instance")


@dataclass(frozen=True)
class Preview:
    """What a typed schedule would do: its summary and next fire times, or the problem."""

    schedule: Schedule | None
    summary: str = ""
    fire_times: tuple[datetime, ...] = ()
    problem: str = ""


def typed_schedule(form: dict[str, str]) -> Preview:
    """The schedule a form describes, checked as the operator checks it."""
    kind = form.get("kind", "")
    value = form.get("value", "").strip()
    if kind not in KINDS or not value:
        return Preview(None, problem="choose cron, interval or rrule and give its value")
    fields: dict[str, Any] = {kind: value, "timezone": form.get("timezone", "").strip() or "UTC"}
    if kind == "interval" and value.isdigit():
        fields["interval"] = int(value)
    try:
        schedule = Schedule.model_validate(fields)
    except pydantic.ValidationError as error:
        return Preview(None, problem="; ".join(e["msg"] for e in error.errors()))
    problem = schedule_problem(schedule, 0)
    if problem is not None:
        return Preview(None, problem=problem.message.removeprefix("schedules[0]: "))
    spec = to_spec(schedule)
    try:
        times = next_fire_times(spec, datetime.now(UTC), PREVIEW_COUNT)
    except ScheduleError as error:
        return Preview(None, problem=str(error))
    return Preview(schedule, describe(spec), tuple(times))


def gitops_manager(deployment: dict[str, Any]) -> str | None:
    """Whether (and how) a GitOps tool tracks this object: a sync would undo edits."""
    metadata = deployment.get("metadata") or {}
    marks = {**(metadata.get("labels") or {}), **(metadata.get("annotations") or {})}
    found = next((m for m in GITOPS_MARKS if m in marks), None)
    return f"Argo CD ({found}: {marks[found]})" if found else None


def summaries(deployment: Deployment) -> list[str]:
    """Each schedule in words (its problem if the operator would refuse it)."""
    shown = []
    for index, schedule in enumerate(deployment.spec.schedules):
        problem = schedule_problem(schedule, index)
        text = problem.message if problem else describe(to_spec(schedule))
        shown.append(text + ("" if schedule.active else " (inactive)"))
    return shown


async def preview(request: Request) -> Response:
    """htmx: the next fire times of the schedule being typed (no change is made)."""
    ui = ui_of(request)
    await ui.session(request)  # only the signed-in may ask
    result = typed_schedule(dict(request.query_params))
    return HTMLResponse(ui.env.get_template("_schedule_preview.html").render(preview=result))


async def _patch_schedules(
    request: Request, change: str, form: dict[str, str]
) -> tuple[Response | None, Preview | None]:
    ui = ui_of(request)
    access = await ui.access(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    raw = await access.client.get(DEPLOYMENTS, name, namespace)
    schedules = list((raw.get("spec") or {}).get("schedules") or [])
    typed: Preview | None = None
    if change == "add":
        typed = typed_schedule(form)
        if typed.schedule is None:
            return None, typed
        schedules.append(typed.schedule.model_dump(by_alias=True, exclude_defaults=True))
    else:
        index = int(form.get("index", "-1"))
        if not 0 <= index < len(schedules):
            return None, Preview(None, problem="that schedule is gone; reload the page")
        del schedules[index]
    await _patch_spec(access, request, form, "schedules", schedules)
    return RedirectResponse(f"/namespaces/{namespace}/deployments/{name}", status_code=303), None


async def _patch_spec(
    access: Access, request: Request, form: dict[str, str], field: str, value: Any
) -> None:
    """Set ``spec.<field>`` if the spec is still the one the page showed (its generation)."""
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    try:
        generation = int(form.get("generation", ""))
    except ValueError:
        raise HTTPException(400, "the form names no generation; reload the page") from None
    patch = [
        {"op": "test", "path": "/metadata/generation", "value": generation},
        {"op": "add", "path": f"/spec/{field}", "value": value},
    ]
    try:
        await access.client.patch(DEPLOYMENTS, name, namespace, patch, patch_type="json")
    except Invalid as error:
        # 422 either for the test (the spec moved on) or for the value: tell them apart.
        current = await access.client.get(DEPLOYMENTS, name, namespace)
        if current["metadata"].get("generation") == generation:
            raise
        raise HTTPException(
            409, f"Deployment {name} changed since this page was loaded; reload it and try again"
        ) from error


async def add(request: Request) -> Response:
    from baton.ui.deployments import render_detail  # noqa: PLC0415 - the page module

    form = await ui_of(request).checked_form(request)
    done, problem = await _patch_schedules(request, "add", form)
    if done is not None:
        return done
    return await render_detail(request, status=422, schedule_form=form, schedule_problem=problem)


async def remove(request: Request) -> Response:
    from baton.ui.deployments import render_detail  # noqa: PLC0415

    form = await ui_of(request).checked_form(request)
    done, problem = await _patch_schedules(request, "remove", form)
    if done is not None:
        return done
    return await render_detail(request, status=409, schedule_problem=problem)


async def pause(request: Request) -> Response:
    """Pause or resume (``paused=true|false``), as the user, at the rendered version."""
    ui = ui_of(request)
    form = await ui.checked_form(request)
    access = await ui.access(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    await _patch_spec(access, request, form, "paused", form.get("paused") == "true")
    return RedirectResponse(f"/namespaces/{namespace}/deployments/{name}", status_code=303)
