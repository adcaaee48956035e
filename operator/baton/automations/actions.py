"""Carry out one action for one event: notify, run a Deployment, pause, resume, cancel.

Each action is idempotent or as close as its receiver allows, because delivery is at
least once: the FlowRun an event creates is named after the event (``AlreadyExists`` is
success), pausing a paused Deployment or cancelling a cancelled run changes nothing,
and only a notification can arrive twice (docs/automations.md gives the rule).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from baton._kube.client import (
    DEPLOYMENTS,
    FLOWRUNS,
    AlreadyExists,
    ApiError,
    Kind,
    NotFound,
)
from baton.automations import senders, templates
from baton.automations.senders import Permanent, Retryable
from baton.automations.triggers import Event
from baton.contract import ANNOTATION_AUTOMATION_EVENT, API_VERSION, LABEL_AUTOMATION
from baton.contract import format_time as stamp
from baton.resources.automation import Action, Automation, SecretKeyRef
from baton.resources.flowrun import TERMINAL_STATES

SECRETS = Kind("", "v1", "secrets")
#: The label on FlowRuns an Automation created.
AUTOMATION_LABEL = LABEL_AUTOMATION

DEFAULT_SUMMARY = (
    "{{ event.kind }} {{ event.subject }} in {{ namespace }}: {{ event.what }}"
    "{% if run %} ({{ run.reason }}: {{ run.message }}){% endif %}"
)


@dataclass
class Context:
    """What an action needs besides the event: the API client and an HTTP client."""

    kube: Any  # AsyncKubeClient
    http: httpx.AsyncClient


def template_context(automation: Automation, event: Event) -> dict[str, Any]:
    """The names a template may use (documented in docs/automations.md)."""
    run: dict[str, Any] | None = None
    if event.run is not None:
        status = event.run.get("status") or {}
        error = status.get("error") or {}
        run = {
            "name": event.run["metadata"]["name"],
            "namespace": event.run["metadata"]["namespace"],
            "labels": dict(event.run["metadata"].get("labels") or {}),
            "deployment": event.deployment,
            "state": status.get("state") or "",
            "reason": status.get("reason") or "",
            "message": status.get("message") or "",
            "stateTime": status.get("stateTime") or "",
            "startTime": status.get("startTime") or "",
            "endTime": status.get("endTime") or "",
            "duration": status.get("duration") or "",
            "attempts": status.get("attempts") or 0,
            "parameters": dict((event.run.get("spec") or {}).get("parameters") or {}),
            "error": {
                "type": error.get("type", ""),
                "message": error.get("message", ""),
                "traceback": error.get("traceback", ""),
            },
        }
    return {
        "automation": automation.name,
        "namespace": automation.namespace,
        "event": {
            "key": event.key,
            "what": event.what,
            "kind": event.kind,
            "subject": event.subject,
            "deployment": event.deployment or "",
            "time": stamp(event.time),
        },
        "run": run,
    }


def check_templates(action: Action) -> str | None:
    """A compile problem in any of the action's templates, or None."""
    sources = []
    if action.slack and action.slack.text:
        sources.append(action.slack.text)
    if action.webhook and action.webhook.body:
        sources.append(action.webhook.body)
    if action.email:
        sources += [s for s in (action.email.subject, action.email.body) if s]
    for source in sources:
        try:
            templates.compile_template(source)
        except templates.TemplateProblem as problem:
            return str(problem)
    return None


#: How long a Secret's value is reused: a burst of notifications costs one read, and a
#: rotated webhook URL or password is picked up within this time.
SECRET_TTL = 10.0
_secrets: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}


async def read_secret(kube: Any, namespace: str, ref: SecretKeyRef) -> str:
    cached = _secrets.get((namespace, ref.name))
    if cached is not None and time.monotonic() - cached[0] < SECRET_TTL:
        secret = cached[1]
    else:
        secret = await _fetch_secret(kube, namespace, ref)
        _secrets[(namespace, ref.name)] = (time.monotonic(), secret)
        if len(_secrets) > 1000:  # bounded: drop the oldest reads
            for old in sorted(_secrets, key=lambda k: _secrets[k][0])[:500]:
                del _secrets[old]
    data = (secret.get("data") or {}).get(ref.key)
    if data is None:
        raise Retryable(f"Secret {ref.name!r} has no key {ref.key!r}")
    return base64.b64decode(data).decode().strip()


async def _fetch_secret(kube: Any, namespace: str, ref: SecretKeyRef) -> dict[str, Any]:
    try:
        secret: dict[str, Any] = await kube.get(SECRETS, ref.name, namespace)
    except NotFound as error:
        raise Retryable(f"Secret {ref.name!r} not found") from error
    except ApiError as error:
        raise Retryable(f"Secret {ref.name!r}: {error.status} {error.reason}") from error
    return secret


