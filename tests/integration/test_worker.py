"""The process worker against the real API server, with the real operator running.

Nothing is simulated: the operator admits runs of a `type: process` pool, `baton worker
start` processes claim them and run `baton execute` children, which report into the
FlowRun status. The tests kill and signal real processes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from worker_helpers import (
    WorkerProcess,
    adhoc_run,
    apply,
    env_for,
    flow,
    pid_alive,
    process_pool,
    run_status,
    runs,
    wait_for,
)

from clusterkit import Cluster, OperatorProcess

pytestmark = pytest.mark.integration


def pool_workers(cluster: Cluster, namespace: str, pool: str) -> list[dict[str, Any]]:
    status = cluster.get_json("workpool", pool, "-n", namespace).get("status") or {}
    return list(status.get("workers") or [])


def states(cluster: Cluster, namespace: str) -> dict[str, str | None]:
    return {
        r["metadata"]["name"]: (r.get("status") or {}).get("state")
        for r in runs(cluster, namespace)
    }


def test_two_workers_never_double_run(
    operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    cluster = operator.cluster
    record = tmp_path / "executions.jsonl"
    apply(cluster, namespace, process_pool("shared"), flow("rec", "worker_flows.py:record"))
    names = [f"run-{i:02d}" for i in range(10)]
    apply(
        cluster,
        namespace,
        *(adhoc_run(n, "rec", "shared", path=str(record), seconds=0.5) for n in names),
    )
    # All ten wait for a worker before either worker starts: maximal contention.
    wait_for(
        lambda: all(
            (r.get("status") or {}).get("reason") == "AwaitingWorker"
            for r in runs(cluster, namespace)
        ),
        30,
        "the operator to admit all runs to the process pool",
    )
    first = WorkerProcess(cluster, namespace, "shared", tmp_path, extra=("--limit", "2"), tag="w1")
    second = WorkerProcess(cluster, namespace, "shared", tmp_path, extra=("--limit", "2"), tag="w2")
    try:
        heartbeats = wait_for(
            lambda: (
                len(pool_workers(cluster, namespace, "shared")) == 2
                and pool_workers(cluster, namespace, "shared")
            ),
            10,
            "both workers' heartbeats in the pool status",
        )
        assert {h["name"] for h in heartbeats} == {first.name, second.name}
        wait_for(
            lambda: set(states(cluster, namespace).values()) == {"Completed"},
            90,
            "all ten runs to complete",
        )
    finally:
        assert first.stop() == 0, first.output()
        assert second.stop() == 0, second.output()

    lines = [json.loads(line) for line in record.read_text().splitlines()]
    executed = sorted(line["run"] for line in lines)
    assert executed == names, "every run executed exactly once"
    claimed_by = {r["metadata"]["name"]: r["status"]["worker"] for r in runs(cluster, namespace)}
    assert set(claimed_by.values()) == {first.name, second.name}
    # The flow recorded its parent (the worker) pid: it matches the claim in the status.
    for line in lines:
        assert claimed_by[line["run"]].endswith(f"-{line['worker_pid']}")
    # --limit 2: at no instant did one worker run more than two flows.
    by_worker: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for line in lines:
        by_worker[line["worker_pid"]].append((line["start"], line["end"]))
    for spans in by_worker.values():
        for start, _ in spans:
            overlapping = sum(1 for s, e in spans if s <= start < e)
            assert overlapping <= 2
    # A stopped worker removes its own heartbeat entry.
    assert pool_workers(cluster, namespace, "shared") == []


def test_killed_worker_runs_end_crashed_after_heartbeat_timeout(
    operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    """SIGKILL of the worker takes its child with it (parent-death signal); nothing
    reports, so the operator must notice the silent heartbeat and mark the run Crashed."""
    cluster = operator.cluster
    apply(
        cluster,
        namespace,
        process_pool("fragile", heartbeatTimeoutSeconds=5),
        flow("sleepy", "worker_flows.py:sleepy"),
        adhoc_run("doomed", "sleepy", "fragile", seconds=120),
    )
    worker = WorkerProcess(cluster, namespace, "fragile", tmp_path)
    wait_for(
        lambda: run_status(cluster, namespace, "doomed").get("state") == "Running",
        30,
        "the run to be Running",
    )
    assert run_status(cluster, namespace, "doomed")["worker"] == worker.name
    [child] = worker.child_pids()
    worker.proc.kill()
    worker.proc.wait()
    killed_at = time.monotonic()
    wait_for(lambda: not pid_alive(child), 5, "the run's process to die with its worker")
    status = wait_for(
        lambda: (s := run_status(cluster, namespace, "doomed")).get("state") == "Crashed" and s,
        40,
        "the operator to mark the run Crashed after the heartbeat timeout (5s)",
    )
    elapsed = time.monotonic() - killed_at
    # The last heartbeat was up to 1 s before the kill, and stamps are whole seconds.
    assert elapsed >= 5 - 1 - 1 - 0.5, f"Crashed {elapsed:.1f}s after the kill: too early"
    assert status["reason"] == "WorkerLost"
    assert worker.name in status["message"] and "stopped heartbeating" in status["message"]


def test_worker_shutdown_stops_its_runs_and_leaves_the_pool(
    operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    """SIGTERM to the worker: it claims nothing more, SIGTERMs its child (the runtime
    reports Crashed, naming the signal), waits for it and removes its heartbeat."""
    cluster = operator.cluster
    apply(
        cluster,
        namespace,
        process_pool("p"),
        flow("sleepy", "worker_flows.py:sleepy"),
        adhoc_run("interrupted", "sleepy", "p", seconds=120),
    )
    worker = WorkerProcess(cluster, namespace, "p", tmp_path)
    wait_for(
        lambda: run_status(cluster, namespace, "interrupted").get("state") == "Running",
        30,
        "the run to be Running",
    )
    [child] = worker.child_pids()
    started = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=20) == 0, worker.output()
    assert time.monotonic() - started < 10  # the child stopped on SIGTERM, no SIGKILL needed
    assert not pid_alive(child)
    assert "stopping 1 running run(s)" in worker.output()
    assert pool_workers(cluster, namespace, "p") == []
    status = wait_for(
        lambda: (
            (s := run_status(cluster, namespace, "interrupted")).get("state") == "Crashed" and s
        ),
        30,
        "the run to end Crashed",
    )
    assert "SIGTERM" in status["message"]


SERVED = """
import sys

