"""The `baton` CLI as users run it: a subprocess against the real API server.

The operator runs for real and a real process worker executes the runs, so `run --watch`,
`describe`, `logs` and `cancel` see what production would show.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from worker_helpers import (
    EXAMPLES,
    FLOWS,
    WorkerProcess,
    baton,
    env_for,
    run_status,
    wait_for,
)

from clusterkit import Cluster, OperatorProcess

pytestmark = pytest.mark.integration


def test_deploy_run_watch_describe_runs_logs_pause(
    operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    cluster = operator.cluster
    ns = ("-n", namespace)
    deploy = (
        "deploy",
        "flows/etl.py:etl",
        "--name",
        "etl",
        "--pool",
        "cli",
        "--pool-type",
        "process",
        "--cron",
        "0 9 * * *",
        "--timezone",
        "Europe/Berlin",
        "--param",
        "budget=60",
    )
    dry = baton(cluster, *deploy, "--dry-run", "-o", "yaml", cwd=EXAMPLES)
    docs = list(yaml.safe_load_all(dry.stdout))
    assert [d["kind"] for d in docs] == ["WorkPool", "Flow", "Deployment"]
    assert "namespace" not in docs[1]["metadata"]  # GitOps manifests follow kubectl's -n
    assert docs[1]["spec"]["entrypoint"] == "flows/etl.py:etl"
    assert set(docs[1]["spec"]["parameterSchema"]["properties"]) == {"day", "budget"}
    assert docs[2]["spec"]["parameters"] == {"budget": 60}
    assert docs[2]["spec"]["schedules"] == [{"cron": "0 9 * * *", "timezone": "Europe/Berlin"}]
    assert cluster.get_json("bdep", *ns)["items"] == []  # a dry run writes nothing

    applied = baton(cluster, *deploy, *ns, cwd=EXAMPLES)
    assert "deployment.baton.dev/etl applied" in applied.stdout
    again = baton(cluster, *deploy, *ns, cwd=EXAMPLES)  # idempotent (server-side apply)
    assert "flow.baton.dev/etl applied" in again.stdout

    worker = WorkerProcess(cluster, namespace, "cli", tmp_path, work_dir=EXAMPLES)
    try:
        ran = baton(cluster, "run", "etl", "-p", "day=2026-02-01", "--watch", *ns, timeout=60)
        assert ran.returncode == 0
        name = re.search(r'flowrun "(etl-custom-[a-z0-9]{5})" created', ran.stdout)[1]  # type: ignore[index]
        assert "Pending (AwaitingWorker)" in ran.stdout
        assert ran.stdout.rstrip().endswith(f'flowrun "{name}" Completed')
        run = cluster.get_json("flowrun", name, *ns)
        assert run["spec"]["parameters"] == {"day": "2026-02-01"}
        assert run["metadata"]["labels"]["baton.dev/deployment"] == "etl"
        assert run["metadata"]["ownerReferences"][0]["kind"] == "Deployment"

        listed = baton(cluster, "runs", *ns).stdout.splitlines()
        assert listed[0].split() == [
            "NAME",
            "DEPLOYMENT",
            "STATE",
            "SCHEDULED",
            "DURATION",
            "TASKS",
            "AGE",
        ]
        assert listed[1].split()[:3] == [name, "etl", "Completed"]
        assert baton(
            cluster, "runs", "-d", "etl", "--state", "completed", "-o", "name", *ns
        ).stdout == (f"{name}\n")
        assert baton(cluster, "runs", "--state", "Failed", *ns).stderr.startswith("No flow runs")
        everywhere = baton(cluster, "runs", "-A").stdout.splitlines()
        assert everywhere[0].startswith("NAMESPACE")
        assert any(line.split()[:2] == [namespace, name] for line in everywhere)

        described = baton(cluster, "describe", name, *ns).stdout
        for expected in (
            f"Name:       {name}",
            "State:      Completed (Reported)",
            "Source:     deployment etl",
            f"Worker:     {worker.name}",
            'day = "2026-02-01"',
            "Task runs:  4 (Cached 1, Completed 3)",
            "kept-orders [table] — orders within budget",
            "order   amount",
            "ETL 2026-02-01",  # markdown heading as plain text
            "[####################] 100%",
            "https://example.com/dashboards/etl",
            "Result:     ",
        ):
            assert expected in described, f"{expected!r} not in:\n{described}"
        assert re.search(r"Loaded \d of 5 rows\.", described) and "**" not in described

        logs = baton(cluster, "logs", name, "--log-dir", str(worker.run_logs), *ns).stdout
        assert f"Beginning flow run '{name}' for flow 'etl'" in logs
        assert "Retry 1/2" in logs  # the load task's retry
    finally:
        assert worker.stop() == 0

    assert "paused" in baton(cluster, "pause", "etl", *ns).stdout
    assert cluster.get_json("bdep", "etl", *ns)["spec"]["paused"] is True
    baton(cluster, "resume", "etl", *ns)
    assert cluster.get_json("bdep", "etl", *ns)["spec"]["paused"] is False


def test_cancel_a_long_running_process_run(
    operator: OperatorProcess, namespace: str, tmp_path: Path
) -> None:
    cluster = operator.cluster
    ns = ("-n", namespace)
    baton(
        cluster,
        "deploy",
        "worker_flows.py:sleepy",
        "--name",
        "sleepy",
        "--pool",
        "p",
        "--pool-type",
        "process",
        *ns,
        cwd=FLOWS,
    )
    worker = WorkerProcess(cluster, namespace, "p", tmp_path, extra=("--cancel-grace", "5"))
    try:
        created = baton(cluster, "run", "sleepy", "-p", "seconds=300", *ns).stdout
        name = re.search(r'flowrun "(\S+)" created', created)[1]  # type: ignore[index]
        wait_for(
            lambda: run_status(cluster, namespace, name).get("state") == "Running", 30, "Running"
        )
        follower = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "baton.cli",
                "logs",
                "-f",
                name,
                "--log-dir",
                str(worker.run_logs),
                *ns,
            ],
            env=env_for(cluster),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        cancelled = baton(cluster, "cancel", name, "--wait", "--timeout", "40", *ns)
        assert f'flowrun "{name}" cancel requested' in cancelled.stdout
        assert cancelled.stdout.rstrip().endswith(f'flowrun "{name}" Cancelled')
        assert f"{name}: cancel requested; sending SIGTERM" in worker.output()
        followed, _ = follower.communicate(timeout=30)  # -f ends once the run has ended
        assert follower.returncode == 0
        assert "sleeping 300" in followed
        again = baton(cluster, "cancel", name, *ns, check=False)
        assert again.returncode == 1
        assert again.stderr == f'error: flowrun "{name}" already ended: Cancelled\n'
    finally:
        assert worker.stop() == 0


def test_errors_are_one_line_without_traceback(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    ns = ("-n", namespace)
    unreachable = tmp_path / "unreachable.kubeconfig"
    unreachable.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "x"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    cases = {
        ("run", "nope", *ns): f'error: deployment "nope" not found in namespace "{namespace}"',
        ("describe", "nope", *ns): f'error: flowrun "nope" not found in namespace "{namespace}"',
        ("logs", "nope", *ns): f'error: flowrun "nope" not found in namespace "{namespace}"',
        ("cancel", "nope", *ns): f'error: flowrun "nope" not found in namespace "{namespace}"',
        ("pause", "nope", *ns): f'error: deployment "nope" not found in namespace "{namespace}"',
        ("run", "x", "-p", "novalue", *ns): "error: parameter 'novalue' must look like name=value",
        (
            "deploy",
            "flows/etl.py:etl",
            "--name",
            "etl",
            "--cron",
            "61 * * * *",
            "--pool-type",
            "process",
            "--dry-run",
        ): "error: ",
        ("deploy", "flows/etl.py:etl", "--name", "etl", "--dry-run"): "error: an image is required",
        ("deploy", "flows/nope.py:etl", "--name", "etl", "--dry-run"): "error: entrypoint file",
        ("--kubeconfig", str(unreachable), "runs"): (
            'error: cannot reach the Kubernetes API server at https://127.0.0.1:9 (context "x")'
        ),
        ("--kubeconfig", str(tmp_path / "missing"), "runs"): "error: cannot read kubeconfig",
    }
    for argv, expected in cases.items():
        done = baton(crds, *argv, cwd=EXAMPLES, check=False)
        assert done.returncode == 1, (argv, done.stdout, done.stderr)
        assert done.stderr.startswith(expected), (argv, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    cron = baton(
        crds, *next(iter(k for k in cases if "61 * * * *" in k)), cwd=EXAMPLES, check=False
    )
    assert "61" in cron.stderr and "minute" in cron.stderr


def test_worker_rejects_a_kubernetes_pool(crds: Cluster, namespace: str) -> None:
    crds.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin='{"apiVersion": "baton.dev/v1alpha1", "kind": "WorkPool", "metadata": {"name": "k"}}',
    )
    done = baton(crds, "worker", "start", "-p", "k", "-n", namespace, check=False, timeout=30)
    assert done.returncode == 1
    assert done.stderr.startswith('error: work pool "k" has type kubernetes')
    missing = baton(crds, "worker", "start", "-p", "gone", "-n", namespace, check=False)
    assert missing.stderr == f'error: work pool "gone" not found in namespace "{namespace}"\n'
