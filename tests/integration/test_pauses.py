"""A flow paused in its pod (``pause_flow_run``) waits on its FlowRun until resumed.

No kubelet runs here, so the test plays the kubelet's part explicitly: it starts the pod's
command (``baton execute``) as a local process with the Job's environment, against the
same API server, and resumes the run with the ``baton`` CLI and with a plain patch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_runtime import execute, make_run
from worker_helpers import baton

from clusterkit import Cluster
from kube_helpers import wait_for

pytestmark = pytest.mark.integration
FLOWS = Path(__file__).parent / "flows"


def _start(cluster: Cluster, namespace: str, name: str, uid: str, entrypoint: str, tmp: Path):
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "BATON_FLOW_RUN_NAME": name,
        "BATON_FLOW_RUN_NAMESPACE": namespace,
        "BATON_FLOW_RUN_UID": uid,
        "BATON_ENTRYPOINT": entrypoint,
        "BATON_ATTEMPT": "1",
        "BATON_CACHE_DIR": str(tmp / "unused-local-cache"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "baton.cli", "execute"],
        cwd=FLOWS,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _status(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return cluster.get_json("flowrun", name, "-n", namespace).get("status") or {}


def test_a_paused_run_waits_for_valid_input_and_resumes(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    uid = make_run(crds, namespace, "approve-1", {"amount": 7})
    proc = _start(crds, namespace, "approve-1", uid, "pauses.py:approve", tmp_path)
    try:
        paused = wait_for(
            lambda: (
                (s := _status(crds, namespace, "approve-1")).get("pause")
                and s["runtime"]["state"] == "Paused"
                and s
            ),
            timeout=90,
            what="the run to report Paused",
        )
        pause = paused["pause"]
        assert pause["key"] == "1" and pause["suspended"] is False and pause["deadline"]
        assert set(pause["inputSchema"]["properties"]) == {"approved", "note"}
        ns = ("-n", namespace)
        # The CLI checks the input against the recorded schema and writes nothing.
        refused = baton(crds, "resume", "approve-1", "--input", "approved=maybe", *ns, check=False)
        assert refused.returncode != 0 and "Run input validation failed" in refused.stderr
        assert "resume" not in crds.get_json("flowrun", "approve-1", *ns)["spec"]
        # A patch by hand is checked by the runtime: refused in status, the run waits.
        bad = {"spec": {"resume": {"pauseKey": "1", "input": {"approved": "maybe"}}}}
        crds.kubectl("patch", "flowrun", "approve-1", *ns, "--type=merge", "-p", json.dumps(bad))
        wait_for(
            lambda: (
                "resume refused"
                in (_status(crds, namespace, "approve-1").get("pause") or {}).get("message", "")
            ),
            timeout=30,
            what="the runtime to refuse the bad input",
        )
        assert proc.poll() is None
        done = baton(
            crds, "resume", "approve-1", "--input", "approved=true", "--input", "note=ok", *ns
        )
        assert 'flowrun "approve-1" resumed' in done.stdout
        _, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "Resuming flow run execution!" in stderr
    status = _status(crds, namespace, "approve-1")
    assert status["runtime"]["state"] == "Completed"
    assert status["result"]["preview"] == "'7: approved=True note=ok'"
    assert "pause" not in status  # cleared once resumed


def test_a_pause_nobody_resumes_fails_the_run(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    uid = make_run(crds, namespace, "expires-1", {})
    done = execute(crds, namespace, "expires-1", uid, "pauses.py:expires", FLOWS, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "FlowPauseTimeout('Flow run was paused and never resumed.')" in done.stderr
    status = _status(crds, namespace, "expires-1")
    assert status["runtime"]["state"] == "Failed"
    assert status["runtime"]["message"] == "The flow was failed and never resumed."
    assert "pause" not in status
