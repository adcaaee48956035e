"""Automation: *when something happens, do something* — notify, run, pause, cancel.

Named after Prefect's automations. One trigger (a run entering a state, a run staying
Running/Pending too long, no Completed run of a Deployment within a window, a Deployment
turning not Ready) and up to ten actions. Credentials never sit in the spec: webhook URLs
and SMTP passwords are read from Secrets by reference, by the automations component's
own identity (docs/security.md), never by the operator.

``Deployment.spec.notifications`` is the short form; the automations component expands
each entry into an Automation owned by the Deployment, so both go through one machinery.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from baton.resources._base import (
    AGE,
    NAME_PATTERN,
    FreeForm,
    LocalObjectReference,
    Model,
    ObservedStatus,
    PrinterColumn,
    Resource,
    ResourceKind,
    StatusModel,
    cel,
    free_form,
    schema_extra,
)
from baton.resources.flowrun import RunState

#: The most a rendered template may produce; longer output is a TemplateError.
TEMPLATE_OUTPUT_LIMIT = 64 * 1024
#: Entries kept in ``status.recent`` (the last deliveries and failures).
RECENT_LIMIT = 20
#: Dedupe keys kept in ``status.delivered``; older ones move the horizon forward.
DELIVERED_LIMIT = 256

Name = Annotated[str, Field(min_length=1, max_length=253)]
Address = Annotated[str, Field(min_length=3, max_length=320)]

_EXACTLY_ONE_TRIGGER = cel(
    "[has(self.runState), has(self.runDuration), has(self.absence), "
    "has(self.deploymentNotReady)].filter(x, x).size() == 1",
    "trigger must set exactly one of runState, runDuration, absence or deploymentNotReady",
)
_EXACTLY_ONE_ACTION = cel(
    "[has(self.slack), has(self.webhook), has(self.email), has(self.runDeployment), "
    "has(self.pauseDeployment), has(self.resumeDeployment), has(self.cancelRun)]"
    ".filter(x, x).size() == 1",
    "an action must set exactly one of slack, webhook, email, runDeployment, "
    "pauseDeployment, resumeDeployment or cancelRun",
)


class SecretKeyRef(Model):
    """One key of a Secret in the Automation's namespace."""

    name: str = Field(
        description="The Secret's name.", min_length=1, max_length=253, pattern=NAME_PATTERN
    )
    key: str = Field(
        default="url", min_length=1, max_length=253, description="The key within the Secret."
    )


class RunSelector(Model):
    """Which FlowRuns a trigger looks at; every set field must match (empty: all runs)."""

    deployments: list[Name] = Field(
        default_factory=list,
        max_length=50,
        description="Runs of these Deployments (by name).",
    )
    flows: list[Name] = Field(
        default_factory=list,
        max_length=50,
        description="Runs of these Flows (ad-hoc runs, or via their Deployment).",
    )
    match_labels: dict[str, str] = Field(
        default_factory=dict,
        max_length=20,
        description="Runs whose labels include all of these.",
    )


class RunStateTrigger(RunSelector):
    """Fires once per run entering one of ``states`` (seen in its state history)."""

    states: list[RunState] = Field(
        min_length=1,
        max_length=len(RunState),
        description="The states to notify about, e.g. [Failed, Crashed, Late].",
        json_schema_extra=schema_extra(list_type="set"),
    )


class DurationState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"


class RunDurationTrigger(RunSelector):
    """Fires once per run that stays in ``state`` longer than ``afterSeconds``."""

    state: DurationState = Field(description="Running or Pending.")
    after_seconds: int = Field(ge=1, le=30 * 86400, description="How long is too long.")


class AbsenceTrigger(Model):
    """Fires once when a Deployment has no Completed run for ``withinSeconds``.

    The window starts at the latest Completed run (or the Automation's creation); it
    fires once per window and again only after a new Completed run opens a new window.
    """

    deployment: str = Field(
        min_length=1, max_length=253, pattern=NAME_PATTERN, description="The Deployment."
    )
    within_seconds: int = Field(ge=1, le=366 * 86400, description="The window length.")


class DeploymentNotReadyTrigger(Model):
    """Fires once each time a Deployment's Ready condition turns False."""

    deployments: list[Name] = Field(
        default_factory=list,
        max_length=50,
        description="These Deployments (empty: every Deployment of the namespace).",
    )


