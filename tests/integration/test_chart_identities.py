"""The operator and a flow pod doing real work with only the chart's RBAC.

No kubelet runs here, so neither the operator pod the chart deploys nor a flow pod
starts. This module plays the kubelet's part explicitly: it runs each container's own
command and arguments (read back from the installed Deployment, and from the Job the
operator created) as a local process, with the container's environment and a token of
the pod's ServiceAccount, so each process has the chart's RBAC and nothing more. Then
it runs the Argo CD health checks on the objects those processes wrote.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from chart_support import (
    BATON,
    Installed,
    documents,
    find,
    install,
    service_account_kubeconfig,
    start_operator,
    wait_for,
)

from argocd_lua import health
from clusterkit import ROOT, Cluster

pytestmark = pytest.mark.integration


@dataclass
class Scenario:
    operator_log: str
    execute: subprocess.CompletedProcess[str]
    liveness: int
    readiness: tuple[int, dict[str, Any]]
    metrics: str
    objects: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def installed(crds: Cluster) -> Iterator[Installed]:
    with install(crds) as inst:
        yield inst


@pytest.fixture(scope="module")
def scenario(
    crds: Cluster, installed: Installed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    """examples/minimal.yaml (every 5 s instead of every minute), end to end.

    The operator runs as the chart's operator ServiceAccount: it must schedule a
    FlowRun, admit it into the chart's default WorkPool and create its Job. The flow
    pod's part is then played by `baton execute` with the Job's environment, in
    examples/ (laid out as /opt/baton/flow is in the examples image), as the runner
    ServiceAccount: it must report the run to Completed, which the operator adopts.
    """
    ns = installed.namespace
    workdir = tmp_path_factory.mktemp("chart-scenario")
    operator = start_operator(crds, installed, workdir)
    try:
        docs = documents((ROOT / "examples" / "minimal.yaml").read_text())
        find(docs, "Deployment")["spec"]["schedules"] = [{"interval": 5}]
        crds.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump_all(docs))

        def first_job() -> dict[str, Any] | None:
            operator.alive()
            items = crds.get_json("jobs.batch", "-n", ns, "-l", "baton.dev/deployment=hello")
            jobs = sorted(items["items"], key=lambda j: j["metadata"]["name"])
            return jobs[0] if jobs else None

        job: dict[str, Any] = wait_for(first_job, "the operator to create a Job", timeout=60)
        liveness, _ = operator.get(operator.health_port, "/healthz")
        ready_code, ready_body = operator.get(operator.ready_port, "/readyz")
        pod_spec = job["spec"]["template"]["spec"]
        assert pod_spec["serviceAccountName"] == "baton-runner"
        container = pod_spec["containers"][0]
        assert container["command"] == ["baton", "execute"]
        kubeconfig = service_account_kubeconfig(
            crds, ns, pod_spec["serviceAccountName"], workdir / "runner.kubeconfig"
        )
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(workdir),
            "KUBECONFIG": str(kubeconfig),
            **{e["name"]: e.get("value", "") for e in container["env"]},
        }
        executed = subprocess.run(
            [str(BATON), *container["command"][1:]],
            cwd=ROOT / "examples",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        run_name = env["BATON_FLOW_RUN_NAME"]

        def state() -> str | None:
            run = crds.get_json("flowruns.baton.dev", run_name, "-n", ns)
            return (run.get("status") or {}).get("state")

        if executed.returncode == 0:
            wait_for(lambda: state() == "Completed", "the operator to adopt the final state")
        _, metrics = operator.get(operator.metrics_port, "/metrics")
        active = crds.get_json("deployments.baton.dev", "hello", "-n", ns)
        # Pause it: no more runs, and Argo CD should then call it Suspended.
        crds.kubectl(
            "patch", "deployments.baton.dev", "hello", "-n", ns, "--type=merge",
            "-p", '{"spec": {"paused": true}}',
        )  # fmt: skip

        def observed() -> dict[str, Any] | None:
            body: dict[str, Any] = crds.get_json("deployments.baton.dev", "hello", "-n", ns)
            seen = (body.get("status") or {}).get("observedGeneration")
            return body if seen == body["metadata"]["generation"] else None

        paused = wait_for(observed, "the operator to observe the paused Deployment")
        objects = {
            "Flow": crds.get_json("flows.baton.dev", "hello", "-n", ns),
            "Deployment": active,
            "Deployment (paused)": paused,
            "WorkPool": crds.get_json("workpools.baton.dev", "default", "-n", ns),
            "FlowRun": crds.get_json("flowruns.baton.dev", run_name, "-n", ns),
        }
    finally:
        operator.stop()
    yield Scenario(
        operator.log.read_text(errors="replace"),
        executed,
        liveness,
        (ready_code, json.loads(ready_body)),
        metrics,
        objects,
    )


_REFUSAL = re.compile(r"\b403\b|forbidden|Not enough permissions|Traceback", re.IGNORECASE)


def refusals(log: str) -> list[str]:
    """The lines of ``log`` that show a refused API call or a crash.

    A JSON line is judged without its timestamp, whose digits
    (``…:32.037403+00:00``) once read as a 403.
    """
    found = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            text = json.dumps({k: v for k, v in record.items() if k != "timestamp"})
        else:
            text = line
        if _REFUSAL.search(text):
            found.append(line)
    return found


def test_operator_and_flow_pod_work_with_the_charts_rbac_alone(scenario: Scenario) -> None:
    assert scenario.liveness == 200
    # Ready as the chart's probe sees it, with the chart's RBAC: the CRDs applied
    # (--upgrade-crds), the start-up listing done and both watches of the namespace.
    code, body = scenario.readiness
    ns = scenario.objects["FlowRun"]["metadata"]["namespace"]
    assert (code, body["ready"]) == (200, True), body
    assert set(body["facts"]) == {
        "login", "startup", "loops", f"jobs watch in {ns}", f"pods watch in {ns}",
    }  # fmt: skip
    log = scenario.operator_log
    refused = refusals(log)
    assert not refused, f"operator log shows a refusal: {refused}\n{log[-4000:]}"
    assert "could not record event" not in log
    assert scenario.execute.returncode == 0, scenario.execute.stderr[-4000:]
    assert not refusals(scenario.execute.stderr), scenario.execute.stderr[-4000:]
    run = scenario.objects["FlowRun"]
    assert run["status"]["state"] == "Completed"
    assert run["status"]["result"]["preview"] == "'Hello, world!'"
    assert scenario.objects["Deployment"]["status"]["observedGeneration"] >= 1
    assert scenario.objects["WorkPool"]["status"]["observedGeneration"] == 1
    # The metrics port the chart configures serves the operator's metrics.
    assert f'baton_flow_runs_created_total{{namespace="{run["metadata"]["namespace"]}"}}' in (
        scenario.metrics
    )


def test_argocd_health_of_the_live_objects(scenario: Scenario) -> None:
    """The Lua health checks on objects the real operator and runtime wrote."""
    verdicts = {name: health(name.split(" ")[0], obj) for name, obj in scenario.objects.items()}
    assert {name: status for name, (status, _) in verdicts.items()} == {
        "Flow": "Healthy",
        "Deployment": "Healthy",
        "Deployment (paused)": "Suspended",
        "WorkPool": "Healthy",
        "FlowRun": "Healthy",
    }, verdicts
    assert verdicts["Deployment"][1].startswith("schedules are valid; next run "), verdicts
    assert verdicts["FlowRun"][1].startswith("Completed"), verdicts
