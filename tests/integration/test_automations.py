"""Automations end to end: the real API server, the operator, ``baton automations``, and
real receivers on 127.0.0.1 (an HTTP server standing in for Slack's webhook, aiosmtpd's
SMTP server).

No kubelet runs here: the tests play the runtime (writing its Failed/Completed report,
``kube_helpers.report``) and the kubelet (an OOM-killed pod's status) as the other
integration tests do; the operator turns those into Failed, Crashed and Late, and the
automations component sees the states the operator wrote.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation_support import (
    AutomationsProcess,
    HttpReceiver,
    SmtpReceiver,
    automation,
    automation_status,
    complete,
    crash,
    fail,
    observed,
    ready,
    secret,
    started,
    wait_until,
    watching,
)
from baton._kube.client import FLOWRUNS, KubeClient
from baton._kube.config import from_kubeconfig
from clusterkit import ROOT, Cluster, OperatorProcess
from kube_helpers import apply, deployment, flow, flow_run, pool, wait_for, wait_state

pytestmark = pytest.mark.integration


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def automations(
    operator: OperatorProcess, crds: Cluster, namespace: str, tmp_path: Path
) -> Iterator[AutomationsProcess]:
    process = AutomationsProcess(crds, [namespace], tmp_path)
    process.start()
    yield process
    process.stop()
    assert "Traceback" not in process.logs(), process.logs()[-5000:]


def test_failed_crashed_and_late_runs_notify_exactly_once(
    automations: AutomationsProcess,
    crds: Cluster,
    namespace: str,
    http: HttpReceiver,
    smtp: SmtpReceiver,
) -> None:
    """Slack (through Deployment.spec.notifications), a templated webhook and email each
    get exactly the events their triggers select: nothing for Completed runs, nothing
    twice, nothing for the other Deployment."""
    secret(crds, namespace, "slack", url=f"{http.url}/slack")
    apply(
        crds,
        namespace,
        flow(),
        pool("default"),
        pool("held", paused=True),
        deployment(
            "d",
            notifications=[
                {"states": ["Failed", "Crashed"], "slack": {"secretRef": {"name": "slack"}}}
            ],
        ),
        deployment("waits", workPoolRef={"name": "held"}, lateAfterSeconds=0),
        automation(
            "late",
            {"runState": {"states": ["Late"], "deployments": ["waits"]}},
            {
                "webhook": {
                    "url": f"{http.url}/hook",
                    "body": '{"run": "{{ run.name }}", "what": "{{ event.what }}", '
                    '"reason": "{{ run.reason }}"}',
                }
            },
        ),
        automation(
            "mail",
            {"runState": {"states": ["Failed"], "deployments": ["d"]}},
            {
                "email": {
                    "host": "127.0.0.1",
                    "port": smtp.port,
                    "starttls": False,
                    "from": "baton@example.test",
                    "to": ["oncall@example.test"],
                    "subject": "{{ run.name }} {{ event.what }}",
                    "body": "{{ run.message }}",
                }
            },
        ),
    )
    # The short form became an owned Automation.
    wait_for(
        lambda: (
            "d-notify-0"
            in [
                a["metadata"]["name"]
                for a in crds.get_json("automations", "-n", namespace)["items"]
            ]
        ),
        what="the expanded Automation",
    )
    observed(crds, namespace, "d", "waits")
    apply(
        crds,
        namespace,
        flow_run("fails", "d"),
        flow_run("crashes", "d"),
        flow_run("completes", "d"),
        flow_run("idle", "waits"),
    )
    fail(crds, namespace, "fails")
    crash(crds, namespace, "crashes")
    complete(crds, namespace, "completes")
    wait_state(crds, namespace, "fails", "Failed")
    wait_state(crds, namespace, "crashes", "Crashed", timeout=30)
    wait_state(crds, namespace, "completes", "Completed")
    wait_state(crds, namespace, "idle", "Late")

    wait_until(lambda: len(http.accepted("/slack")) >= 2, 30, "two Slack messages")
    wait_until(lambda: http.accepted("/hook"), 30, "the Late webhook")
    wait_until(lambda: smtp.inbox, 30, "a mail")
    time.sleep(3)  # anything extra would arrive by now: every event is seen within 1 s

    slack = sorted(a.json()["text"] for a in http.accepted("/slack"))
    assert len(slack) == 2, slack
    assert "FlowRun crashes" in slack[0] and "Crashed" in slack[0] and "OOMKilled" in slack[0]
    assert "FlowRun fails" in slack[1] and "Failed" in slack[1] and "boom" in slack[1]
    hooks = [a.json() for a in http.accepted("/hook")]
    assert hooks == [{"run": "idle", "what": "Late", "reason": "WorkPoolPaused"}]
    assert [(m.to, m.subject, m.body.strip()) for m in smtp.inbox] == [
        (["oncall@example.test"], "fails Failed", "boom")
    ]
    status = automation_status(crds, namespace, "d-notify-0")
    assert status["deliveredCount"] == 2 and status["failedCount"] == 0
    assert ready(status)["status"] == "True"
    assert ready(status, "DeliveryFailing")["status"] == "False"
    assert {d["outcome"] for d in status["recent"]} == {"Delivered"}
    events = crds.get_json(
        "events", "-n", namespace, "--field-selector", "involvedObject.kind=Automation"
    )["items"]
    assert sum(e["reason"] == "Delivered" for e in events) == 4, [e["message"] for e in events]


def test_receiver_returning_500_gets_the_message_after_it_recovers(
    automations: AutomationsProcess, crds: Cluster, namespace: str, http: HttpReceiver
) -> None:
    """Retried with backoff until the receiver answers 200, even though the run itself
    is deleted meanwhile (``failedRunsHistoryLimit: 0``)."""
    http.fail_next = 3
    secret(crds, namespace, "slack", url=f"{http.url}/slack")
    apply(
        crds,
        namespace,
        flow(),
        pool("default"),
        deployment("d", failedRunsHistoryLimit=0),
        automation(
            "a",
            {"runState": {"states": ["Failed"]}},
            {"slack": {"secretRef": {"name": "slack", "key": "url"}, "text": "{{ run.name }}"}},
        ),
    )
    apply(crds, namespace, flow_run("r", "d"))
    fail(crds, namespace, "r")
    # While it fails, the Automation says so.
    failing = wait_for(
        lambda: (
            ready(s := automation_status(crds, namespace, "a"), "DeliveryFailing").get("status")
            == "True"
            and s
        ),
        what="DeliveryFailing=True",
    )
    assert ready(failing, "DeliveryFailing")["reason"] == "DeliveryRetrying"
    assert "HTTP 500" in ready(failing, "DeliveryFailing")["message"]
    wait_until(
        lambda: crds.kubectl("get", "flowrun", "r", "-n", namespace, check=False).returncode,
        30,
        "the history limit to delete the run",
    )
    assert http.accepted() == []  # deleted before its message got through
    wait_until(http.accepted, 30, "the message after recovery")
    time.sleep(2)
    assert [a.answered for a in http.arrivals] == [500, 500, 500, 200]
    assert [a.json()["text"] for a in http.accepted()] == ["r"]
    # Backoff: 1 s, 2 s, 4 s between the attempts (plus the time a try takes).
    gaps = [b.time - a.time for a, b in zip(http.arrivals, http.arrivals[1:], strict=False)]
    assert all(w <= g < w + 1.5 for g, w in zip(gaps, [1, 2, 4], strict=True)), gaps
    status = wait_for(
        lambda: (
            ready(s := automation_status(crds, namespace, "a"), "DeliveryFailing").get("status")
            == "False"
            and s
        ),
        what="DeliveryFailing=False",
    )
    assert status["recent"][0]["outcome"] == "Delivered" and status["recent"][0]["attempts"] == 4
    reasons = [
        e["reason"]
        for e in crds.get_json(
            "events", "-n", namespace, "--field-selector", "involvedObject.kind=Automation"
        )["items"]
    ]
    assert sorted(reasons) == ["Delivered", "DeliveryRetrying"], reasons


def test_template_errors_are_conditions_not_crashes(
    automations: AutomationsProcess, crds: Cluster, namespace: str, http: HttpReceiver
) -> None:
    apply(
        crds,
        namespace,
        flow(),
        pool("default"),
        deployment("d"),
        automation(
            "syntax",
            {"runState": {"states": ["Failed"]}},
            {"webhook": {"url": f"{http.url}/x", "body": "{% if %}"}},
        ),
        automation(
            "render",
            {"runState": {"states": ["Failed"]}},
            {"webhook": {"url": f"{http.url}/y", "body": "{{ run.nope.deeper }}"}},
        ),
    )
    # A template that does not compile: Ready=False before any event.
    syntax = wait_for(
        lambda: (
            ready(automation_status(crds, namespace, "syntax")).get("reason") == "TemplateError"
            and automation_status(crds, namespace, "syntax")
        ),
        what="syntax: TemplateError",
    )
    assert ready(syntax)["status"] == "False" and "line 1" in ready(syntax)["message"]
    # One that fails only when rendered with a real event.
    apply(crds, namespace, flow_run("r", "d"))
    fail(crds, namespace, "r")
    render = wait_for(
        lambda: (
            ready(automation_status(crds, namespace, "render")).get("reason") == "TemplateError"
            and automation_status(crds, namespace, "render")
        ),
        what="render: TemplateError",
    )
    assert ready(render)["status"] == "False" and "nope" in ready(render)["message"]
    assert render["recent"][0]["outcome"] == "Failed"
    assert http.arrivals == []
    assert automations.alive()
    # Fixing the template (a new generation) makes it Ready again.
    crds.kubectl(
        "patch",
        "automation",
        "render",
        "-n",
        namespace,
        "--type=json",
        "-p",
        json.dumps(
            [{"op": "replace", "path": "/spec/actions/0/webhook/body", "value": "{{ run.name }}"}]
        ),
    )
    wait_for(
        lambda: ready(automation_status(crds, namespace, "render")).get("status") == "True",
        what="render: Ready again",
    )


def test_absence_fires_once_when_a_deployment_stops_completing(
    automations: AutomationsProcess, crds: Cluster, namespace: str, http: HttpReceiver
) -> None:
    apply(crds, namespace, flow(), pool("default"), deployment("nightly"))
    apply(crds, namespace, flow_run("ok", "nightly"))
    complete(crds, namespace, "ok")
    wait_state(crds, namespace, "ok", "Completed")
    apply(
        crds,
        namespace,
        automation(
            "quiet",
            {"absence": {"deployment": "nightly", "withinSeconds": 4}},
            {"webhook": {"url": f"{http.url}/absent", "body": "{{ event.key }}"}},
        ),
    )
    first = wait_until(lambda: http.accepted("/absent"), 20, "the absence notification")
    time.sleep(7)  # past a second window length: it must not fire again
    assert len(http.accepted("/absent")) == 1, [a.body for a in http.arrivals]
    assert first[0].body.startswith("Deployment/nightly/Absent@")
    # A new Completed run opens a new window, which fires once more.
    apply(crds, namespace, flow_run("ok2", "nightly"))
    complete(crds, namespace, "ok2")
    wait_until(lambda: len(http.accepted("/absent")) == 2, 20, "the second window")
    time.sleep(2)
    assert len(http.accepted("/absent")) == 2


def test_actions_run_a_deployment_pause_and_cancel(
    automations: AutomationsProcess, crds: Cluster, namespace: str
) -> None:
    """runDeployment creates one FlowRun per event; pauseDeployment sets spec.paused; a
    run Pending too long is cancelled through spec.cancelRequested."""
    apply(
        crds,
        namespace,
        flow(),
        pool("default"),
        deployment("d"),
        deployment("d2"),
        deployment("cleanup"),
        automation(
            "on-fail",
            {"runState": {"states": ["Failed"], "deployments": ["d"]}},
            {"runDeployment": {"name": "cleanup", "parameters": {"why": "failed"}}},
            {"pauseDeployment": {}},
        ),
        automation(
            "stuck",
            {"runDuration": {"state": "Pending", "afterSeconds": 2, "deployments": ["d2"]}},
            {"cancelRun": {}},
        ),
    )
    apply(crds, namespace, flow_run("r", "d"))
    fail(crds, namespace, "r")
    created = wait_for(
        lambda: [
            r
            for r in crds.get_json("flowruns", "-n", namespace)["items"]
            if r["spec"].get("deploymentRef", {}).get("name") == "cleanup"
        ],
        what="the cleanup run",
    )
    assert len(created) == 1 and created[0]["spec"]["parameters"] == {"why": "failed"}
    wait_for(
        lambda: crds.get_json("deployments.baton.dev", "d", "-n", namespace)["spec"]["paused"],
        what="d paused",
    )
    # Stuck: a run that stays Pending past 2 s gets its cancel requested.
    apply(crds, namespace, flow_run("stuck-run", "d2"))
    started(crds, namespace, "stuck-run")
    wait_state(crds, namespace, "stuck-run", "Cancelling", "Cancelled", timeout=30)
    time.sleep(1)
    assert len([r for r in crds.get_json("flowruns", "-n", namespace)["items"]]) == 3


def test_notification_latency(
    automations: AutomationsProcess, crds: Cluster, namespace: str, http: HttpReceiver
) -> None:
    """From the runtime's Failed report to the Slack message's arrival, over 50 runs.

    The figure covers the operator folding the report into Failed, the watch to the
    automations component, the Secret read and the POST. docs/automations.md quotes it.
    """
    count = 50
    secret(crds, namespace, "slack", url=f"{http.url}/slack")
    apply(
        crds,
        namespace,
        flow(),
        pool("default"),
        deployment("d", notifications=[{"slack": {"secretRef": {"name": "slack"}}}]),
    )
    apply(crds, namespace, *(flow_run(f"r{i}", "d") for i in range(count)))
    for i in range(count):
        started(crds, namespace, f"r{i}")
    watching(crds, namespace, "d-notify-0")
    client = KubeClient(from_kubeconfig(crds.kubeconfig))
    reported: dict[str, float] = {}
    try:
        for i in range(count):
            name = f"r{i}"
            runtime = {"state": "Failed", "message": "boom", "attempt": 1}
            reported[name] = time.time()
            client.patch_status(FLOWRUNS, name, namespace, {"status": {"runtime": runtime}})
            time.sleep(0.1)
    finally:
        client.close()
    try:
        wait_until(lambda: len(http.accepted()) >= count, 120, f"{count} messages")
    except AssertionError as error:
        status = automation_status(crds, namespace, "d-notify-0")
        raise AssertionError(
            f"{error}: {len(http.accepted())} arrived; status {status}; "
            f"log {automations.logs()[-2000:]}"
        ) from None
    time.sleep(1)
    arrivals = {a.json()["text"].split()[1]: a.time for a in http.accepted()}
    assert len(http.accepted()) == count and set(arrivals) == set(reported)
    latencies = sorted(arrivals[n] - reported[n] for n in reported)
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * len(latencies)) - 1)]
    load = os.getloadavg()[0]
    print(
        f"notification latency over {count} runs: p50 {p50:.3f}s p99 {p99:.3f}s "
        f"(load average {load:.1f} on {os.cpu_count()} cores)"
    )
    print("in order:", " ".join(f"{arrivals[n] - reported[n]:.2f}" for n in reported))
    # A bound for a loaded 2-core machine; docs/automations.md gives the measured figures.
    assert p99 < 10.0, latencies


def test_the_examples_on_this_page_apply(crds: Cluster, namespace: str) -> None:
    """Every YAML block of docs/automations.md is accepted by the API server (CEL and
    schema included), as users would ``kubectl apply`` it."""
    page = (ROOT / "docs" / "automations.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", page, flags=re.S)
    assert len(blocks) >= 2
    kinds = []
    for block in blocks:
        result = crds.kubectl(
            "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=block, check=False
        )
        assert result.returncode == 0, (block, result.stderr)
        kinds += re.findall(r"^kind: (\w+)", block, flags=re.M)
    assert {"Automation", "Deployment", "Secret"} <= set(kinds)


def test_admission_refuses_what_cannot_work(crds: Cluster, namespace: str) -> None:
    """CEL and the schema refuse an Automation with no trigger or two, an action with
    two kinds, and a webhook with both url and secretRef, at apply time."""
    bad = {
        "two triggers": automation(
            "x",
            {
                "runState": {"states": ["Failed"]},
                "absence": {"deployment": "d", "withinSeconds": 5},
            },
            {"cancelRun": {}},
        ),
        "two actions in one": automation(
            "x", {"runState": {"states": ["Failed"]}}, {"cancelRun": {}, "pauseDeployment": {}}
        ),
        "url and secretRef": automation(
            "x",
            {"runState": {"states": ["Failed"]}},
            {"webhook": {"url": "http://127.0.0.1:1", "secretRef": {"name": "s"}}},
        ),
        "no actions": automation("x", {"runState": {"states": ["Failed"]}}),
    }
    for what, body in bad.items():
        result = crds.kubectl(
            "apply", "-n", namespace, "-f", "-", stdin=json.dumps(body), check=False
        )
        assert result.returncode != 0 and "Invalid" in result.stderr, (what, result.stderr)