class Trigger(Model):
    """Exactly one kind of trigger."""

    model_config = Model.model_config | {
        "json_schema_extra": schema_extra(validations=[_EXACTLY_ONE_TRIGGER])
    }

    run_state: RunStateTrigger | None = Field(default=None, description="A run enters a state.")
    run_duration: RunDurationTrigger | None = Field(
        default=None, description="A run stays Running or Pending too long."
    )
    absence: AbsenceTrigger | None = Field(
        default=None, description="No Completed run of a Deployment within a window."
    )
    deployment_not_ready: DeploymentNotReadyTrigger | None = Field(
        default=None, description="A Deployment becomes not Ready."
    )


class SlackAction(Model):
    """Post to a Slack incoming webhook (its URL is the secret)."""

    secret_ref: SecretKeyRef = Field(description="The Secret key holding the webhook URL.")
    text: str | None = Field(
        default=None,
        description="Message template (Jinja, sandboxed); unset: a one-line summary.",
        max_length=16384,
    )


class WebhookAction(Model):
    """POST a rendered body to any URL, given directly or from a Secret."""

    model_config = Model.model_config | {
        "json_schema_extra": schema_extra(
            validations=[
                cel(
                    "has(self.url) != has(self.secretRef)",
                    "webhook must set exactly one of url or secretRef",
                )
            ]
        )
    }

    url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://",
        description="The endpoint (use secretRef when the URL carries a token).",
    )
    secret_ref: SecretKeyRef | None = Field(
        default=None, description="The Secret key holding the endpoint URL."
    )
    body: str | None = Field(
        default=None,
        description="Body template (Jinja, sandboxed); unset: the event as JSON.",
        max_length=16384,
    )
    content_type: str = Field(
        default="application/json", max_length=128, description="The Content-Type header."
    )


class EmailAction(Model):
    """Send a mail over SMTP."""

    host: str = Field(min_length=1, max_length=253, description="SMTP server host.")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS.")
    username: str | None = Field(default=None, max_length=253, description="SMTP login.")
    password_secret_ref: SecretKeyRef | None = Field(
        default=None, description="The Secret key holding the SMTP password."
    )
    sender: str = Field(alias="from", min_length=3, max_length=320, description="The From address.")
    to: list[Address] = Field(
        min_length=1,
        max_length=50,
        description="Recipients.",
    )
    subject: str | None = Field(
        default=None, description="Subject template; unset: a summary.", max_length=16384
    )
    body: str | None = Field(
        default=None, description="Body template; unset: a summary.", max_length=16384
    )


class RunDeploymentAction(Model):
    """Create a FlowRun of a Deployment (named after the event: created once)."""

    name: str = Field(
        min_length=1, max_length=253, pattern=NAME_PATTERN, description="The Deployment."
    )
    parameters: FreeForm = free_form("Parameters of the new run.", default_factory=dict)


class DeploymentTarget(Model):
    """A Deployment to pause or resume (unset name: the one the event is about)."""

    name: str | None = Field(
        default=None, max_length=253, pattern=NAME_PATTERN, description="The Deployment."
    )


class CancelRunAction(Model):
    """Request the cancellation of the run the event is about (as `baton cancel` does)."""

    note: str | None = Field(
        default=None, max_length=300, description="Why, recorded with the outcome and Event."
    )


class Action(Model):
    """Exactly one action."""

    model_config = Model.model_config | {
        "json_schema_extra": schema_extra(validations=[_EXACTLY_ONE_ACTION])
    }

    slack: SlackAction | None = Field(default=None, description="Slack incoming webhook.")
    webhook: WebhookAction | None = Field(default=None, description="Generic webhook.")
    email: EmailAction | None = Field(default=None, description="Email over SMTP.")
    run_deployment: RunDeploymentAction | None = Field(
        default=None, description="Create a FlowRun of a Deployment."
    )
    pause_deployment: DeploymentTarget | None = Field(
        default=None, description="Set a Deployment's spec.paused."
    )
    resume_deployment: DeploymentTarget | None = Field(
        default=None, description="Clear a Deployment's spec.paused."
    )
    cancel_run: CancelRunAction | None = Field(
        default=None, description="Request cancellation of the event's run."
    )

    @property
    def kind(self) -> str:
        for name in type(self).model_fields:
            if getattr(self, name) is not None:
                return name
        return "none"


class Retry(Model):
    """Delivery retries: exponential backoff from 1 s, doubling, capped."""

    max_attempts: int = Field(default=10, ge=1, le=50, description="Attempts per action.")
    max_backoff_seconds: int = Field(
        default=60, ge=1, le=3600, description="The longest wait between two attempts."
    )


