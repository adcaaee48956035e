"""`make demo` (examples/demo.py) against the session's cluster, so the README's first
command cannot rot: it must exit 0 after showing two Completed runs."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from worker_helpers import env_for

from clusterkit import ROOT, Cluster

pytestmark = pytest.mark.integration


def test_demo_runs_two_flows_to_completion(cluster: Cluster) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=ROOT,
        env=env_for(cluster),
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    table = output[output.index("kubectl get flowruns") : output.index("baton describe")]
    completed = re.findall(r"^etl-\d+\s+etl\s+Completed\s", table, re.MULTILINE)
    assert len(completed) >= 2, table
    assert "State:      Completed (Reported)" in output
    assert "Task runs:  4 (Cached 1, Completed 3)" in output
    assert re.search(r"\[demo +[\d.]+s\] done in [\d.]+s", output)
    namespace = re.search(r"namespace (baton-demo-[0-9a-f]+) created", output)
    assert namespace is not None
    phase = cluster.kubectl(
        "get", "namespace", namespace[1], "-o", "jsonpath={.status.phase}", check=False
    )
    assert phase.returncode != 0 or phase.stdout == "Terminating"  # cleaned up
