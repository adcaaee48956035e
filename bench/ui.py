"""UI page times with many runs: 10,000 FlowRuns and 1,000 Deployments in one namespace.

Fills a namespace of the local control plane (or ``$KUBECONFIG``'s cluster) with
Deployments and FlowRuns whose status looks like the operator's (states spread as in a
busy namespace, task-run counts, an artifact), starts ``baton ui`` as a subprocess, and
times each page from a client on 127.0.0.1 (so the figures are the server's time plus a
loopback round trip): the dashboard's first view alone (it lists the runs once for its
watched index), then per page warm-up requests and ``--repeat`` timed ones. It
reports p50/p95 per page and the UI process's resident memory (now and peak).

    python bench/ui.py --runs 10000 --deployments 1000 --json bench/results/ui.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

import controlplane  # noqa: E402

from baton._kube.client import DEPLOYMENTS, FLOWRUNS, FLOWS, WORKPOOLS, KubeClient  # noqa: E402
from baton._kube.config import from_kubeconfig  # noqa: E402
from baton.contract import LABEL_DEPLOYMENT, LABEL_FLOW, LABEL_POOL  # noqa: E402

NAMESPACE = "ui-bench"
#: How the states of a busy namespace spread (out of 100).
STATES = [("Completed", 70), ("Failed", 8), ("Crashed", 4), ("Late", 4), ("Running", 8)]
STATES += [("Scheduled", 6)]


def kubectl(kubeconfig: Path, *args: str) -> None:
    binary = str(ROOT / ".cluster" / "bin" / "kubectl")
    subprocess.run([binary, f"--kubeconfig={kubeconfig}", *args], check=True, capture_output=True)


def state_of(i: int) -> str:
    slot = i % 100
    for state, share in STATES:
        if slot < share:
            return state
        slot -= share
    return "Completed"


def fill(client: KubeClient, runs: int, deployments: int) -> float:
    """Create the objects (8 in flight); the seconds it took."""
    start = time.monotonic()
    now = datetime.now(UTC)
    client.create(
        FLOWS,
        {
            "apiVersion": "baton.dev/v1alpha1",
            "kind": "Flow",
            "metadata": {"name": "etl"},
            "spec": {
                "image": "local",
                "entrypoint": "flows/etl.py:etl",
                "parameterSchema": {
                    "type": "object",
                    "properties": {"days": {"type": "integer", "default": 3, "position": 0}},
                },
            },
        },
        NAMESPACE,
    )
    client.create(
        WORKPOOLS,
        {
            "apiVersion": "baton.dev/v1alpha1",
            "kind": "WorkPool",
            "metadata": {"name": "default"},
            "spec": {"type": "kubernetes"},
        },
        NAMESPACE,
    )

    def deployment(i: int) -> None:
        name = f"etl-{i:04d}"
        client.create(
            DEPLOYMENTS,
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "Deployment",
                "metadata": {"name": name},
                "spec": {
                    "flowRef": {"name": "etl"},
                    "workPoolRef": {"name": "default"},
                    "schedules": [{"cron": f"{i % 60} * * * *"}],
                },
            },
            NAMESPACE,
        )
        fires = [(now + timedelta(minutes=i % 60 + 60 * k)).isoformat() for k in range(3)]
        client.patch_status(
            DEPLOYMENTS,
            name,
            NAMESPACE,
            {
                "status": {
                    "scheduleSummary": f"cron {i % 60} * * * * (UTC)",
                    "nextRunTime": fires[0],
                    "nextFireTimes": fires,
                }
            },
        )

    def run(i: int) -> None:
        dep = f"etl-{i % deployments:04d}"
        name = f"{dep}-run-{i:05d}"
        scheduled = (now - timedelta(minutes=i % 1440)).isoformat()
        client.create(
            FLOWRUNS,
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "FlowRun",
                "metadata": {
                    "name": name,
                    # The operator's labels on its runs: the list filters select by them.
                    "labels": {LABEL_DEPLOYMENT: dep, LABEL_FLOW: "etl", LABEL_POOL: "default"},
                },
                "spec": {"deploymentRef": {"name": dep}, "scheduledTime": scheduled},
            },
            NAMESPACE,
        )
        state = state_of(i)
        client.patch_status(
            FLOWRUNS,
            name,
            NAMESPACE,
            {
                "status": {
                    "state": state,
                    "message": f"bench run in {state}",
                    "stateTime": scheduled,
                    "history": [{"state": "Pending", "timestamp": scheduled}],
                    "taskRuns": {"total": 3, "counts": {"Completed": 3}},
                    "artifacts": [{"key": "report", "type": "markdown", "data": "# Report"}],
                }
            },
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(deployment, range(deployments)))
        list(pool.map(run, range(runs)))
    return time.monotonic() - start


def rss_kib(pid: int) -> dict[str, int]:
    text = Path(f"/proc/{pid}/status").read_text()
    return {k: int(v) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}


def measure(url: str, repeat: int) -> dict[str, float]:
    with httpx.Client(timeout=60) as http:
        for _ in range(3):
            http.get(url).raise_for_status()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            http.get(url).raise_for_status()
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "max_ms": round(times[-1], 1),
    }


def wait_for_ui(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/static/baton.css", timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--deployments", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="baton-bench-ui-"))
    ui = None
    with controlplane.cluster_kubeconfig(work / "cluster") as kubeconfig:
        try:
            kubectl(kubeconfig, "apply", "--server-side", "-f", str(ROOT / "crds"))
            kubectl(kubeconfig, "wait", "--for=condition=Established", "-f", str(ROOT / "crds"))
            kubectl(kubeconfig, "create", "namespace", NAMESPACE)
            client = KubeClient(from_kubeconfig(kubeconfig), timeout=120)
            fill_seconds = fill(client, args.runs, args.deployments)
            print(
                f"created {args.runs} runs, {args.deployments} deployments in {fill_seconds:.0f}s"
            )
            port = controlplane.free_port()
            argv = [sys.executable, "-m", "baton.cli", "--kubeconfig", str(kubeconfig), "ui"]
            argv += ["-n", NAMESPACE, "--port", str(port)]
            ui = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
            base = f"http://127.0.0.1:{port}/namespaces/{NAMESPACE}"
            wait_for_ui(port)
            pages = {
                "dashboard": f"{base}/",
                "runs list": f"{base}/runs",
                "runs list, state=Failed": f"{base}/runs?state=Failed",
                "runs list, one deployment": f"{base}/runs?deployment=etl-0007",
                "deployments list": f"{base}/deployments",
                "deployment (form + runs)": f"{base}/deployments/etl-0007",
                "runs list, one flow": f"{base}/runs?flow=etl",
                "runs list, one pool": f"{base}/runs?pool=default",
                "run page": f"{base}/runs/etl-0007-run-00007",
                "flows list": f"{base}/flows",
                "flow page": f"{base}/flows/etl",
                "pools list": f"{base}/pools",
                "pool page (workers + runs)": f"{base}/pools/default",
            }
            # The first dashboard view lists the namespace's runs once for its watched index.
            t0 = time.perf_counter()
            httpx.get(pages["dashboard"], timeout=120).raise_for_status()
            first_dashboard_ms = round((time.perf_counter() - t0) * 1000, 1)
            results = {name: measure(url, args.repeat) for name, url in pages.items()}
            memory = rss_kib(ui.pid)
        finally:
            if ui is not None:
                ui.terminate()
                ui.wait()
    document: dict[str, Any] = {
        "benchmark": "ui",
        "date": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "runs": args.runs,
        "deployments": args.deployments,
        "repeat": args.repeat,
        "fill_seconds": round(fill_seconds, 1),
        "first_dashboard_ms": first_dashboard_ms,
        "pages": results,
        "ui_rss_mib": round(memory.get("VmRSS", 0) / 1024, 1),
        "ui_peak_rss_mib": round(memory.get("VmHWM", 0) / 1024, 1),
    }
    print(f"{'page':28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, figures in results.items():
        print(
            f"{name:28} {figures['p50_ms']:8.1f} {figures['p95_ms']:8.1f} {figures['max_ms']:8.1f}"
        )
    print(f"first dashboard view (lists the runs for its index): {first_dashboard_ms:.0f} ms")
    print(f"UI RSS {document['ui_rss_mib']} MiB (peak {document['ui_peak_rss_mib']} MiB)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
