"""Least privilege, checked with real requests: Secrets stay secret, flow pods pass the
restricted Pod Security Standard, and the chart's runner identity can do its job and
nothing more.

No kubelet runs here. Where a pod must run, the test plays the kubelet: it resolves the
container's environment (reading a ``secretKeyRef`` as the kubelet would) and runs the
pod's command, ``baton execute``, as a local process (see fault_support).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chart_support import Installed, can_i, install, service_account_kubeconfig
from fault_support import FLOWS, job_environment, project_blocks, start_pod_command
from worker_helpers import WorkerProcess

from baton._kube.client import (
    DEPLOYMENTS,
    FLOWRUNS,
    JOBS,
    PODS,
    WORKPOOLS,
    ApiError,
    Kind,
    KubeClient,
)
from baton._kube.client import (
    FLOWS as FLOW_KIND,
)
from baton._kube.config import from_kubeconfig
from baton.run_logs import ConfigMapLogSink, read_kept_log
from clusterkit import Cluster, OperatorProcess
from kube_helpers import (
    apply,
    deployment,
    flow,
    flow_run,
    jobs,
    pod_of,
    pool,
    report,
    set_pod_status,
    terminated,
    wait_for,
    wait_state,
)

pytestmark = pytest.mark.integration

SECRETS = Kind("", "v1", "secrets")
SECRET_ENV = {
    "name": "DB_PASSWORD",
    "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "password"}},
}


def job_of(cluster: Cluster, namespace: str, run: str) -> dict[str, Any]:
    return wait_for(
        lambda: next(
            (
                j
                for j in jobs(cluster, namespace)
                if j["metadata"]["ownerReferences"][0]["name"] == run
            ),
            None,
        ),
        what=f"a Job for {run}",
    )


# -- a Secret's value never leaves the flow ------------------------------------------------
def test_a_secret_reaches_the_flow_and_nowhere_else(
    operator: OperatorProcess, crds: Cluster, namespace: str, tmp_path: Path, monkeypatch: Any
) -> None:
    """Secrets are not parameters (parameters live in the FlowRun's spec and the pod's
    environment, readable by anyone who may read runs): a flow gets one as an
    environment variable from a ``secretKeyRef`` in ``jobVariables`` (kubernetes pools)
    or from the worker's environment (process pools). Either way the value must appear
    in no FlowRun, Event, Job, ConfigMap or log line."""
    value = f"canary-{uuid.uuid4().hex}"
    crds.kubectl(
        "create",
        "secret",
        "generic",
        "db-credentials",
        f"--from-literal=password={value}",
        "-n",
        namespace,
    )
    apply(
        crds,
        namespace,
        flow("uses", entrypoint="fault_flows.py:uses_secret"),
        pool("default", allowedJobVariables=["env"]),
        pool("procs", type="process"),
        deployment("d", "uses", jobVariables={"env": [SECRET_ENV]}, parameters={"user": "etl"}),
    )
    apply(crds, namespace, flow_run("via-job", "d"))
    job = job_of(crds, namespace, "via-job")
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert SECRET_ENV in env, env  # referenced, resolved only by the kubelet

    # kubelet: resolve the secretKeyRef and run the pod's command.
    pod = start_pod_command(crds, job, tmp_path / "pod.log")
    assert pod.wait(timeout=120) == 0, (tmp_path / "pod.log").read_text()[-3000:]
    job_pod = wait_for(lambda: pod_of(crds, namespace, job["metadata"]["name"]), what="the pod")
    set_pod_status(crds, namespace, job_pod["metadata"]["name"], terminated(0))
    expected = repr(hashlib.sha256(value.encode()).hexdigest())
    status = wait_state(crds, namespace, "via-job", "Completed")
    assert status["result"]["preview"] == expected, status  # the flow did read the secret

    # A process pool: the secret is in the environment of the machine running the worker.
    monkeypatch.setenv("DB_PASSWORD", value)
    worker = WorkerProcess(crds, namespace, "procs", tmp_path, work_dir=FLOWS)
    try:
        run = flow_run("via-worker")
        run["spec"] = {"flowRef": {"name": "uses"}, "workPoolRef": {"name": "procs"}}
        apply(crds, namespace, run)
        status = wait_state(crds, namespace, "via-worker", "Completed", timeout=60)
        assert status["result"]["preview"] == expected, status
    finally:
        worker.stop()

    places = {
        "Baton objects (spec and status)": crds.kubectl(
            "get", "flows,workpools,deployments.baton.dev,flowruns", "-n", namespace, "-o", "json"
        ).stdout,
        "Events": crds.kubectl("get", "events", "-n", namespace, "-o", "json").stdout,
        "Jobs and pods": crds.kubectl("get", "jobs,pods", "-n", namespace, "-o", "json").stdout,
        "ConfigMaps (task cache)": crds.kubectl(
            "get", "configmaps", "-n", namespace, "-l", "baton.dev/cache=true", "-o", "json"
        ).stdout,
        "ConfigMaps (kept run logs)": crds.kubectl(
            "get", "configmaps", "-n", namespace, "-l", "baton.dev/log-of", "-o", "json"
        ).stdout,
        "operator log": operator.logs(),
        "flow pod output": (tmp_path / "pod.log").read_text(),
        "worker console": worker.output(),
        "worker run logs": "".join(p.read_text() for p in worker.run_logs.rglob("*.log")),
    }
    # The scan is only worth something if there was something to scan.
    messages = [e["message"] for e in json.loads(places["Events"])["items"]]
    assert sum("-> Completed" in m for m in messages) == 2, messages
    assert "baton-cache-" in places["ConfigMaps (task cache)"]  # the cached task ran
    assert "connecting as etl" in places["flow pod output"]
    assert "connecting as etl" in places["worker run logs"]
    assert places["ConfigMaps (kept run logs)"].count("connecting as etl") == 2  # both runs
    leaks = [where for where, text in places.items() if value in text]
    assert leaks == [], f"the Secret's value appears in: {leaks}"


# -- restricted Pod Security Standard ------------------------------------------------------
def test_default_job_passes_the_restricted_pod_security_standard(
    operator: OperatorProcess, crds: Cluster, namespace: str
) -> None:
    crds.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    )
    apply(
        crds,
        namespace,
        flow(),
        pool("default"),
        # The control: a template that replaces the restricted default on purpose.
        pool("lax", jobTemplate={"securityContext": {"allowPrivilegeEscalation": True}}),
        deployment("d"),
        deployment("lax", workPoolRef={"name": "lax"}),
    )
    apply(crds, namespace, flow_run("ok", "d"), flow_run("refused", "lax"))
    ok_job, refused_job = job_of(crds, namespace, "ok"), job_of(crds, namespace, "refused")

    def failed_creates(job: dict[str, Any]) -> list[str]:
        events = crds.get_json(
            "events",
            "-n",
            namespace,
            "--field-selector",
            f"involvedObject.kind=Job,involvedObject.name={job['metadata']['name']}",
        )["items"]
        return [e["message"] for e in events if e["reason"] == "FailedCreate"]

    # PodSecurity admission is live: the lax template's pod is refused...
    refusals = wait_for(lambda: failed_creates(refused_job), what="the lax pod to be refused")
    assert 'violates PodSecurity "restricted:latest"' in refusals[0], refusals
    assert "allowPrivilegeEscalation != false" in refusals[0], refusals
    assert pod_of(crds, namespace, refused_job["metadata"]["name"]) is None
    # ...and the default template's pod is admitted.
    pod = wait_for(lambda: pod_of(crds, namespace, ok_job["metadata"]["name"]), what="the pod")
    assert failed_creates(ok_job) == []
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = spec["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsNonRoot"] is True
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    # The admitted run goes all the way (runtime and kubelet played).
    report(crds, namespace, "ok", "Running")
    report(crds, namespace, "ok", "Completed")
    set_pod_status(crds, namespace, pod["metadata"]["name"], terminated(0))
    wait_state(crds, namespace, "ok", "Completed")


# -- the chart's runner ServiceAccount, with its own token ---------------------------------
@pytest.fixture(scope="module")
def installed(crds: Cluster) -> Iterator[Installed]:
    with install(crds) as inst:
        yield inst


def runner_client(crds: Cluster, namespace: str, workdir: Path) -> KubeClient:
    """A client holding a bound token of ``baton-runner`` (TokenRequest), nothing else."""
    path = service_account_kubeconfig(crds, namespace, "baton-runner", workdir / "runner.yaml")
    return KubeClient(from_kubeconfig(path))


def refused(call: Any, who: str) -> str:
    """Run ``call``; it must be refused with 403 Forbidden naming ``who``."""
    try:
        call()
    except ApiError as error:
        assert error.status == 403, error
        assert f'User "{who}" cannot' in error.message, error.message
        return error.message
    raise AssertionError(f"{who} was allowed")


def test_runner_token_does_its_job_and_nothing_more(
    crds: Cluster, installed: Installed, tmp_path: Path
) -> None:
    ns, other, outside = installed.namespace, installed.other, installed.outside
    crds.kubectl("create", "secret", "generic", "db", "--from-literal=password=x", "-n", ns)
    run = flow_run("mine")
    run["spec"] = {"flowRef": {"name": "hello"}}
    for where in (ns, other, outside):
        apply(crds, where, flow("hello"), deployment("d", "hello"), run)
    who = installed.runner_sa(ns)
    client = runner_client(crds, ns, tmp_path)
    try:
        # What the runtime needs: read its run, write its status.
        assert client.get(FLOWRUNS, "mine", ns)["metadata"]["name"] == "mine"
        marker = f"written by the runner {uuid.uuid4().hex[:8]}"
        runtime = {"state": "Running", "message": marker, "attempt": 1}
        client.patch_status(FLOWRUNS, "mine", ns, {"status": {"runtime": runtime}})
        written = crds.get_json("flowrun", "mine", "-n", ns)["status"]["runtime"]
        assert written["message"] == marker
        # Keep its log (run_logs): create, patch and, past the cap, delete owned chunks.
        uid = crds.get_json("flowrun", "mine", "-n", ns)["metadata"]["uid"]
        sink = ConfigMapLogSink(client, "mine", ns, uid=uid, chunk_bytes=40, max_chunks=1)
        for i in range(3):
            sink.offer(json.dumps({"msg": f"kept {i}"}))
            sink.ship()
        assert sink.writes == 4 and sink.dropped_lines == 2  # create, patch, create, delete
        assert [e.message for e in read_kept_log(client, "mine", ns, uid).entries] == ["kept 2"]

        spec_patch = {"spec": {"paused": True}}
        flow_body = flow("evil")
        flow_body["metadata"]["namespace"] = ns
        pool_body = pool("evil")
        pool_body["metadata"]["namespace"] = ns
        dep_body = deployment("evil", "hello")
        dep_body["metadata"]["namespace"] = ns
        status_patch = {"status": {"runtime": runtime}}
        refusals = {
            "create Deployment": lambda: client.create(DEPLOYMENTS, dep_body, ns),
            "patch Deployment": lambda: client.patch(DEPLOYMENTS, "d", ns, spec_patch),
            "patch Deployment status": lambda: client.patch_status(
                DEPLOYMENTS, "d", ns, {"status": {"observedGeneration": 99}}
            ),
            "create Flow": lambda: client.create(FLOW_KIND, flow_body, ns),
            "patch Flow": lambda: client.patch(FLOW_KIND, "hello", ns, {"spec": {"image": "x"}}),
            "create WorkPool": lambda: client.create(WORKPOOLS, pool_body, ns),
            "patch WorkPool": lambda: client.patch(
                WORKPOOLS, "default", ns, {"spec": {"concurrencyLimit": 0}}
            ),
            "get Secret": lambda: client.get(SECRETS, "db", ns),
            "list Secrets": lambda: client.list(SECRETS, ns),
            "patch FlowRun spec": lambda: client.patch(
                FLOWRUNS, "mine", ns, {"spec": {"cancelRequested": True}}
            ),
            "create Job": lambda: client.create(JOBS, {"metadata": {"name": "j"}}, ns),
            "create pod": lambda: client.create(PODS, {"metadata": {"name": "p"}}, ns),
        }
        for elsewhere in (other, outside):  # another runner namespace, and an unrelated one
            refusals |= {
                f"get FlowRun in {elsewhere}": lambda w=elsewhere: client.get(FLOWRUNS, "mine", w),
                f"patch FlowRun status in {elsewhere}": lambda w=elsewhere: client.patch_status(
                    FLOWRUNS, "mine", w, status_patch
                ),
                f"create FlowRun in {elsewhere}": lambda w=elsewhere: client.create(
                    FLOWRUNS, {**run, "metadata": {"name": "x", "namespace": w}}, w
                ),
            }
        messages = {what: refused(call, who) for what, call in refusals.items()}
    finally:
        client.close()
    assert "flowruns/status" in messages[f"patch FlowRun status in {other}"]
    # Nothing was changed by the refused writes.
    assert crds.get_json("flowrun", "mine", "-n", other).get("status", {}).get("runtime") is None
    assert crds.get_json("deployments.baton.dev", "d", "-n", ns)["spec"]["paused"] is False
    assert crds.get_json("flows.baton.dev", "hello", "-n", ns)["spec"]["image"] != "x"
    assert not crds.get_json("flowrun", "mine", "-n", ns)["spec"].get("cancelRequested")
    # Cross-check with the authorizer's own answer for the same requests.
    assert can_i(crds, who, "patch", "flowruns.baton.dev", "--subresource=status", "-n", ns)
    for request in (
        ("create", "deployments.baton.dev", "-n", ns),
        ("patch", "flows.baton.dev", "-n", ns),
        ("patch", "workpools.baton.dev", "-n", ns),
        ("get", "secrets", "-n", ns),
        ("patch", "flowruns.baton.dev", "--subresource=status", "-n", other),
        ("patch", "flowruns.baton.dev", "--subresource=status", "-n", outside),
    ):
        assert not can_i(crds, who, *request), request


# -- a flow's pod writes the runtime's part of its own run only ----------------------------
def test_a_pods_token_writes_only_the_runtime_fields_of_its_own_run(
    crds: Cluster, installed: Installed, tmp_path: Path
) -> None:
    """The chart's ValidatingAdmissionPolicy, with the token a pod really holds.

    RBAC lets the runner patch the status of every FlowRun in its namespace; the policy
    narrows a pod-bound token to the FlowRun whose current Job the pod belongs to, and
    there to the fields the runtime writes (``RUNTIME_FIELDS``).
    """
    ns = installed.namespace
    apply(crds, ns, flow("hello"), deployment("d", "hello"))
    for name in ("own", "other"):
        run = flow_run(name)
        apply(crds, ns, run)
        # What the operator writes when it starts attempt 1 (the operator is not needed
        # here: the policy is the API server's).
        crds.kubectl(
            "patch", "flowrun", name, "-n", ns, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": {
                "state": "Pending", "attempts": 1, "jobName": f"{name}-1", "workPool": "default",
            }}),
        )  # fmt: skip
    # The Job controller names a Job's pods <job>-<5 characters>.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "own-1-x7k2p"},
        "spec": {
            "serviceAccountName": "baton-runner",
            "containers": [{"name": "flow", "image": "baton-examples:0.1.0"}],
        },
    }
    created = json.loads(
        crds.kubectl("create", "-n", ns, "-o", "json", "-f", "-", stdin=json.dumps(pod)).stdout
    )
    path = service_account_kubeconfig(crds, ns, "baton-runner", tmp_path / "pod.yaml", pod=created)
    runtime = {"state": "Running", "message": "from the pod", "attempt": 1}

    def refusal(name: str, status: dict[str, Any]) -> str:
        try:
            client.patch_status(FLOWRUNS, name, ns, {"status": status})
        except ApiError as error:
            assert error.status in (403, 422), error
            return error.message
        raise AssertionError(f"the pod's token wrote {status} to {name}")

    client = KubeClient(from_kubeconfig(path))
    try:
        client.patch_status(FLOWRUNS, "own", ns, {"status": {"runtime": runtime}})
        assert crds.get_json("flowrun", "own", "-n", ns)["status"]["runtime"]["message"] == (
            "from the pod"
        )
        other = refusal("other", {"runtime": {**runtime, "state": "Completed"}})
        assert "pod own-1-x7k2p may write the status of its own FlowRun only" in other
        forged = {
            "jobName": "other-1",
            "workPool": "elsewhere",
            "attempts": 0,
            "state": "Completed",
            "worker": "host-1",
        }
        for field, value in forged.items():
            message = refusal("own", {field: value})
            assert f"may not change status.{field}: the operator owns it" in message, message
    finally:
        client.close()
    status = crds.get_json("flowrun", "own", "-n", ns)["status"]
    assert (status["jobName"], status["workPool"], status["attempts"], status["state"]) == (
        "own-1",
        "default",
        1,
        "Pending",
    )
    assert "runtime" not in crds.get_json("flowrun", "other", "-n", ns)["status"]


# -- blocks: a run reads the blocks it declares, and no other ------------------------------
def test_a_run_reads_only_the_blocks_it_declares(
    operator: OperatorProcess, crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    """A Flow declaring ``faultconnector/warehouse`` gets that block's Secret in its Job's
    projected volume and nothing else; the run loads it, and loading an undeclared block
    (saved in the same namespace) fails with how to declare it. The test plays the
    kubelet: it projects the listed Secrets into a directory and runs ``baton execute``
    with the Job's environment (with admin credentials, so only the runtime's own rule
    stands between the flow and the undeclared block). The password appears nowhere."""
    from pydantic import SecretStr  # noqa: PLC0415

    from baton._store import Cluster as Place  # noqa: PLC0415
    from baton.blocks import Block  # noqa: PLC0415
    from baton.blocks.system import Secret  # noqa: PLC0415

    class FaultConnector(Block):  # the flow's block type (flows/fault_flows.py), as saved
        account: str
        password: SecretStr

    password = f"canary-{uuid.uuid4().hex}"
    other = f"other-{uuid.uuid4().hex}"
    with KubeClient(from_kubeconfig(crds.kubeconfig)) as client:
        place = Place(client, namespace)
        FaultConnector(account="acme", password=SecretStr(password)).save_at(place, "warehouse")
        Secret(value=other).save_at(place, "undeclared")
    apply(
        crds,
        namespace,
        flow("uses", entrypoint="fault_flows.py:uses_blocks", blocks=["faultconnector/warehouse"]),
        pool("default"),
        deployment("d", "uses"),
    )
    apply(crds, namespace, flow_run("blocks", "d"))
    job = job_of(crds, namespace, "blocks")
    pod_spec = job["spec"]["template"]["spec"]
    projected = [v for v in pod_spec["volumes"] if "projected" in v]
    assert [s["secret"]["name"] for v in projected for s in v["projected"]["sources"]] == [
        "baton-block.faultconnector.warehouse"
    ]
    env = job_environment(crds, job)
    assert env["BATON_BLOCKS"] == "faultconnector/warehouse"

    mount = project_blocks(crds, job, tmp_path / "blocks")
    pod = start_pod_command(crds, job, tmp_path / "pod.log", extra_env=mount)
    assert pod.wait(timeout=120) == 0, (tmp_path / "pod.log").read_text()[-3000:]
    job_pod = wait_for(lambda: pod_of(crds, namespace, job["metadata"]["name"]), what="the pod")
    set_pod_status(crds, namespace, job_pod["metadata"]["name"], terminated(0))
    status = wait_state(crds, namespace, "blocks", "Completed")
    preview = status["result"]["preview"]
    assert "'account': 'acme'" in preview, preview
    assert hashlib.sha256(password.encode()).hexdigest() in preview, preview
    assert "secret/undeclared\\' is not declared for this run" in preview, preview
    assert 'blocks: ["secret/undeclared"]' in preview, preview  # how to declare it

    places = {
        "Baton objects": crds.kubectl(
            "get", "flows,workpools,deployments.baton.dev,flowruns", "-n", namespace, "-o", "json"
        ).stdout,
        "Events": crds.kubectl("get", "events", "-n", namespace, "-o", "json").stdout,
        "Jobs and pods": crds.kubectl("get", "jobs,pods", "-n", namespace, "-o", "json").stdout,
        "ConfigMaps": crds.kubectl("get", "configmaps", "-n", namespace, "-o", "json").stdout,
        "operator log": operator.logs(),
        "flow pod output": (tmp_path / "pod.log").read_text(),
    }
    assert "connecting to acme" in places["flow pod output"]
    leaks = [where for where, text in places.items() if password in text or other in text]
    assert leaks == [], f"a block's secret appears in: {leaks}"
