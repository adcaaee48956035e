"""``run_deployment`` from inside a run: a FlowRun of another Deployment, linked to its parent.

No operator runs here: the test plays its part explicitly, writing the child run's state,
while ``run_deployment`` runs in a subprocess with a flow pod's environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clusterkit import Cluster
from kube_helpers import apply, deployment, flow, wait_for

pytestmark = pytest.mark.integration

CALL = """
import json
from baton.deployments import run_deployment
run = run_deployment("f/child", parameters={"budget": 5}, timeout=60, poll_interval=0.2)
print(json.dumps({"name": run.name, "state": run.state.name, "type": run.state.type.value,
                  "parent": run.parent_flow_run_name, "parameters": run.parameters}))
"""


def test_run_deployment_creates_a_linked_child_run_and_waits_for_it(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    apply(crds, namespace, flow("f"), deployment("child", "f"))
    env = {
        **os.environ,
        "KUBECONFIG": str(crds.kubeconfig),
        "BATON_FLOW_RUN_NAME": "parent-1",
        "BATON_FLOW_RUN_NAMESPACE": namespace,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", CALL], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        runs = wait_for(
            lambda: crds.get_json("flowruns", "-n", namespace)["items"],
            timeout=60,
            what="the child FlowRun",
        )
        child = runs[0]
        name = child["metadata"]["name"]
        assert child["metadata"]["labels"]["baton.dev/parent-flow-run"] == "parent-1"
        assert child["spec"]["deploymentRef"] == {"name": "child"}
        assert child["spec"]["parameters"] == {"budget": 5}
        assert proc.poll() is None  # waiting for the run to end
        done = {"status": {"state": "Completed", "message": "done"}}
        crds.kubectl(
            "patch", "flowrun", name, "-n", namespace, "--subresource=status",
            "--type=merge", "-p", json.dumps(done),
        )  # fmt: skip
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert json.loads(out) == {
        "name": name,
        "state": "Completed",
        "type": "COMPLETED",
        "parent": "parent-1",
        "parameters": {"budget": 5},
    }