class AutomationSpec(Model):
    """When something happens (the trigger), do something (the actions)."""

    trigger: Trigger = Field(description="What fires the automation.")
    actions: list[Action] = Field(
        min_length=1,
        max_length=10,
        description="What to do, in order, once per event.",
        json_schema_extra=schema_extra(list_type="atomic"),
    )
    enabled: bool = Field(default=True, description="A disabled automation fires nothing.")
    retry: Retry = Field(default_factory=Retry, description="Delivery retries.")
    description: str | None = Field(default=None, max_length=4096, description="What it is for.")


class DeliveryOutcome(StrEnum):
    DELIVERED = "Delivered"
    FAILED = "Failed"
    RETRYING = "Retrying"


class Delivery(StatusModel):
    """One recent delivery attempt of an action: what, when, and how it went."""

    key: str = Field(description="The event: subject, what happened and when.")
    action: int = Field(default=0, description="Index of the action in spec.actions.")
    kind: str = Field(default="", description="The action's kind (slack, email...).")
    outcome: DeliveryOutcome = Field(description="Delivered, Failed or Retrying.")
    attempts: int = Field(default=1, description="Attempts made.")
    time: datetime | None = Field(default=None, description="When this outcome was reached.")
    latency_seconds: float | None = Field(
        default=None, description="From the event to its delivery."
    )
    message: str = Field(default="", description="The receiver's answer or the error.")


class AutomationStatus(ObservedStatus):
    """What the automations component has delivered, what failed, and its conditions."""

    delivered: list[str] = Field(
        default_factory=list,
        description="Dedupe keys (event#action) already handled, newest last (bounded).",
    )
    horizon: datetime | None = Field(
        default=None,
        description="Events at or before this instant are never delivered again (keys "
        "older than the bounded delivered list).",
    )
    recent: list[Delivery] = Field(
        default_factory=list, description="The last deliveries and failures, newest first."
    )
    delivered_count: int = Field(default=0, description="Actions delivered since creation.")
    failed_count: int = Field(default=0, description="Actions given up on since creation.")
    last_delivery_time: datetime | None = Field(
        default=None, description="When an action last succeeded."
    )


AUTOMATION_KIND = ResourceKind(
    kind="Automation",
    plural="automations",
    short_names=("bauto",),
    spec=AutomationSpec,
    status=AutomationStatus,
    description="A trigger on FlowRun states, durations, absence of Completed runs or "
    "Deployment readiness, and the actions it takes: notify (Slack, webhook, email), run "
    "a Deployment, pause or resume one, cancel the run.",
    printer_columns=(
        PrinterColumn("Enabled", ".spec.enabled", "boolean"),
        PrinterColumn("Delivered", ".status.deliveredCount", "integer"),
        PrinterColumn("Failed", ".status.failedCount", "integer"),
        PrinterColumn("Last", ".status.lastDeliveryTime", "date"),
        PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        AGE,
    ),
)


class Automation(Resource):
    KIND = AUTOMATION_KIND
    spec: AutomationSpec
    status: AutomationStatus = Field(default_factory=AutomationStatus)


class Notification(Model):
    """Tell one channel when this Deployment's runs enter given states; expanded into an
    owned Automation (the same machinery)."""

    model_config = Model.model_config | {
        "json_schema_extra": schema_extra(
            validations=[
                cel(
                    "[has(self.slack), has(self.webhook), has(self.email)]"
                    ".filter(x, x).size() == 1",
                    "a notification must set exactly one of slack, webhook or email",
                )
            ]
        )
    }

    states: list[RunState] = Field(
        default_factory=lambda: [RunState.FAILED, RunState.CRASHED, RunState.TIMED_OUT],
        min_length=1,
        max_length=len(RunState),
        description="Run states to notify about.",
        json_schema_extra=schema_extra(list_type="set"),
    )
    slack: SlackAction | None = Field(default=None, description="Slack incoming webhook.")
    webhook: WebhookAction | None = Field(default=None, description="Generic webhook.")
    email: EmailAction | None = Field(default=None, description="Email over SMTP.")


__all__ = [
    "AUTOMATION_KIND",
    "DELIVERED_LIMIT",
    "RECENT_LIMIT",
    "TEMPLATE_OUTPUT_LIMIT",
    "AbsenceTrigger",
    "Action",
    "Automation",
    "AutomationSpec",
    "AutomationStatus",
    "CancelRunAction",
    "Delivery",
    "DeliveryOutcome",
    "DeploymentNotReadyTrigger",
    "DeploymentTarget",
    "DurationState",
    "EmailAction",
    "LocalObjectReference",
    "Notification",
    "Retry",
    "RunDeploymentAction",
    "RunDurationTrigger",
    "RunSelector",
    "RunStateTrigger",
    "SecretKeyRef",
    "SlackAction",
    "Trigger",
    "WebhookAction",
]
