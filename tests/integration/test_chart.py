"""The Helm chart (charts/baton) against the real API server.

What is checked here: ``helm lint``; the rendered chart, with default and with other
values, accepted by the API server (``kubectl apply --dry-run=server``); ``helm install``
creating every object; the RBAC of the operator's and the flow pods' ServiceAccounts,
both with ``kubectl auth can-i`` and by doing the real work under those identities.

No kubelet runs here, so the operator pod the chart deploys never starts, and neither
does a flow pod. Where a test needs them, it plays the kubelet's part explicitly: it
runs the container's own command and arguments (read back from the installed
Deployment, or from the Job the operator created) as a local process, authenticated
with a token of the pod's ServiceAccount, so the process has the chart's RBAC and
nothing more.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import controlplane
from argocd_lua import health
from conftest import ROOT, Cluster

pytestmark = pytest.mark.integration

CHART = ROOT / "charts" / "baton"
HELM = ROOT / ".cluster" / "bin" / "helm"
BATON = Path(sys.executable).parent / "baton"


# -- helpers ------------------------------------------------------------------------------
def helm(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(HELM), f"--kubeconfig={cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result


def set_args(values: dict[str, str]) -> list[str]:
    return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]


def documents(manifest: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(manifest) if d]


def kinds(docs: list[dict[str, Any]]) -> Counter[str]:
    return Counter(d["kind"] for d in docs)


def find(docs: list[dict[str, Any]], kind: str, namespace: str | None = None) -> dict[str, Any]:
    found = [
        d for d in docs if d["kind"] == kind and namespace in (None, d["metadata"].get("namespace"))
    ]
    assert len(found) == 1, f"{len(found)} {kind} in {namespace}"
    return found[0]


def dry_run_server(cluster: Cluster, docs: list[dict[str, Any]]) -> list[str]:
    """Apply with --dry-run=server; the lines kubectl printed (one per object)."""
    stream = "\n---\n".join(yaml.safe_dump(d) for d in docs)
    result = cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=stream)
    return result.stdout.splitlines()


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def sources_per_file(manifest: str) -> dict[str, set[str]]:
    """Template file -> kinds it rendered (from helm's "# Source:" comments)."""
    per_file: dict[str, set[str]] = {}
    source = ""
    for line in manifest.splitlines():
        if line.startswith("# Source: "):
            source = line.removeprefix("# Source: ")
        elif line.startswith("kind: "):
            per_file.setdefault(source, set()).add(line.removeprefix("kind: "))
    return per_file


def service_account_kubeconfig(cluster: Cluster, namespace: str, name: str, path: Path) -> Path:
    """A kubeconfig that authenticates as ServiceAccount namespace/name (a bound token)."""
    token = cluster.kubectl(
        "create", "token", name, "-n", namespace, "--duration=1h"
    ).stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c["context"] for c in admin["contexts"] if c["name"] == admin["current-context"])
    entry = next(c["cluster"] for c in admin["clusters"] if c["name"] == context["cluster"])
    for key in ("certificate-authority",):
        if key in entry and not Path(entry[key]).is_absolute():
            entry[key] = str((cluster.kubeconfig.parent / entry[key]).resolve())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": entry}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [
            {"name": "sa", "context": {"cluster": "c", "user": name, "namespace": namespace}}
        ],
        "current-context": "sa",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def can_i(cluster: Cluster, who: str, *request: str) -> bool:
    result = cluster.kubectl("auth", "can-i", *request, f"--as={who}", check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stderr
    return answer == "yes"


# -- lint and render ----------------------------------------------------------------------
NON_DEFAULT = {
    "replicaCount": "2",
    "fullnameOverride": "acme-orchestrator",
    "serviceAccount.name": "acme-operator",
    "runner.serviceAccount.name": "acme-flows",
    "defaultWorkPool.concurrencyLimit": "3",
    "operator.verbose": "true",
    "metrics.port": "9191",
}


def test_lint_is_clean(cluster: Cluster) -> None:
    for extra in ([], [*set_args(NON_DEFAULT), "--set", "runner.namespaces={a,b}"]):
        result = helm(cluster, "lint", "--strict", str(CHART), *extra)
        assert result.stdout.strip().endswith("1 chart(s) linted, 0 chart(s) failed")
        assert "[INFO]" not in result.stdout and "[WARNING]" not in result.stdout
        assert "[ERROR]" not in result.stdout


def test_default_values_render_and_apply_server_side(crds: Cluster, namespace: str) -> None:
    rendered = helm(crds, "template", "baton", str(CHART), "-n", namespace).stdout
    docs = documents(rendered)
    assert kinds(docs) == {
        "ServiceAccount": 2,  # operator + runner
        "ClusterRole": 1,
        "ClusterRoleBinding": 1,
        "Role": 1,
        "RoleBinding": 1,
        "Service": 1,
        "Deployment": 1,
        "WorkPool": 1,
    }
    # Helm best practice: one resource (kind) per template file.
    assert all(len(k) == 1 for k in sources_per_file(rendered).values())
    # Everything namespaced lands in the release namespace by default.
    assert {d["metadata"].get("namespace") for d in docs} == {namespace, None}
    deployment = find(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["baton", "operator"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "health": 8080,
        "metrics": 9090,
    }
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["resources"]["requests"] and container["resources"]["limits"]
    pool = find(docs, "WorkPool")
    assert pool["metadata"]["name"] == "default"
    assert pool["spec"]["jobTemplate"]["serviceAccountName"] == "baton-runner"
    printed = dry_run_server(crds, docs)
    assert len(printed) == len(docs)
    assert all(line.endswith("(server dry run)") for line in printed), printed


def test_non_default_values_render_and_apply_server_side(crds: Cluster, namespace: str) -> None:
    """Two replicas, renamed objects, two runner namespaces, and a ServiceMonitor.

    This cluster has no Prometheus Operator, so it does not serve the ServiceMonitor
    kind. The chart refuses to render one then (a clear error at install time beats
    "no matches for kind" halfway through). Rendered anyway with --api-versions, as
    for a cluster that has it, every object but the ServiceMonitor is accepted, and
    the ServiceMonitor is rejected by the API server for exactly that reason.
    """
    other = f"{namespace}-b"
    crds.kubectl("create", "namespace", other)
    try:
        values = [
            *set_args(NON_DEFAULT),
            "--set",
            f"runner.namespaces={{{namespace},{other}}}",
            "--set",
            f"operator.watchNamespaces={{{namespace},{other}}}",
            "--set",
            "metrics.serviceMonitor.enabled=true",
        ]
        refused = helm(crds, "template", "r", str(CHART), "-n", namespace, *values, check=False)
        assert refused.returncode != 0
        assert "does not serve monitoring.coreos.com/v1 ServiceMonitor" in refused.stderr
        rendered = helm(
            crds,
            "template",
            "r",
            str(CHART),
            "-n",
            namespace,
            *values,
            "--api-versions",
            "monitoring.coreos.com/v1/ServiceMonitor",
        ).stdout
        docs = documents(rendered)
        assert kinds(docs) == {
            "ServiceAccount": 3,  # operator + a runner in each namespace
            "ClusterRole": 1,
            "ClusterRoleBinding": 1,
            "Role": 2,
            "RoleBinding": 2,
            "Service": 1,
            "Deployment": 1,
            "PodDisruptionBudget": 1,
            "ServiceMonitor": 1,
            "WorkPool": 2,
        }
        assert all(len(k) == 1 for k in sources_per_file(rendered).values())
        # Names follow fullnameOverride and the service account values.
        assert find(docs, "ClusterRole")["metadata"]["name"] == "acme-orchestrator-operator"
        binding = find(docs, "ClusterRoleBinding")
        assert binding["roleRef"]["name"] == "acme-orchestrator-operator"
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "acme-operator", "namespace": namespace}
        ]
        deployment = find(docs, "Deployment")
        assert deployment["metadata"]["name"] == "acme-orchestrator"
        assert deployment["spec"]["replicas"] == 2
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "acme-operator"
        args = pod["containers"][0]["args"]
        assert f"--namespace={namespace}" in args and f"--namespace={other}" in args
        assert "--verbose" in args
        assert {"name": "BATON_METRICS_PORT", "value": "9191"} in pod["containers"][0]["env"]
        # Watching listed namespaces: kopf needs to list/watch namespaces.
        rules = find(docs, "ClusterRole")["rules"]
        assert {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]} in rules
        pdb = find(docs, "PodDisruptionBudget")
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
        for ns in (namespace, other):
            pool = find(docs, "WorkPool", ns)
            assert pool["spec"]["jobTemplate"]["serviceAccountName"] == "acme-flows"
            assert pool["spec"]["concurrencyLimit"] == 3
            role_binding = find(docs, "RoleBinding", ns)
            assert role_binding["subjects"] == [
                {"kind": "ServiceAccount", "name": "acme-flows", "namespace": ns}
            ]
            assert role_binding["roleRef"]["name"] == find(docs, "Role", ns)["metadata"]["name"]
        monitor = find(docs, "ServiceMonitor")
        service = find(docs, "Service")
        assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= (
            service["metadata"]["labels"].items()
        )
        assert service["spec"]["ports"][0]["targetPort"] == "metrics"

        others = [d for d in docs if d["kind"] != "ServiceMonitor"]
        printed = dry_run_server(crds, others)
        assert len(printed) == len(others)
        assert all(line.endswith("(server dry run)") for line in printed), printed
        rejected = crds.kubectl(
            "apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(monitor), check=False
        )
        assert rejected.returncode != 0
        assert 'no matches for kind "ServiceMonitor"' in rejected.stderr
    finally:
        crds.kubectl("delete", "namespace", other, "--wait=false", check=False)


