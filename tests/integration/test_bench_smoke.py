"""The operator benchmark at smoke size, so `make bench` keeps working.

Not a timed test: the only bound checked is a count, the API writes per FlowRun
lifecycle, from the API server's own request metrics (the design promises a small
constant; a change that adds a write per run shows up here first).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from clusterkit import Cluster

ROOT = Path(__file__).resolve().parents[2]
WRITES_PER_RUN_BUDGET = 16


def test_operator_load_bench_runs_at_smoke_size(crds: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "operator.json"
    result = subprocess.run(
        [sys.executable, "bench/operator_load.py", "--smoke", "--json", str(out)],
        cwd=ROOT,
        env={**os.environ, "KUBECONFIG": str(crds.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())["results"]
    assert figures["throughput"]["runs"] == 20 and figures["throughput"]["all_jobs_s"] > 0
    assert figures["throughput"]["jobs"] == 20, figures["throughput"]
    cost = figures["api_cost"]
    assert cost["runs"] >= 3, cost
    # Exactly one Job per run, counted, not divided (39 Jobs over 20 runs is not "1").
    assert cost["requests"]["POST batch/jobs"] == cost["runs"], cost
    # ``PUT jobs`` are the Job controller's own writes (kube-controller-manager), not ours.
    ours = cost["writes_per_run"] - cost["by_request"].get("PUT batch/jobs", 0)
    assert 0 < ours <= WRITES_PER_RUN_BUDGET, cost
    restart = figures["memory_restart"]
    assert restart["finished_flow_runs"] == 50 and restart["restart_first_run_s"] > 0