from baton import flow


@flow
def greet(name: str = "world") -> str:
    print(f"hello {name}")
    return f"hello {name}"


if __name__ == "__main__":
    greet.serve(name="greeter", interval=2, parameters={"name": "served"}, namespace=sys.argv[1])
"""


def start_serving(
    tmp_path: Path, filename: str, source: str, env: dict[str, str], *args: str
) -> tuple[subprocess.Popen[bytes], Path]:
    """Run a user's script that serves its flow, its console in ``serve.log``."""
    (tmp_path / filename).write_text(source)
    console = tmp_path / "serve.log"
    with open(console, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, filename, *args],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, console


def completed_runs(
    cluster: Cluster, namespace: str, at_least: int = 1
) -> list[dict[str, Any]] | None:
    done = [
        r for r in runs(cluster, namespace) if (r.get("status") or {}).get("state") == "Completed"
    ]
    return done if len(done) >= at_least else None


def test_flow_serve_schedules_and_runs(
    operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    cluster = operator.cluster
    env = env_for(cluster, BATON_LOG_DIR=str(tmp_path / "logs"))
    proc, console = start_serving(tmp_path, "served.py", SERVED, env, namespace)
    try:
        completed = wait_for(
            lambda: completed_runs(cluster, namespace),
            45,
            "a scheduled run of the served flow to complete",
        )
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    output = console.read_text()
    assert code == 0, output
    assert "is being served" in output and "baton run greeter" in output
    run = completed[0]
    assert run["spec"]["deploymentRef"]["name"] == "greeter"
    assert run["status"]["result"]["preview"] == "'hello served'"
    assert run["status"]["worker"].endswith(f"-{proc.pid}")
    deployment = cluster.get_json("bdep", "greeter", "-n", namespace)["spec"]
    assert deployment["workPoolRef"]["name"] == "greeter-serve"
    assert [s["interval"] for s in deployment["schedules"]] == [2]
    flow_spec = cluster.get_json("flow", "greet", "-n", namespace)["spec"]
    assert flow_spec["entrypoint"] == "served.py:greet"
    assert flow_spec["parameterSchema"]["properties"]["name"]["default"] == "world"
    pool = cluster.get_json("workpool", "greeter-serve", "-n", namespace)
    assert pool["spec"]["type"] == "process"
    assert (pool.get("status") or {}).get("workers") == []
    assert (tmp_path / "logs" / namespace / f"{run['metadata']['name']}.log").exists()


# A Prefect tutorial's file as written: serve() at module level, no __main__ guard. Each
# run imports the file again; that import must not serve (it would block the run).
UNGUARDED = """
import os

from baton import flow


@flow
def greet(name: str = "world") -> str:
    return f"hello {name}"


greet.serve(name="unguarded", interval=2, namespace=os.environ["SERVE_NAMESPACE"])
"""


def test_serve_at_module_level_without_a_guard_runs_each_run_once_and_quickly(
    operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    cluster = operator.cluster
    env = env_for(cluster, SERVE_NAMESPACE=namespace)
    proc, console = start_serving(tmp_path, "tutorial.py", UNGUARDED, env)
    try:
        completed = wait_for(
            lambda: completed_runs(cluster, namespace, at_least=2),
            60,
            "two scheduled runs of the unguarded tutorial flow to complete",
        )
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    output = console.read_text()
    assert code == 0, output
    assert output.count("is being served") == 1, output  # only the real serve() served
    for run in completed[:2]:
        status = run["status"]
        assert status["result"]["preview"] == "'hello world'"
        started = datetime.fromisoformat(status["startTime"].replace("Z", "+00:00"))
        ended = datetime.fromisoformat(status["endTime"].replace("Z", "+00:00"))
        # Before the fix each run's import blocked in a nested worker (31-38 s and more).
        assert (ended - started).total_seconds() < 10, status
    pools = cluster.get_json("workpools", "-n", namespace)["items"]
    assert [p["metadata"]["name"] for p in pools] == ["unguarded-serve"]


def test_a_child_dying_without_a_report_ends_crashed_while_the_worker_lives(
    operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    """The worker plays the kubelet: it reports the exit the process could not."""
    cluster = operator.cluster
    apply(
        cluster,
        namespace,
        process_pool("plain"),
        flow("vanishing", "worker_flows.py:vanish"),
        adhoc_run("gone", "vanishing", "plain"),
    )
    worker = WorkerProcess(cluster, namespace, "plain", tmp_path)
    try:
        status = wait_for(
            lambda: (s := run_status(cluster, namespace, "gone")).get("state") == "Crashed" and s,
            30,
            "the run to end Crashed",
        )
        assert "signal 9" in status["message"] and worker.name in status["message"]
        assert worker.proc.poll() is None, "the worker itself keeps running"
    finally:
        assert worker.stop() == 0, worker.output()