def test_bring_your_own_rbac(crds: Cluster, namespace: str) -> None:
    """rbac.create=false and serviceAccount.create=false: nothing of either is created,
    and the Deployment still names the ServiceAccount (Helm's RBAC convention)."""
    rendered = helm(
        crds,
        "template",
        "byo",
        str(CHART),
        "-n",
        namespace,
        *set_args(
            {
                "rbac.create": "false",
                "serviceAccount.create": "false",
                "serviceAccount.name": "platform-operator",
                "runner.rbac.create": "false",
                "runner.serviceAccount.create": "false",
                "defaultWorkPool.create": "false",
                "metrics.service.enabled": "false",
            }
        ),
    ).stdout
    docs = documents(rendered)
    assert kinds(docs) == {"Deployment": 1}
    assert find(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == (
        "platform-operator"
    )
    assert dry_run_server(crds, docs)[0].endswith("(server dry run)")


# -- a real install -----------------------------------------------------------------------
@dataclass
class Installed:
    release: str
    namespace: str  # the release namespace, also a runner namespace, watched by the operator
    other: str  # a second runner namespace
    outside: str  # a namespace the chart knows nothing about
    manifest: list[dict[str, Any]] = field(default_factory=list)

    @property
    def operator_sa(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.release}"

    def runner_sa(self, namespace: str | None = None) -> str:
        return f"system:serviceaccount:{namespace or self.namespace}:baton-runner"


@pytest.fixture(scope="module")
def installed(crds: Cluster) -> Iterator[Installed]:
    suffix = uuid.uuid4().hex[:8]
    # The release name contains "baton", so object names are just the release name.
    inst = Installed(f"baton-{suffix}", f"c-{suffix}", f"c-{suffix}-b", f"c-{suffix}-x")
    for ns in (inst.namespace, inst.other, inst.outside):
        crds.kubectl("create", "namespace", ns)
    try:
        helm(
            crds,
            "install",
            inst.release,
            str(CHART),
            "-n",
            inst.namespace,
            "--set",
            f"runner.namespaces={{{inst.namespace},{inst.other}}}",
            # Watch only our namespace: other tests' objects on this cluster are not ours.
            "--set",
            f"operator.watchNamespaces={{{inst.namespace}}}",
        )
        inst.manifest = documents(
            helm(crds, "get", "manifest", inst.release, "-n", inst.namespace).stdout
        )
        yield inst
    finally:
        helm(crds, "uninstall", inst.release, "-n", inst.namespace, check=False)
        for ns in (inst.namespace, inst.other, inst.outside):
            crds.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_install_creates_every_object(crds: Cluster, installed: Installed) -> None:
    status = json.loads(
        helm(crds, "status", installed.release, "-n", installed.namespace, "-o", "json").stdout
    )
    assert status["info"]["status"] == "deployed"
    notes = status["info"]["notes"]
    assert "kubectl -n" in notes and "get flowruns -w" in notes and "get baton" in notes
    assert "examples/minimal.yaml" in notes
    docs = installed.manifest
    assert kinds(docs) == {
        "ServiceAccount": 3,
        "ClusterRole": 1,
        "ClusterRoleBinding": 1,
        "Role": 2,
        "RoleBinding": 2,
        "Service": 1,
        "Deployment": 1,
        "WorkPool": 2,
    }
    for doc in docs:
        meta = doc["metadata"]
        where = ["-n", meta["namespace"]] if "namespace" in meta else []
        plural = {"WorkPool": "workpools.baton.dev", "Deployment": "deployments.apps"}.get(
            doc["kind"], doc["kind"].lower()
        )
        live = crds.get_json(plural, meta["name"], *where)
        assert live["metadata"]["labels"]["app.kubernetes.io/instance"] == installed.release
        assert live["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    operator = crds.get_json("deployments.apps", installed.release, "-n", installed.namespace)
    assert operator["spec"]["replicas"] == 1
    # The control plane has no kubelet: the pod is created but never becomes ready.
    assert operator["status"].get("readyReplicas") is None
    for ns in (installed.namespace, installed.other):
        pool = crds.get_json("workpools.baton.dev", "default", "-n", ns)
        assert pool["spec"]["jobTemplate"]["serviceAccountName"] == "baton-runner"
        crds.get_json("serviceaccount", "baton-runner", "-n", ns)
    assert (
        crds.kubectl(
            "get", "workpools.baton.dev", "-n", installed.outside, "-o", "name"
        ).stdout.strip()
        == ""
    )


OPERATOR_MAY = [
    ("watch", "flowruns.baton.dev", "--all-namespaces"),
    ("list", "flows.baton.dev", "--all-namespaces"),
    ("watch", "workpools.baton.dev", "--all-namespaces"),
    ("watch", "deployments.baton.dev", "--all-namespaces"),
    ("create", "flowruns.baton.dev", "-n", "{outside}"),
    ("delete", "flowruns.baton.dev", "-n", "{outside}"),
    ("patch", "flowruns.baton.dev", "--subresource=status", "-n", "{outside}"),
    ("patch", "deployments.baton.dev", "--subresource=status", "-n", "{outside}"),
    ("patch", "workpools.baton.dev", "--subresource=status", "-n", "{outside}"),
    ("patch", "flows.baton.dev", "--subresource=status", "-n", "{outside}"),
    ("create", "jobs.batch", "-n", "{outside}"),
    ("delete", "jobs.batch", "-n", "{outside}"),
    ("watch", "jobs.batch", "--all-namespaces"),
    ("watch", "pods", "--all-namespaces"),
    ("create", "events", "-n", "{outside}"),
    ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
    ("list", "namespaces"),  # only because operator.watchNamespaces is set
]
OPERATOR_MAY_NOT = [
    ("get", "secrets", "-n", "{namespace}"),
    ("list", "secrets", "--all-namespaces"),
    ("get", "configmaps", "-n", "{outside}"),
    ("patch", "deployments.baton.dev", "-n", "{outside}"),  # spec: never
    ("update", "flowruns.baton.dev", "-n", "{outside}"),
    ("patch", "flows.baton.dev", "-n", "{outside}"),
    ("delete", "deployments.baton.dev", "-n", "{outside}"),
    ("patch", "jobs.batch", "-n", "{outside}"),
    ("create", "pods", "-n", "{outside}"),
    ("delete", "pods", "-n", "{outside}"),
    ("create", "pods", "--subresource=exec", "-n", "{outside}"),
    ("create", "deployments.apps", "-n", "{outside}"),
    ("create", "customresourcedefinitions.apiextensions.k8s.io"),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
    ("create", "serviceaccounts", "--subresource=token", "-n", "{namespace}"),
]


def _fill(request: tuple[str, ...], inst: Installed) -> list[str]:
    return [
        part.format(namespace=inst.namespace, other=inst.other, outside=inst.outside)
        for part in request
    ]


def test_operator_service_account_has_least_privilege(crds: Cluster, installed: Installed) -> None:
    allowed = [
        r for r in OPERATOR_MAY if not can_i(crds, installed.operator_sa, *_fill(r, installed))
    ]
    assert allowed == [], f"operator may not, but must: {allowed}"
    denied = [
        r for r in OPERATOR_MAY_NOT if can_i(crds, installed.operator_sa, *_fill(r, installed))
    ]
    assert denied == [], f"operator may, but must not: {denied}"


RUNNER_MAY = [
    ("get", "flowruns.baton.dev"),
    ("patch", "flowruns.baton.dev", "--subresource=status"),
    ("create", "configmaps"),
    ("get", "configmaps"),
    ("list", "configmaps"),
    ("patch", "configmaps"),
    ("delete", "configmaps"),
]
RUNNER_MAY_NOT = [
    ("create", "jobs.batch"),
    ("get", "secrets"),
    ("list", "secrets"),
    ("patch", "deployments.baton.dev"),
    ("patch", "deployments.baton.dev", "--subresource=status"),
    ("patch", "flowruns.baton.dev"),  # spec
    ("create", "flowruns.baton.dev"),
    ("delete", "flowruns.baton.dev"),
    ("patch", "workpools.baton.dev"),
    ("patch", "flows.baton.dev"),
    ("create", "pods"),
    ("list", "pods"),
    ("create", "serviceaccounts", "--subresource=token"),
    ("update", "configmaps"),
    ("watch", "configmaps"),
]


def test_runner_service_account_is_confined_to_its_namespace(
    crds: Cluster, installed: Installed
) -> None:
    for ns in (installed.namespace, installed.other):
        who = installed.runner_sa(ns)
        missing = [r for r in RUNNER_MAY if not can_i(crds, who, *r, "-n", ns)]
        assert missing == [], f"runner in {ns} may not, but must: {missing}"
        extra = [r for r in RUNNER_MAY_NOT if can_i(crds, who, *r, "-n", ns)]
        assert extra == [], f"runner in {ns} may, but must not: {extra}"
        # Nothing at all in another namespace, not even its own kind of work.
        for elsewhere in (
            installed.outside,
            installed.other if ns != installed.other else installed.namespace,
        ):
            leaked = [r for r in RUNNER_MAY if can_i(crds, who, *r, "-n", elsewhere)]
            assert leaked == [], f"runner of {ns} reaches into {elsewhere}: {leaked}"
        assert not can_i(crds, who, "get", "flowruns.baton.dev", "--all-namespaces")


# -- the operator and a flow pod, each with the chart's identity -------------------------
@dataclass
class Scenario:
    operator_log: str
    execute: subprocess.CompletedProcess[str]
    liveness: int
    objects: dict[str, dict[str, Any]]
    job: dict[str, Any]


def _start_operator(
    crds: Cluster, installed: Installed, workdir: Path
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """The operator container's command and arguments, as a local process (kubelet's part)."""
    deployment = crds.get_json("deployments.apps", installed.release, "-n", installed.namespace)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"][0] == "baton"
    port = controlplane.free_port()
    args = [
        f"--liveness=http://127.0.0.1:{port}/healthz" if a.startswith("--liveness=") else a
        for a in container["args"]
    ]
    assert args != container["args"], "the chart sets --liveness"
    kubeconfig = service_account_kubeconfig(
        crds, installed.namespace, pod["serviceAccountName"], workdir / "operator.kubeconfig"
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "KUBECONFIG": str(kubeconfig),
        **{e["name"]: e["value"] for e in container["env"]},
    }
    log = workdir / "operator.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BATON), *container["command"][1:], *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
    return proc, port, log


@pytest.fixture(scope="module")
def scenario(
    crds: Cluster, installed: Installed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    """examples/minimal.yaml (every 5 s instead of every minute), end to end.

    The operator runs as the chart's operator ServiceAccount: it must schedule a
    FlowRun, admit it into the chart's default WorkPool and create its Job. The flow
    pod's part is then played by `baton execute` with the Job's environment, in
    examples/ (laid out as /opt/baton/flow is in the examples image), as the runner
    ServiceAccount: it must report the run to Completed, which the operator adopts.
    """
    ns = installed.namespace
    workdir = tmp_path_factory.mktemp("chart-scenario")
    proc, port, log = _start_operator(crds, installed, workdir)
    try:
        docs = documents((ROOT / "examples" / "minimal.yaml").read_text())
        find(docs, "Deployment")["spec"]["schedules"] = [{"interval": 5}]
        crds.kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump_all(docs))

        def first_job() -> dict[str, Any] | None:
            items = crds.get_json("jobs.batch", "-n", ns, "-l", "baton.dev/deployment=hello")
            jobs = sorted(items["items"], key=lambda j: j["metadata"]["name"])
            return jobs[0] if jobs else None

        job: dict[str, Any] = wait_for(first_job, "the operator to create a Job", timeout=60)
        liveness = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status
        pod_spec = job["spec"]["template"]["spec"]
        assert pod_spec["serviceAccountName"] == "baton-runner"
        container = pod_spec["containers"][0]
        assert container["command"] == ["baton", "execute"]
        kubeconfig = service_account_kubeconfig(
            crds, ns, pod_spec["serviceAccountName"], workdir / "runner.kubeconfig"
        )
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(workdir),
            "KUBECONFIG": str(kubeconfig),
            **{e["name"]: e["value"] for e in container["env"]},
        }
        executed = subprocess.run(
            [str(BATON), *container["command"][1:]],
            cwd=ROOT / "examples",
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        run_name = env["BATON_FLOW_RUN_NAME"]

        def completed() -> bool:
            run = crds.get_json("flowruns.baton.dev", run_name, "-n", ns)
            return (run.get("status") or {}).get("state") == "Completed"

        if executed.returncode == 0:
            wait_for(completed, "the operator to adopt the reported final state", timeout=30)
        # Stop creating runs before reading the objects Argo CD would look at.
        crds.kubectl(
            "patch", "deployments.baton.dev", "hello", "-n", ns, "--type=merge",
            "-p", '{"spec": {"paused": true}}',
        )  # fmt: skip
        wait_for(
            lambda: (
                crds.get_json("deployments.baton.dev", "hello", "-n", ns)["status"].get(
                    "observedGeneration"
                )
                == crds.get_json("deployments.baton.dev", "hello", "-n", ns)["metadata"][
                    "generation"
                ]
            ),
            "the operator to observe the paused Deployment",
            timeout=30,
        )
        objects = {
            "Flow": crds.get_json("flows.baton.dev", "hello", "-n", ns),
            "Deployment": crds.get_json("deployments.baton.dev", "hello", "-n", ns),
            "WorkPool": crds.get_json("workpools.baton.dev", "default", "-n", ns),
            "FlowRun": crds.get_json("flowruns.baton.dev", run_name, "-n", ns),
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    yield Scenario(log.read_text(errors="replace"), executed, liveness, objects, job)


def test_operator_and_flow_pod_work_with_the_charts_rbac_alone(scenario: Scenario) -> None:
    assert scenario.liveness == 200
    log = scenario.operator_log
    for sign in ("403", "Forbidden", "forbidden", "Not enough permissions", "Traceback"):
        assert sign not in log, f"operator log shows {sign!r}:\n{log[-4000:]}"
    assert "could not record event" not in log
    assert scenario.execute.returncode == 0, scenario.execute.stderr[-4000:]
    assert "403" not in scenario.execute.stderr and "Forbidden" not in scenario.execute.stderr
    run = scenario.objects["FlowRun"]
    assert run["status"]["state"] == "Completed"
    assert run["status"]["result"]["preview"] == "'Hello, world!'"
    assert scenario.objects["Deployment"]["status"]["observedGeneration"] >= 1
    assert scenario.objects["WorkPool"]["status"]["observedGeneration"] == 1


def test_argocd_health_of_the_live_objects(scenario: Scenario) -> None:
    """The Lua health checks on objects the real operator and runtime wrote."""
    verdicts = {kind: health(kind, obj) for kind, obj in scenario.objects.items()}
    assert verdicts["Flow"][0] == "Healthy", verdicts
    assert verdicts["WorkPool"][0] == "Healthy", verdicts
    assert verdicts["FlowRun"][0] == "Healthy", verdicts
    assert verdicts["FlowRun"][1].startswith("Completed"), verdicts
    # Paused at the end of the scenario.
    assert verdicts["Deployment"][0] == "Suspended", verdicts
