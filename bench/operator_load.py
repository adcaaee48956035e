"""Operator benchmarks: throughput, API cost per run, memory, and restart.

    python bench/operator_load.py [--runs 2000] [--finished 10000] [--deployments 1000]
                                  [--unrelated 10000] [--settle 20] [--json f]
    python bench/operator_load.py --smoke     # tiny sizes: keeps the script working (make test)

* throughput: N FlowRuns created at once → time until every one has a Job; runs/min and
  the operator's CPU seconds;
* API cost: requests to the API server per FlowRun lifecycle (reads and writes apart),
  from the API server's own ``apiserver_request_total`` before and after; the lifecycle
  includes the in-pod runtime's reports (``baton execute`` run as a local process);
* memory: the operator's peak RSS with F finished FlowRuns and 1,000 Deployments, then
  again after U unrelated Jobs appear in another namespace (it must not grow);
* restart: with the F finished FlowRuns present, time from operator start to the first
  new scheduled FlowRun, and the API requests it made on the way.

Each part uses its own namespace on one control plane (started here unless KUBECONFIG
is set). Results print as JSON plus a table; nothing here is a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "cluster"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import controlplane  # noqa: E402
from scheduling import (  # noqa: E402
    NAMESPACES,
    RUN_ID,
    _cpu_seconds,
    _peak_rss_mib,
    create_many,
    ensure_namespace,
    flow_and_pool,
)

from baton._kube.client import (  # noqa: E402
    DEPLOYMENTS,
    FLOWRUNS,
    JOBS,
    KubeClient,
)
from baton._kube.config import from_kubeconfig  # noqa: E402

WRITE_VERBS = {"CREATE", "UPDATE", "PATCH", "DELETE", "APPLY", "POST", "PUT"}
METRIC = re.compile(r"^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$")


def api_requests(client: KubeClient) -> Counter[tuple[str, str, str]]:
    """(verb, group, resource) → count, from the API server's own metrics."""
    text = client._http.get(
        "/metrics",
        headers={  # the raw endpoint is text, not JSON
            "Authorization": f"Bearer {client.credentials.bearer()}"
        },
    ).text
    counts: Counter[tuple[str, str, str]] = Counter()
    for line in text.splitlines():
        match = METRIC.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        counts[(labels.get("verb", ""), labels.get("group", ""), labels.get("resource", ""))] += (
            int(float(match.group(2)))
        )
    return counts


def ours(delta: Counter[tuple[str, str, str]]) -> dict[str, int]:
    """Reads and writes on what Baton touches (its kinds, Jobs, Events, ConfigMaps)."""
    reads = writes = 0
    for (verb, group, resource), count in delta.items():
        if group != "baton.dev" and resource not in ("jobs", "events", "configmaps"):
            continue
        if verb.upper() in WRITE_VERBS:
            writes += count
        elif verb.upper() != "WATCH":
            reads += count
    return {"reads": reads, "writes": writes}


