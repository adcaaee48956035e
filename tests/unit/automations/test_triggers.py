"""Which events a trigger sees (pure, fixed clock), the durable record's pruning, the
sandboxed templates, and the expansion of Deployment.spec.notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton.automations import shorthand, templates
from baton.automations.controller import prune
from baton.automations.triggers import due_events, stamp
from baton.resources import Deployment
from baton.resources.automation import DELIVERED_LIMIT, TEMPLATE_OUTPUT_LIMIT, Automation

pytestmark = pytest.mark.unit
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def automation(trigger: dict[str, Any], **status: Any) -> Automation:
    return Automation.model_validate(
        {
            "metadata": {"name": "a", "namespace": "ns", "creationTimestamp": stamp(T0)},
            "spec": {"trigger": trigger, "actions": [{"cancelRun": {}}]},
            "status": status,
        }
    )


def run(
    name: str, state: str, at: datetime, *, deployment: str = "d", history: Any = ()
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "labels": {"team": "data"}},
        "spec": {"deploymentRef": {"name": deployment}},
        "status": {
            "state": state,
            "stateTime": stamp(at),
            "history": [{"state": s, "timestamp": stamp(t)} for s, t in history],
        },
    }


def test_run_state_sees_each_entry_once_from_history_and_current_state() -> None:
    a = automation({"runState": {"states": ["Late", "Failed"]}})
    runs = [
        run(
            "r1",
            "Failed",
            T0 + timedelta(seconds=30),
            history=[("Scheduled", T0), ("Late", T0 + timedelta(seconds=15))],
        ),
        run("old", "Failed", T0 - timedelta(seconds=1)),  # before the Automation existed
        run("ok", "Completed", T0 + timedelta(seconds=5)),
    ]
    keys = [e.key for e in due_events(a, runs, {}, T0 + timedelta(minutes=1)).events]
    assert keys == [
        "FlowRun/r1/Late@2026-03-01T12:00:15Z",
        "FlowRun/r1/Failed@2026-03-01T12:00:30Z",
    ]


def test_selectors_on_deployment_flow_and_labels() -> None:
    deployments = {"d": {"spec": {"flowRef": {"name": "etl"}}}, "e": {"spec": {}}}
    runs = [
        run("r1", "Failed", T0, deployment="d"),
        run("r2", "Failed", T0, deployment="e"),
    ]
    for selector, expected in (
        ({"deployments": ["d"]}, ["r1"]),
        ({"flows": ["etl"]}, ["r1"]),
        ({"matchLabels": {"team": "data"}}, ["r1", "r2"]),
        ({"matchLabels": {"team": "web"}}, []),
    ):
        a = automation({"runState": {"states": ["Failed"], **selector}})
        got = [e.subject for e in due_events(a, runs, deployments, T0).events]
        assert got == expected, selector


def test_horizon_excludes_older_events() -> None:
    a = automation({"runState": {"states": ["Failed"]}}, horizon=stamp(T0 + timedelta(seconds=10)))
    runs = [
        run("a", "Failed", T0 + timedelta(seconds=10)),
        run("b", "Failed", T0 + timedelta(seconds=11)),
    ]
    assert [e.subject for e in due_events(a, runs, {}, T0 + timedelta(minutes=1)).events] == ["b"]


def test_run_duration_fires_after_the_limit_and_wakes_up_for_it() -> None:
    a = automation({"runDuration": {"state": "Running", "afterSeconds": 60}})
    runs = [run("r", "Running", T0 + timedelta(seconds=10))]
    early = due_events(a, runs, {}, T0 + timedelta(seconds=30))
    assert early.events == [] and early.wake_at == T0 + timedelta(seconds=70)
    late = due_events(a, runs, {}, T0 + timedelta(seconds=70))
    assert [e.key for e in late.events] == ["FlowRun/r/RunningTooLong@2026-03-01T12:01:10Z"]
    # A run that left the state before the limit fires nothing.
    done = [run("r", "Completed", T0 + timedelta(seconds=20))]
    assert due_events(a, done, {}, T0 + timedelta(minutes=5)).events == []


def test_absence_fires_once_per_window() -> None:
    a = automation({"absence": {"deployment": "d", "withinSeconds": 60}})
    completed = [run("c", "Completed", T0 + timedelta(seconds=30))]
    quiet = due_events(a, completed, {}, T0 + timedelta(seconds=60))
    assert quiet.events == [] and quiet.wake_at == T0 + timedelta(seconds=90)
    fired = due_events(a, completed, {}, T0 + timedelta(minutes=10))
    assert [e.key for e in fired.events] == ["Deployment/d/Absent@2026-03-01T12:01:30Z"]
    # The same window gives the same key, however late it is looked at.
    again = due_events(a, completed, {}, T0 + timedelta(hours=5))
    assert [e.key for e in again.events] == [e.key for e in fired.events]
    # Other Deployments' completions and non-Completed runs do not open a window.
    other = [*completed, run("x", "Completed", T0 + timedelta(minutes=9), deployment="e")]
    other.append(run("f", "Failed", T0 + timedelta(minutes=9)))
    assert [e.key for e in due_events(a, other, {}, T0 + timedelta(minutes=10)).events] == [
        e.key for e in fired.events
    ]


def test_deployment_not_ready() -> None:
    a = automation({"deploymentNotReady": {}})
    at = T0 + timedelta(seconds=5)
    deployments = {
        "bad": {
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False", "lastTransitionTime": stamp(at)}
                ]
            }
        },
        "good": {
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": stamp(at)}]
            }
        },
    }
    assert [e.key for e in due_events(a, [], deployments, T0 + timedelta(minutes=1)).events] == [
        "Deployment/bad/NotReady@2026-03-01T12:00:05Z"
    ]


def test_disabled_fires_nothing() -> None:
    a = automation({"runState": {"states": ["Failed"]}})
    a.spec.enabled = False
    assert due_events(a, [run("r", "Failed", T0)], {}, T0).events == []


def keys(n: int, start: datetime = T0) -> list[str]:
    return [f"FlowRun/r{i}/Failed@{stamp(start + timedelta(seconds=i))}#0" for i in range(n)]


def test_prune_moves_the_horizon_past_dropped_keys_only() -> None:
    delivered = keys(DELIVERED_LIMIT + 10)
    kept, horizon = prune(delivered, None, None)
    assert len(kept) == DELIVERED_LIMIT
    assert horizon == T0 + timedelta(seconds=9)
    assert kept[0].startswith("FlowRun/r10/")


def test_prune_never_passes_an_open_event() -> None:
    delivered = keys(DELIVERED_LIMIT + 10)
    kept, horizon = prune(delivered, None, T0 + timedelta(seconds=3))
    assert horizon is None and set(kept) == set(delivered)  # grows until the event settles
    many = keys(3 * DELIVERED_LIMIT)
    kept, horizon = prune(many, None, T0)
    assert len(kept) == 2 * DELIVERED_LIMIT and horizon is None  # the hard bound


def test_templates_are_sandboxed_and_bounded() -> None:
    assert (
        templates.render(
            "{{ run.name }} {{ event.what }}", {"run": {"name": "r"}, "event": {"what": "Failed"}}
        )
        == "r Failed"
    )
    hostile = {
        "{{ run.__class__ }}": "unsafe",
        "{{ missing.attr }}": "undefined",
        "{% for a in range(9) %}{% for b in range(9) %}{% endfor %}{% endfor %}": "nested",
        "{{ 'x' * 1000000 }}": "repetition",
        "{{ 2 ** 100000 }}": "exponent",
        "{% for i in range(100000) %}aaaaaaaaaa{% endfor %}": str(TEMPLATE_OUTPUT_LIMIT),
        "{% if %}": "line 1",
    }
    for source, words in hostile.items():
        with pytest.raises(templates.TemplateProblem, match=words):
            templates.render(source, {"run": {}, "missing": {}})


def test_notifications_expand_to_owned_automations() -> None:
    deployment = Deployment.model_validate(
        {
            "metadata": {"name": "etl", "namespace": "ns", "uid": "u-1"},
            "spec": {
                "flowRef": {"name": "f"},
                "notifications": [
                    {"slack": {"secretRef": {"name": "slack"}}},
                    {"states": ["Late"], "webhook": {"url": "http://127.0.0.1:1/x"}},
                ],
            },
        }
    )
    expanded = shorthand.expand(deployment)
    assert list(expanded) == ["etl-notify-0", "etl-notify-1"]
    first = Automation.model_validate(expanded["etl-notify-0"])
    assert first.spec.trigger.run_state is not None
    assert first.spec.trigger.run_state.deployments == ["etl"]
    assert [s.value for s in first.spec.trigger.run_state.states] == [
        "Failed",
        "Crashed",
        "TimedOut",
    ]
    assert first.spec.actions[0].slack is not None
    assert shorthand.owned_by(expanded["etl-notify-1"], "u-1")
