"""Scheduling skew: Baton's operator vs the Kubernetes CronJob controller, same control plane.

For each N, the harness creates N Deployments with a minute cron in one namespace, lets
the real operator run for ``--fires`` fire times, then does the same with N CronJobs in
another namespace (one after the other, so they never compete for the 2 cores). Skew is
the delay from each fire time to the object's creation:

* server side: ``metadata.creationTimestamp`` (whole seconds, as Kubernetes stores it);
* observed: when a watch on 127.0.0.1 delivered the ADDED event (milliseconds).

    python bench/scheduling.py --sizes 100 1000 5000 --fires 3 [--json out.json]

Prints one JSON document and a table. Not a test: ``make test`` only runs a smoke size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

import controlplane  # noqa: E402

from baton._kube.client import (  # noqa: E402
    DEPLOYMENTS,
    FLOWRUNS,
    FLOWS,
    JOBS,
    WORKPOOLS,
    AlreadyExists,
    Kind,
    KubeClient,
)
from baton._kube.config import from_kubeconfig  # noqa: E402

CRONJOBS = Kind("batch", "v1", "cronjobs")
NAMESPACES = Kind("", "v1", "namespaces")
CRONJOB_SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"
#: Suffix making this run's namespaces unique, so a rerun on the same cluster is clean.
RUN_ID = format(int(time.time()) % 100_000, "05d")


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "n": len(ordered),
        "p50": pick(0.50),
        "p99": pick(0.99),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


class Observer:
    """Records when a watch delivers each ADDED object (client-side, ms resolution)."""

    def __init__(self, client: KubeClient, kind: Kind, namespace: str) -> None:
        self.seen: dict[str, float] = {}
        self._client, self._kind, self._ns = client, kind, namespace
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop = False

    def start(self) -> Observer:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop:
            try:
                for event in self._client.watch(self._kind, self._ns, timeout_seconds=60):
                    if event.get("type") == "ADDED":
                        self.seen.setdefault(event["object"]["metadata"]["name"], time.time())
                    if self._stop:
                        return
            except Exception:
                time.sleep(0.5)

    def stop(self) -> None:
        self._stop = True


def create_many(
    client: KubeClient, kind: Kind, namespace: str, bodies: list[dict[str, Any]], threads: int = 16
) -> None:
    chunks = [bodies[i::threads] for i in range(threads)]

    def work(chunk: list[dict[str, Any]]) -> None:
        for body in chunk:
            with contextlib.suppress(AlreadyExists):
                client.create(kind, body, namespace)

    workers = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def wait_fires(fires: int) -> list[datetime]:
    """Sleep through ``fires`` minute boundaries (+ settle time); return them."""
    now = time.time()
    first = (int(now) // 60 + 1) * 60
    if first - now < 20:  # leave time for the objects to be created and seen
        first += 60
    boundaries = [datetime.fromtimestamp(first + 60 * i, UTC) for i in range(fires)]
    time.sleep(max(0.0, first + 60 * (fires - 1) + 25 - time.time()))
    return boundaries


def ensure_namespace(client: KubeClient, name: str) -> None:
    with contextlib.suppress(AlreadyExists):
        client.create(
            NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, ""
        )


def flow_and_pool(client: KubeClient, ns: str, entrypoint: str = "f.py:f") -> None:
    """A namespace with the Flow ``f`` and the WorkPool ``default`` that benchmarks use."""
    ensure_namespace(client, ns)
    client.create(
        FLOWS,
        {
            "apiVersion": "baton.dev/v1alpha1",
            "kind": "Flow",
            "metadata": {"name": "f"},
            "spec": {"image": "bench:0", "entrypoint": entrypoint},
        },
        ns,
    )
    client.create(
        WORKPOOLS,
        {
            "apiVersion": "baton.dev/v1alpha1",
            "kind": "WorkPool",
            "metadata": {"name": "default"},
            "spec": {},
        },
        ns,
    )


def bench_baton(
    client: KubeClient, kubeconfig: Path, n: int, fires: int, log_dir: Path
) -> dict[str, Any]:
    ns = f"bench-baton-{n}-{RUN_ID}"
    flow_and_pool(client, ns)
    create_many(
        client,
        DEPLOYMENTS,
        ns,
        [
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "Deployment",
                "metadata": {"name": f"d{i:05d}"},
                "spec": {
                    "flowRef": {"name": "f"},
                    "schedules": [{"cron": "* * * * *"}],
                    "successfulRunsHistoryLimit": 100,
                    "failedRunsHistoryLimit": 100,
                },
            }
            for i in range(n)
        ],
    )
    runs = Observer(client, FLOWRUNS, ns).start()
    jobs = Observer(client, JOBS, ns).start()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    with open(log_dir / f"operator-{n}.log", "wb") as log:
        operator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "baton.cli",
                "operator",
                "-n",
                ns,
                "--log-format",
                "plain",
                "--liveness",
                f"http://127.0.0.1:{controlplane.free_port()}/healthz",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        boundaries = wait_fires(fires)
        if operator.poll() is not None:
            tail = (log_dir / f"operator-{n}.log").read_text()[-2000:]
            raise RuntimeError(f"the operator exited during the benchmark:\n{tail}")
        cpu = _cpu_seconds(operator.pid)
        rss = _peak_rss_mib(operator.pid)
    finally:
        operator.terminate()
        operator.wait(timeout=30)
        runs.stop()
        jobs.stop()
    fire_set = set(boundaries)
    run_server, run_seen, job_server, job_seen = [], [], [], []
    scheduled_by_run: dict[str, datetime] = {}
    for run in client.list(FLOWRUNS, ns):
        fire = parse(run["spec"]["scheduledTime"])
        if fire not in fire_set:
            continue
        name = run["metadata"]["name"]
        scheduled_by_run[name] = fire
        run_server.append((parse(run["metadata"]["creationTimestamp"]) - fire).total_seconds())
        if name in runs.seen:
            run_seen.append(runs.seen[name] - fire.timestamp())
    for job in client.list(JOBS, ns):
        owner = job["metadata"]["ownerReferences"][0]["name"]
        fire = scheduled_by_run.get(owner)
        if fire is None:
            continue
        job_server.append((parse(job["metadata"]["creationTimestamp"]) - fire).total_seconds())
        if job["metadata"]["name"] in jobs.seen:
            job_seen.append(jobs.seen[job["metadata"]["name"]] - fire.timestamp())
    return {
        "expected": n * fires,
        "flowruns": len(run_server),
        "jobs": len(job_server),
        "flowrun_skew_server_s": percentiles(run_server),
        "flowrun_skew_observed_s": percentiles(run_seen),
        "job_skew_server_s": percentiles(job_server),
        "job_skew_observed_s": percentiles(job_seen),
        "operator_cpu_s": cpu,
        "operator_peak_rss_mib": rss,
    }


def bench_cronjobs(client: KubeClient, n: int, fires: int) -> dict[str, Any]:
    ns = f"bench-cron-{n}-{RUN_ID}"
    ensure_namespace(client, ns)
    jobs = Observer(client, JOBS, ns).start()
    create_many(
        client,
        CRONJOBS,
        ns,
        [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": {"name": f"c{i:05d}"},
                "spec": {
                    "schedule": "* * * * *",
                    "successfulJobsHistoryLimit": 100,
                    "failedJobsHistoryLimit": 100,
                    "jobTemplate": {
                        "spec": {
                            "template": {
                                "spec": {
                                    "restartPolicy": "Never",
                                    "containers": [{"name": "c", "image": "bench:0"}],
                                }
                            }
                        }
                    },
                },
            }
            for i in range(n)
        ],
    )
    boundaries = wait_fires(fires)
    jobs.stop()
    # Stop the CronJobs so they do not load the next benchmark.
    for i in range(n):
        client.patch(CRONJOBS, f"c{i:05d}", ns, {"spec": {"suspend": True}})
    fire_set = set(boundaries)
    server, seen = [], []
    for job in client.list(JOBS, ns):
        stamp = (job["metadata"].get("annotations") or {}).get(CRONJOB_SCHEDULED)
        if not stamp or parse(stamp) not in fire_set:
            continue
        fire = parse(stamp)
        server.append((parse(job["metadata"]["creationTimestamp"]) - fire).total_seconds())
        if job["metadata"]["name"] in jobs.seen:
            seen.append(jobs.seen[job["metadata"]["name"]] - fire.timestamp())
    return {
        "expected": n * fires,
        "jobs": len(server),
        "job_skew_server_s": percentiles(server),
        "job_skew_observed_s": percentiles(seen),
    }


def bench_floor(client: KubeClient, n: int) -> dict[str, Any]:
    """How fast this API server takes N FlowRuns from a bare client, nothing else running.

    The same manifests the scheduler creates, 12 requests in flight (the operator's
    limit). No scheduler can beat this: it is the lower bound of the p99 skew for N
    simultaneous fire times on this machine.
    """
    ns = f"bench-floor-{n}-{RUN_ID}"
    ensure_namespace(client, ns)
    bodies = [
        {
            "apiVersion": "baton.dev/v1alpha1",
            "kind": "FlowRun",
            "metadata": {
                "name": f"d{i:05d}-29000000",
                "labels": {"app.kubernetes.io/managed-by": "baton", "baton.dev/deployment": "d"},
            },
            "spec": {
                "deploymentRef": {"name": f"d{i:05d}"},
                "scheduledTime": "2026-01-01T00:00:00Z",
                "parameters": {},
            },
        }
        for i in range(n)
    ]
    start = time.monotonic()
    create_many(client, FLOWRUNS, ns, bodies, threads=12)
    elapsed = time.monotonic() - start
    return {"flowruns": n, "seconds": round(elapsed, 2), "per_second": round(n / elapsed)}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return round((int(fields[11]) + int(fields[12])) / ticks, 2)


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| N | what | created | skew p50 (s) | p99 (s) | max (s) | observed p99 (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        b, c = r["baton"], r["cronjob"]
        for label, block, key in (
            ("Baton FlowRun", b, "flowrun"),
            ("Baton Job", b, "job"),
            ("CronJob Job", c, "job"),
        ):
            server, seen = block[f"{key}_skew_server_s"], block[f"{key}_skew_observed_s"]
            count = block["flowruns" if key == "flowrun" else "jobs"]
            rows.append(
                f"| {r['n']} | {label} | {count}/{block['expected']} | "
                f"{server.get('p50')} | {server.get('p99')} | {server.get('max')} | "
                f"{seen.get('p99')} |"
            )
        floor = r["floor"]
        rows.append(
            f"| {r['n']} | floor: bare client creates {floor['flowruns']} FlowRuns | "
            f"{floor['per_second']}/s | | {floor['seconds']} | | |"
        )
    return "\n".join(rows)


def main() -> int:
    # A SIGTERM (an interrupted run) still stops the private control plane in ``finally``.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--fires", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    with controlplane.cluster_kubeconfig(work / "cluster") as kubeconfig:
        client = KubeClient(from_kubeconfig(kubeconfig))
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
        time.sleep(2)
        results = []
        for n in args.sizes:
            baton = bench_baton(client, kubeconfig, n, args.fires, work)
            cron = bench_cronjobs(client, n, args.fires)
            floor = bench_floor(client, n)
            results.append(
                {"n": n, "fires": args.fires, "baton": baton, "cronjob": cron, "floor": floor}
            )
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    document = {
        "benchmark": "scheduling",
        "date": datetime.now(UTC).isoformat(),
        # Other work on the machine skews every figure: the load average says how much.
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "results": results,
    }
    print(json.dumps(document, indent=2))
    print(table(results), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
