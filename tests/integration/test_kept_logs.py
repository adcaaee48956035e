"""Run logs kept with the FlowRun: they outlive the pod, stay within the cap, survive a
SIGKILL up to the last batch, and go to a real S3-compatible server when configured.

No kubelet runs here, so each test plays the kubelet's part explicitly, as
test_runtime.py does: it starts the pod's command (``baton execute``) as a local process
with the environment the Job would give it, and where a test needs a pod and a Job it
creates those objects itself (they never run) and records them in the run's status as
the operator would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from minio import Minio
from test_runtime import execute, make_run
from worker_helpers import WorkerProcess, adhoc_run, apply, baton, process_pool
from worker_helpers import flow as worker_flow

from baton._kube.client import CONFIGMAPS, KubeClient
from baton._kube.config import from_kubeconfig
from baton.run_logs import CHUNK_BYTES, DATA_KEY, LABEL_LOG_OF, MAX_CHUNKS, read_kept_log
from baton.run_logs_s3 import S3Config, read_s3_log
from clusterkit import Cluster, OperatorProcess
from kube_helpers import wait_for, wait_state
from s3kit import S3Server, s3_server

pytestmark = pytest.mark.integration
FLOWS = Path(__file__).parent / "flows"
CHATTY = "chatty.py:chatty"


@pytest.fixture
def client(crds: Cluster) -> Iterator[KubeClient]:
    with KubeClient(from_kubeconfig(crds.kubeconfig)) as c:
        yield c


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


def chunks(client: KubeClient, namespace: str, uid: str) -> list[dict[str, Any]]:
    return client.list(CONFIGMAPS, namespace, label_selector=f"{LABEL_LOG_OF}={uid}")


def lines_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stdout.splitlines()


def console_records(stderr: str) -> int:
    """How many run log records the runtime printed to its console (Prefect's layout)."""
    return len(re.findall(r"^\d\d:\d\d:\d\d\.\d{3} \| \w+ +\| (?:Flow|Task) run ", stderr, re.M))


def test_the_last_lines_survive_the_job_and_pod_and_go_with_the_run(
    crds: Cluster, namespace: str, client: KubeClient, tmp_path: Path
) -> None:
    uid = make_run(crds, namespace, "kept", {"lines": 50})
    # The operator's part: a Job and its pod, recorded in the run's status.
    crds.kubectl("create", "job", "kept-1", "--image=local", "-n", namespace)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kept-1-abcde", "labels": {"job-name": "kept-1"}},
        "spec": {"containers": [{"name": "flow", "image": "local"}]},
    }
    crds.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(pod))
    crds.kubectl(
        "patch", "flowrun", "kept", "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"jobName": "kept-1", "podName": "kept-1-abcde"}}),
    )  # fmt: skip
    done = execute(crds, namespace, "kept", uid, CHATTY, FLOWS, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    crds.kubectl("delete", "job", "kept-1", "-n", namespace, "--wait=true")
    crds.kubectl("delete", "pod", "kept-1-abcde", "-n", namespace, "--wait=true")

    shown = baton(crds, "logs", "kept", "-n", namespace)
    assert "baton: kept log, pod kept-1-abcde gone" in shown.stderr
    out = lines_of(shown)
    assert out[-2].endswith("| INFO    | Flow run 'kept' - the last line")
    assert out[-1].endswith("| INFO    | Flow run 'kept' - Finished in state Completed()")
    assert sum(" - line 0000" in line for line in out) == 50
    assert any("Task run 'shout-" in line and "WARNING" in line for line in out)
    assert any(line.endswith(" - a print from the flow") for line in out)  # log_prints
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| ", out[0])
    # --task keeps one task's lines, by task name or task run name.
    only = lines_of(baton(crds, "logs", "kept", "-n", namespace, "--task", "shout"))
    assert len(only) >= 2 and all("Task run 'shout-" in line for line in only)
    # The Prefect spelling is the same command.
    alias = baton(crds, "flow-run", "logs", "kept", "-n", namespace)
    assert lines_of(alias) == out

    # The kept log is owned by the FlowRun: the garbage collector removes it with the run.
    assert chunks(client, namespace, uid)
    crds.kubectl("delete", "flowrun", "kept", "-n", namespace, "--wait=true")
    wait_for(lambda: not chunks(client, namespace, uid), timeout=60, what="log chunks collected")


def test_a_50_mb_log_stays_within_the_cap_and_says_so(
    crds: Cluster, namespace: str, client: KubeClient, tmp_path: Path
) -> None:
    lines, size = 50_000, 1024  # 50 MiB of run-logger lines
    uid = make_run(crds, namespace, "loud", {"lines": lines, "size": size})
    done = execute(crds, namespace, "loud", uid, CHATTY, FLOWS, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    kept_maps = chunks(client, namespace, uid)
    assert len(kept_maps) <= MAX_CHUNKS
    kept_bytes = sum(len(m["data"][DATA_KEY].encode()) for m in kept_maps)
    # Full chunks but the newest (each holds up to one line less than a chunk's bytes).
    assert (MAX_CHUNKS - 1) * (CHUNK_BYTES - 2048) <= kept_bytes <= MAX_CHUNKS * CHUNK_BYTES
    kept = read_kept_log(client, "loud", namespace, uid)
    # Every record is either kept or counted as dropped; the newest are the kept ones.
    assert kept.dropped_lines + len(kept.entries) == console_records(done.stderr)
    assert kept.entries[-2].message == "the last line"
    assert kept.entries[-3].message.startswith(f"line {lines - 1:06d} ")

    shown = baton(crds, "logs", "loud", "-n", namespace)
    marker = f"truncated: {kept.dropped_lines} lines ("
    assert marker in shown.stdout.splitlines()[0]
    assert f"kept log, no pod ({len(kept_maps)} chunks)" in shown.stderr


def test_a_sigkilled_run_keeps_its_lines_up_to_the_last_batch(
    crds: Cluster, namespace: str, client: KubeClient, tmp_path: Path
) -> None:
    uid = make_run(crds, namespace, "killed", {"lines": 100_000, "per_second": 20})
    env = {
        **os.environ,
        "KUBECONFIG": str(crds.kubeconfig),
        "BATON_FLOW_RUN_NAME": "killed",
        "BATON_FLOW_RUN_NAMESPACE": namespace,
        "BATON_FLOW_RUN_UID": uid,
        "BATON_ENTRYPOINT": CHATTY,
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "baton.cli", "execute"],
        cwd=FLOWS,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait for a few batches to arrive, then kill it the way the OOM killer does.
        wait_for(
            lambda: len(read_kept_log(client, "killed", namespace, uid).entries) > 40,
            timeout=60,
            what="kept lines",
        )
        time.sleep(1.7)
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    logged = [int(m[1]) for m in re.finditer(r" - line (\d{6}) ", stderr)]
    kept = [e.message for e in read_kept_log(client, "killed", namespace, uid).entries]
    numbers = [int(m[1]) for m in (re.match(r"line (\d{6}) ", k) for k in kept) if m]
    assert numbers == list(range(len(numbers))), "the kept lines are the run's first ones"
    # At 20 lines/s and one batch per second, at most ~2 batches may be lost (the one
    # being written, and the one in the buffer).
    assert numbers[-1] >= logged[-1] - 45, (numbers[-1], logged[-1])
    time.sleep(2)  # nothing arrives after the kill
    assert len(read_kept_log(client, "killed", namespace, uid).entries) == len(kept)


def test_logs_go_to_the_s3_server_when_configured(
    crds: Cluster, namespace: str, client: KubeClient, s3: S3Server, tmp_path: Path
) -> None:
    bucket = "run-logs"
    Minio(s3.endpoint.removeprefix("http://"), s3.access_key, s3.secret_key, secure=False)\
        .make_bucket(bucket)  # fmt: skip
    lines, size = 4000, 1024  # 4 MiB: past the ConfigMap cap, whole in the bucket
    uid = make_run(crds, namespace, "archived", {"lines": lines, "size": size})
    env = s3.env(bucket, prefix="baton/")
    done = execute(crds, namespace, "archived", uid, CHATTY, FLOWS, tmp_path, **env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "S3 log upload failed" not in done.stderr

    # Read back from the server itself: every line, in order, under the documented key.
    server = Minio(s3.endpoint.removeprefix("http://"), s3.access_key, s3.secret_key, secure=False)
    keys = [o.object_name for o in server.list_objects(bucket, prefix="baton/", recursive=True)]
    assert keys and all(
        re.fullmatch(rf"baton/{namespace}/archived/{uid}/001/\d{{6}}\.jsonl", str(k)) for k in keys
    )
    full = read_s3_log(S3Config.from_env(env), "archived", namespace, uid)  # type: ignore[arg-type]
    messages = [e.message for e in full]
    assert len(messages) == console_records(done.stderr) and "the last line" in messages[-2:]
    assert [m[:11] for m in messages if m.startswith("line ")] == [
        f"line {i:06d}" for i in range(lines)
    ]
    # The ConfigMaps hold the capped tail, and say so; `baton logs --s3` reads the whole.
    assert read_kept_log(client, "archived", namespace, uid).dropped_lines > 0
    shown = subprocess.run(
        [sys.executable, "-m", "baton.cli", "logs", "archived", "-n", namespace, "--s3"],
        env={**os.environ, "KUBECONFIG": str(crds.kubeconfig), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f"from s3://{bucket}/baton/{namespace}/archived/{uid}/" in shown.stderr
    assert len(shown.stdout.splitlines()) == len(messages)


WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE", "APPLY"}
METRIC = re.compile(r"^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$")


def writes_by_resource(client: KubeClient) -> Counter[str]:
    """Write requests by resource, from the API server's own ``apiserver_request_total``."""
    text = client._http.get(
        "/metrics", headers={"Authorization": f"Bearer {client.credentials.bearer()}"}
    ).text
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        match = METRIC.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match[1]))
            if labels.get("verb") in WRITE_VERBS:
                resource = labels.get("resource", "") + "/" + labels.get("subresource", "")
                counts[resource.rstrip("/")] += int(float(match[2]))
    return counts


def test_api_writes_added_by_log_shipping_at_100_lines_per_second(
    crds: Cluster, namespace: str, client: KubeClient, tmp_path: Path
) -> None:
    """One ConfigMap write per flush (1 s), plus one per chunk: not one per line.

    BATON_LOG_BENCH_SECONDS=30 gives docs/logs.md's figure; the default keeps the test short.
    """
    seconds, rate = float(os.environ.get("BATON_LOG_BENCH_SECONDS", "10")), 100
    lines = int(seconds * rate)
    uid = make_run(crds, namespace, "rate", {"lines": lines, "size": 100, "per_second": rate})
    before = writes_by_resource(client)
    done = execute(crds, namespace, "rate", uid, CHATTY, FLOWS, tmp_path)
    after = writes_by_resource(client)
    assert done.returncode == 0, done.stderr[-3000:]
    delta = after - before
    kept = read_kept_log(client, "rate", namespace, uid)
    assert kept.dropped_lines == 0
    assert len(kept.entries) == console_records(done.stderr), done.stderr[-2000:]
    configmaps, patches = delta["configmaps"], delta["flowruns/status"]
    print(
        f"\nlog shipping at {rate} lines/s for {seconds:g}s ({lines} lines, {kept.chunks} "
        f"chunks): {configmaps} ConfigMap writes, {patches} FlowRun status patches"
    )
    # Shipped as it goes (about one write per second; fewer on a loaded machine, where
    # the flusher's 1 s spacing stretches), never per line (1,000 here) nor only at the
    # end (3). The count is the API server's for every ConfigMap write in the cluster,
    # so the upper bound leaves room for other writers (the whole suite runs alongside).
    assert seconds * 0.5 <= configmaps <= 2 * seconds + kept.chunks + 5, (configmaps, seconds)


def test_a_process_workers_run_keeps_its_log_and_the_pools_bucket_gets_it(
    operator: OperatorProcess,
    namespace: str,
    client: KubeClient,
    s3: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker path, nothing simulated: the operator admits the run to a process pool
    whose ``logs.s3`` names the bucket; the worker passes it on with the keys from its
    own environment. Read from another machine (no log file), the run shows its kept log."""
    cluster = operator.cluster
    bucket = "pool-logs"
    Minio(s3.endpoint.removeprefix("http://"), s3.access_key, s3.secret_key, secure=False)\
        .make_bucket(bucket)  # fmt: skip
    storage = {"bucket": bucket, "endpoint": s3.endpoint, "region": "us-east-1"}
    apply(
        cluster,
        namespace,
        process_pool("procs", logs={"s3": storage}),
        worker_flow("chatty", CHATTY),
        adhoc_run("by-worker", "chatty", "procs", lines=30),
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    worker = WorkerProcess(cluster, namespace, "procs", tmp_path, work_dir=FLOWS)
    try:
        wait_state(cluster, namespace, "by-worker", "Completed", timeout=60)
    finally:
        worker.stop()
    uid = cluster.get_json("flowrun", "by-worker", "-n", namespace)["metadata"]["uid"]
    elsewhere = baton(
        cluster, "logs", "by-worker", "-n", namespace, "--log-dir", str(tmp_path / "x")
    )
    assert f"kept log, worker {worker.name}'s log file is not on this machine" in elsewhere.stderr
    assert elsewhere.stdout.splitlines()[-2].endswith("Flow run 'by-worker' - the last line")
    here = baton(cluster, "logs", "by-worker", "-n", namespace, "--log-dir", str(worker.run_logs))
    assert f"from worker {worker.name}'s log file" in here.stderr
    config = S3Config.from_env(s3.env(bucket))
    assert config is not None
    messages = [e.message for e in read_s3_log(config, "by-worker", namespace, uid)]
    assert sum(m.startswith("line 0000") for m in messages) == 30
    assert messages[-2] == "the last line"