def _render(source: str, context: dict[str, Any]) -> str:
    try:
        return templates.render(source, context)
    except templates.TemplateProblem as problem:
        raise TemplateFailed(str(problem)) from problem


class TemplateFailed(Permanent):
    """A template failed to render: the Automation is not Ready until it is fixed."""


def run_name(automation: Automation, event: Event, deployment: str) -> str:
    """The FlowRun an event creates: one name per (automation, event), so created once."""
    digest = hashlib.sha256(
        f"{automation.metadata.get('uid', '')}/{event.key}".encode()
    ).hexdigest()[:10]
    return f"{deployment[:200]}-auto-{digest}"


async def perform(ctx: Context, automation: Automation, action: Action, event: Event) -> str:
    """Do ``action`` for ``event``; a one-line outcome, or raise ``DeliveryError``."""
    namespace = automation.namespace
    values = template_context(automation, event)
    if action.slack is not None:
        url = await read_secret(ctx.kube, namespace, action.slack.secret_ref)
        text = _render(action.slack.text or DEFAULT_SUMMARY, values)
        return await senders.post(ctx.http, url, json.dumps({"text": text}), "application/json")
    if action.webhook is not None:
        hook = action.webhook
        url = hook.url or await read_secret(ctx.kube, namespace, hook.secret_ref)  # type: ignore[arg-type]
        body = (
            _render(hook.body, values)
            if hook.body
            else json.dumps({k: v for k, v in values.items()}, default=str)
        )
        return await senders.post(ctx.http, url, body, hook.content_type)
    if action.email is not None:
        mail = action.email
        password = (
            await read_secret(ctx.kube, namespace, mail.password_secret_ref)
            if mail.password_secret_ref
            else None
        )
        return await senders.send_mail(
            mail.host,
            mail.port,
            starttls=mail.starttls,
            username=mail.username,
            password=password,
            sender=mail.sender,
            to=list(mail.to),
            subject=_render(mail.subject or DEFAULT_SUMMARY, values),
            body=_render(mail.body or DEFAULT_SUMMARY + "\n", values),
        )
    if action.run_deployment is not None:
        target = action.run_deployment
        name = run_name(automation, event, target.name)
        manifest = {
            "apiVersion": API_VERSION,
            "kind": "FlowRun",
            "metadata": {
                "name": name,
                "labels": {AUTOMATION_LABEL: automation.name[:63]},
                "annotations": {ANNOTATION_AUTOMATION_EVENT: event.key[:1000]},
            },
            "spec": {"deploymentRef": {"name": target.name}, "parameters": target.parameters},
        }
        try:
            await ctx.kube.create(FLOWRUNS, manifest, namespace)
        except AlreadyExists:
            return f"FlowRun {name} exists already"
        except ApiError as error:
            raise _api_failure(error) from error
        return f"FlowRun {name} created"
    if action.pause_deployment is not None or action.resume_deployment is not None:
        paused = action.pause_deployment is not None
        target_ref = action.pause_deployment or action.resume_deployment
        assert target_ref is not None
        name_or_none = target_ref.name or event.deployment
        if not name_or_none:
            raise Permanent("the event names no Deployment; set the action's name")
        try:
            await ctx.kube.patch(DEPLOYMENTS, name_or_none, namespace, {"spec": {"paused": paused}})
        except ApiError as error:
            raise _api_failure(error) from error
        return f"Deployment {name_or_none} {'paused' if paused else 'resumed'}"
    if action.cancel_run is not None:
        if event.kind != "FlowRun":
            raise Permanent(f"cancelRun needs a run; this event is about a {event.kind}")
        state = ((event.run or {}).get("status") or {}).get("state")
        if state in TERMINAL_STATES:
            return f"FlowRun {event.subject} already ended ({state})"
        try:
            await ctx.kube.patch(
                FLOWRUNS, event.subject, namespace, {"spec": {"cancelRequested": True}}
            )
        except NotFound:
            return f"FlowRun {event.subject} is gone"
        except ApiError as error:
            raise _api_failure(error) from error
        note = f": {action.cancel_run.note}" if action.cancel_run.note else ""
        return f"cancel of FlowRun {event.subject} requested{note}"
    raise Permanent("the action sets nothing to do")


def _api_failure(error: ApiError) -> Exception:
    message = f"{error.status} {error.reason}: {error.message}"[:300]
    if error.status >= 500 or error.status in (409, 429):
        return Retryable(message)
    return Permanent(message)