class CountingClient(KubeClient):
    """The bench's own client, counting its requests as the API server's metric does,
    so the API cost of a run excludes the harness polling for it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.own: Counter[tuple[str, str, str]] = Counter()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        parts = path.strip("/").split("/")
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if rest[:1] == ["namespaces"] and len(rest) > 2:
            rest = rest[2:]
        resource = rest[0] if rest else ""
        verb = "LIST" if method == "GET" and len(rest) == 1 else method
        if "watch" not in (kwargs.get("params") or {}):
            self.own[(verb, group, resource)] += 1
        return super().request(method, path, **kwargs)


class Operator:
    def __init__(self, kubeconfig: Path, namespace: str, log: Path) -> None:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "BATON_REPORT_GRACE_SECONDS": "2"}
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "baton.cli",
                    "operator",
                    "-n",
                    namespace,
                    "--log-format",
                    "plain",
                    "--liveness",
                    f"http://127.0.0.1:{controlplane.free_port()}/healthz",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.log = log
        self.started = time.monotonic()

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"operator exited:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> dict[str, float]:
        self.check()
        figures = {
            "cpu_s": _cpu_seconds(self.proc.pid),
            "peak_rss_mib": _peak_rss_mib(self.proc.pid),
        }
        self.proc.terminate()
        self.proc.wait(timeout=30)
        return figures


def base_objects(client: KubeClient, ns: str, flow_entrypoint: str = "f.py:f") -> None:
    flow_and_pool(client, ns, flow_entrypoint)
    client.create(
        DEPLOYMENTS,
        {
            "apiVersion": "baton.dev/v1alpha1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"flowRef": {"name": "f"}, "successfulRunsHistoryLimit": 100_000},
        },
        ns,
    )


def run_manifest(name: str, deployment: str = "d") -> dict[str, Any]:
    return {
        "apiVersion": "baton.dev/v1alpha1",
        "kind": "FlowRun",
        "metadata": {"name": name},
        "spec": {"deploymentRef": {"name": deployment}},
    }


def throughput(client: KubeClient, kubeconfig: Path, n: int, work: Path) -> dict[str, Any]:
    ns = f"bench-throughput-{RUN_ID}"
    base_objects(client, ns)
    operator = Operator(kubeconfig, ns, work / "throughput.log")
    time.sleep(3)
    start = time.monotonic()
    create_many(client, FLOWRUNS, ns, [run_manifest(f"r{i:05d}") for i in range(n)])
    created = time.monotonic() - start
    while True:
        operator.check()
        count = len(client.list(JOBS, ns))
        if count >= n:
            break
        if time.monotonic() - start > 900:
            raise RuntimeError(f"only {count}/{n} Jobs after 900 s")
        time.sleep(1)
    elapsed = time.monotonic() - start
    figures = operator.stop()
    return {
        "runs": n,
        # Jobs when every run had one: more than ``runs`` is a run with two Jobs.
        "jobs": count,
        "create_all_s": round(created, 1),
        "all_jobs_s": round(elapsed, 1),
        "runs_per_min": round(n / elapsed * 60),
        "operator_cpu_s": figures["cpu_s"],
        "operator_peak_rss_mib": figures["peak_rss_mib"],
    }


def api_cost(client: KubeClient, kubeconfig: Path, runs: int, work: Path) -> dict[str, Any]:
    """Full lifecycles: Job created, runtime runs the flow for real, run Completed."""
    ns = f"bench-api-{RUN_ID}"
    base_objects(client, ns, flow_entrypoint="flows/hello.py:hello")
    operator = Operator(kubeconfig, ns, work / "api.log")
    try:
        time.sleep(3)
        # The metrics are cluster-wide: a namespace being deleted (another test's, or
        # the throughput section's) has the namespace controller DELETE every kind in
        # it, Baton's too. Count from a quiet cluster.
        _wait(lambda: not terminating_namespaces(client), timeout=180)
        before = api_requests(client)
        if isinstance(client, CountingClient):
            client.own.clear()
        for i in range(runs):
            name = f"a{i:03d}"
            client.create(FLOWRUNS, run_manifest(name), ns)
            job = _wait(
                lambda n=name: next(
                    (
                        j
                        for j in client.list(JOBS, ns)
                        if j["metadata"]["ownerReferences"][0]["name"] == n
                    ),
                    None,
                )
            )
            env = {
                e["name"]: e.get("value", "")
                for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
            }
            subprocess.run(
                [sys.executable, "-m", "baton.cli", "execute"],
                cwd=ROOT / "examples",
                env={**os.environ, **env, "KUBECONFIG": str(kubeconfig)},
                check=True,
                capture_output=True,
            )
            _wait(
                lambda n=name: (
                    client.get(FLOWRUNS, n, ns).get("status", {}).get("state") == "Completed"
                )
            )
        time.sleep(2)
        own = Counter(client.own) if isinstance(client, CountingClient) else Counter()
        delta = api_requests(client) - before - own
    finally:
        operator.stop()  # also when a run fails: no operator left behind
    cost = ours(delta)
    requests = {
        f"{v} {g}/{r}".replace(" /", " "): c
        for (v, g, r), c in sorted(delta.items())
        if (g == "baton.dev" or r in ("jobs", "events", "configmaps")) and v != "WATCH"
    }
    return {
        "runs": runs,
        "reads_per_run": round(cost["reads"] / runs, 1),
        "writes_per_run": round(cost["writes"] / runs, 1),
        # Exact totals over all the runs (``POST batch/jobs`` must equal ``runs``)...
        "requests": requests,
        # ...and the same per run, unrounded to a whole number so 39 Jobs over 20 runs
        # reads 1.95, not 1.
        "by_request": {k: round(c / runs, 2) for k, c in requests.items() if c >= runs},
    }


def terminating_namespaces(client: KubeClient) -> list[str]:
    """Namespaces being deleted (their contents are still being removed)."""
    return [
        n["metadata"]["name"]
        for n in client.list(NAMESPACES)
        if (n.get("status") or {}).get("phase") == "Terminating"
    ]


def _wait(predicate: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError("timed out")


def finished_runs(client: KubeClient, ns: str, count: int, deployments: int) -> None:
    """``count`` Completed FlowRuns spread over ``deployments`` Deployments (status set)."""
    create_many(
        client,
        DEPLOYMENTS,
        ns,
        [
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "Deployment",
                "metadata": {"name": f"d{i}"},
                "spec": {
                    "flowRef": {"name": "f"},
                    "successfulRunsHistoryLimit": 100_000,
                    "paused": True,
                },
            }
            for i in range(deployments)
        ],
    )
    bodies = [run_manifest(f"done{i:05d}", f"d{i % deployments}") for i in range(count)]
    create_many(client, FLOWRUNS, ns, bodies)
    lock = threading.Lock()
    names = [b["metadata"]["name"] for b in bodies]

    def finish(chunk: list[str]) -> None:
        for name in chunk:
            client.patch_status(
                FLOWRUNS,
                name,
                ns,
                {"status": {"state": "Completed", "reason": "Reported", "attempts": 1}},
            )
        with lock:
            pass

    threads = [threading.Thread(target=finish, args=(names[i::16],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def memory_and_restart(
    client: KubeClient,
    kubeconfig: Path,
    sizes: argparse.Namespace,
    work: Path,
) -> dict[str, Any]:
    finished, unrelated, deployments = sizes.finished, sizes.unrelated, sizes.deployments
    ns = f"bench-memory-{RUN_ID}"
    base_objects(client, ns)
    finished_runs(client, ns, finished, deployments)
    operator = Operator(kubeconfig, ns, work / "memory.log")
    time.sleep(sizes.settle)
    quiet = _peak_rss_mib(operator.proc.pid)
    other = f"bench-unrelated-{RUN_ID}"
    ensure_namespace(client, other)
    create_many(
        client,
        JOBS,
        other,
        [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": f"u{i:05d}"},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "x"}],
                        }
                    }
                },
            }
            for i in range(unrelated)
        ],
    )
    time.sleep(sizes.settle)
    loaded = operator.stop()
    # Restart: a schedule due a few seconds after start; count requests until its run.
    client.create(
        DEPLOYMENTS,
        {
            "apiVersion": "baton.dev/v1alpha1",
            "kind": "Deployment",
            "metadata": {"name": "restart"},
            "spec": {"flowRef": {"name": "f"}, "schedules": [{"interval": 2}]},
        },
        ns,
    )
    time.sleep(3)
    before = api_requests(client)
    t0 = time.monotonic()
    since = datetime.now(UTC) - timedelta(seconds=1)
    restarted = Operator(kubeconfig, ns, work / "restart.log")
    _wait(
        lambda: any(
            r["metadata"]["name"].startswith("restart-")
            and datetime.fromisoformat(r["spec"]["scheduledTime"].replace("Z", "+00:00")) > since
            for r in client.list(FLOWRUNS, ns, label_selector=("baton.dev/deployment=restart"))
        ),
        timeout=120,
    )
    first_run_s = time.monotonic() - t0
    delta = api_requests(client) - before
    restarted.stop()
    return {
        "finished_flow_runs": finished,
        "deployments": deployments,
        "rss_quiet_mib": quiet,
        "unrelated_jobs": unrelated,
        "rss_after_unrelated_mib": loaded["peak_rss_mib"],
        "restart_first_run_s": round(first_run_s, 2),
        "restart_requests": ours(delta),
    }


def main() -> int:
    # A SIGTERM (an interrupted run) still stops the private control plane in ``finally``.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--api-runs", type=int, default=20)
    parser.add_argument("--finished", type=int, default=10_000)
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--unrelated", type=int, default=10_000)
    parser.add_argument("--settle", type=float, default=20, help="seconds before reading RSS")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (for make test)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.api_runs, args.finished = 20, 3, 50
        args.deployments, args.unrelated, args.settle = 5, 20, 2
    work = Path(tempfile.mkdtemp(prefix="baton-bench-op-"))
    with controlplane.cluster_kubeconfig(work / "cluster") as kubeconfig:
        client = CountingClient(from_kubeconfig(kubeconfig), timeout=120)
        subprocess.run(
            [
                str(ROOT / ".cluster" / "bin" / "kubectl"),
                f"--kubeconfig={kubeconfig}",
                "apply",
                "--server-side",
                "-f",
                str(ROOT / "crds"),
            ],
            check=True,
            capture_output=True,
        )
        results = {
            "throughput": throughput(client, kubeconfig, args.runs, work),
            "api_cost": api_cost(client, kubeconfig, args.api_runs, work),
            "memory_restart": memory_and_restart(client, kubeconfig, args, work),
        }
    document = {
        "benchmark": "operator",
        "date": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "results": results,
    }
    print(json.dumps(document, indent=2))
    if args.json:
        args.json.write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
