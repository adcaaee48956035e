"""Which events an Automation's trigger sees, computed from the cluster's state alone.

Pure functions over plain object bodies and a clock. Every event is derived from facts
the API server keeps — a FlowRun's bounded ``status.history`` of state entries, its
``stateTime``, a Deployment's Ready condition, the Completed runs of a Deployment — so
after a restart the component finds the same events again, and the durable record in
the Automation's status (``delivered`` and ``horizon``) says which are done. That is
what makes delivery at least once without an outbox of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from baton.contract import format_time as stamp
from baton.contract import parse_time
from baton.resources.automation import (
    AbsenceTrigger,
    Automation,
    DeploymentNotReadyTrigger,
    RunDurationTrigger,
    RunSelector,
    RunStateTrigger,
)
from baton.resources.flowrun import RunState

Body = dict[str, Any]


@dataclass(frozen=True)
class Event:
    """One thing that happened, once: ``key`` is its identity for deduplication."""

    key: str
    time: datetime
    what: str  # a state name, "RunningTooLong", "Absent", "NotReady"
    kind: str  # "FlowRun" or "Deployment": what ``subject`` names
    subject: str
    deployment: str | None = None
    run: Body | None = field(default=None, compare=False, hash=False)


@dataclass
class Due:
    """The events an Automation sees now, and when to look again for the next one."""

    events: list[Event] = field(default_factory=list)
    wake_at: datetime | None = None

    def later(self, at: datetime) -> None:
        self.wake_at = at if self.wake_at is None else min(self.wake_at, at)


def deployment_of(run: Body) -> str | None:
    name = ((run.get("spec") or {}).get("deploymentRef") or {}).get("name")
    return str(name) if name else None


def flow_of(run: Body, deployments: Mapping[str, Body]) -> str | None:
    spec = run.get("spec") or {}
    if spec.get("flowRef"):
        return str(spec["flowRef"].get("name"))
    dep = deployments.get(deployment_of(run) or "")
    name = ((dep or {}).get("spec") or {}).get("flowRef", {}).get("name")
    return str(name) if name else None


def selects(selector: RunSelector, run: Body, deployments: Mapping[str, Body]) -> bool:
    if selector.deployments and deployment_of(run) not in selector.deployments:
        return False
    if selector.flows and flow_of(run, deployments) not in selector.flows:
        return False
    labels = (run.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.match_labels.items())


def state_entries(run: Body) -> list[tuple[str, datetime]]:
    """Every (state, entered at) the run's status still shows, oldest first, once each."""
    status = run.get("status") or {}
    seen: dict[tuple[str, datetime], None] = {}
    for entry in status.get("history") or []:
        when = parse_time(entry.get("timestamp"))
        if entry.get("state") and when:
            seen[(str(entry["state"]), when)] = None
    when = parse_time(status.get("stateTime"))
    if status.get("state") and when:
        seen[(str(status["state"]), when)] = None
    return sorted(seen, key=lambda e: e[1])


def _run_event(what: str, run: Body, at: datetime) -> Event:
    name = run["metadata"]["name"]
    return Event(
        key=f"FlowRun/{name}/{what}@{stamp(at)}",
        time=at,
        what=what,
        kind="FlowRun",
        subject=name,
        deployment=deployment_of(run),
        run=run,
    )


def _run_states(rule: RunStateTrigger, ctx: _Inputs, due: Due) -> None:
    wanted = {s.value for s in rule.states}
    for run in ctx.runs:
        if not selects(rule, run, ctx.deployments):
            continue
        for state, at in state_entries(run):
            if state in wanted and ctx.fresh(at):
                due.events.append(_run_event(state, run, at))


def _run_durations(rule: RunDurationTrigger, ctx: _Inputs, due: Due) -> None:
    limit = timedelta(seconds=rule.after_seconds)
    for run in ctx.runs:
        status = run.get("status") or {}
        entered = parse_time(status.get("stateTime"))
        if status.get("state") != rule.state.value or entered is None:
            continue
        if not selects(rule, run, ctx.deployments):
            continue
        fires = entered + limit
        if fires > ctx.now:
            due.later(fires)
        elif ctx.fresh(fires):
            due.events.append(_run_event(f"{rule.state.value}TooLong", run, fires))


def _absence(rule: AbsenceTrigger, ctx: _Inputs, due: Due) -> None:
    completed = [ctx.since]
    for run in ctx.runs:
        status = run.get("status") or {}
        at = parse_time(status.get("stateTime"))
        completed_here = status.get("state") == RunState.COMPLETED.value
        if completed_here and at is not None and deployment_of(run) == rule.deployment:
            completed.append(at)
    fires = max(completed) + timedelta(seconds=rule.within_seconds)
    if fires > ctx.now:
        due.later(fires)
    elif ctx.fresh(fires):
        due.events.append(
            Event(
                key=f"Deployment/{rule.deployment}/Absent@{stamp(fires)}",
                time=fires,
                what="Absent",
                kind="Deployment",
                subject=rule.deployment,
                deployment=rule.deployment,
            )
        )


def _not_ready(rule: DeploymentNotReadyTrigger, ctx: _Inputs, due: Due) -> None:
    names = set(rule.deployments)
    for name, body in ctx.deployments.items():
        if names and name not in names:
            continue
        conditions = (body.get("status") or {}).get("conditions") or []
        ready = next((c for c in conditions if c.get("type") == "Ready"), None) or {}
        at = parse_time(ready.get("lastTransitionTime"))
        if ready.get("status") == "False" and at is not None and ctx.fresh(at):
            due.events.append(
                Event(
                    key=f"Deployment/{name}/NotReady@{stamp(at)}",
                    time=at,
                    what="NotReady",
                    kind="Deployment",
                    subject=name,
                    deployment=name,
                )
            )


@dataclass(frozen=True)
class _Inputs:
    runs: list[Body]
    deployments: Mapping[str, Body]
    now: datetime
    since: datetime
    horizon: datetime | None

    def fresh(self, at: datetime) -> bool:
        """After the Automation was created and after its horizon."""
        return at >= self.since and (self.horizon is None or at > self.horizon)


def due_events(
    automation: Automation,
    runs: Iterable[Body],
    deployments: Mapping[str, Body],
    now: datetime,
) -> Due:
    """The events ``automation`` sees among ``runs``/``deployments`` of its namespace.

    Only events after the Automation was created and after its ``status.horizon``
    count; which of them were delivered already is the caller's business.
    """
    due = Due()
    if not automation.spec.enabled:
        return due
    ctx = _Inputs(list(runs), deployments, now, automation.created_at, automation.status.horizon)
    trigger = automation.spec.trigger
    if trigger.run_state is not None:
        _run_states(trigger.run_state, ctx, due)
    elif trigger.run_duration is not None:
        _run_durations(trigger.run_duration, ctx, due)
    elif trigger.absence is not None:
        _absence(trigger.absence, ctx, due)
    elif trigger.deployment_not_ready is not None:
        _not_ready(trigger.deployment_not_ready, ctx, due)
    due.events.sort(key=lambda e: (e.time, e.key))
    return due
