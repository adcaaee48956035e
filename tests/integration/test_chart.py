"""The Helm chart (charts/baton) against the real API server.

``helm lint``; the rendered chart, with default and with other values, accepted by the
API server (``kubectl apply --dry-run=server``); ``helm install`` creating every object;
and the RBAC of the operator's and the flow pods' ServiceAccounts by ``kubectl auth
can-i``. test_chart_identities.py then does real work under those identities.

No kubelet runs here: the installed operator pod is created but never starts.
"""

from __future__ import annotations

import json
import shlex
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from chart_support import (
    CHART,
    Installed,
    can_i,
    documents,
    dry_run_server,
    find,
    helm,
    install,
    kinds,
    set_args,
    sources_per_file,
)

from clusterkit import Cluster

pytestmark = pytest.mark.integration


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
        "Role": 2,  # the runner's, and the operator's on its leader-election Lease
        "RoleBinding": 2,
        "Service": 1,
        "Deployment": 1,
        "WorkPool": 1,
        "ValidatingAdmissionPolicy": 1,  # a flow's pod writes only its own run's runtime fields
        "ValidatingAdmissionPolicyBinding": 1,
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
    assert "--readiness=http://0.0.0.0:8081/readyz" in container["args"]
    assert "--upgrade-crds" in container["args"]
    assert "--metrics-port=9090" in container["args"]
    # Two probes: liveness is kopf's cheap /healthz, readiness the operator's /readyz.
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ready"}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "health": 8080,
        "ready": 8081,
        "metrics": 9090,
    }
    # crds.upgrade: get/patch on Baton's CRDs, by name.
    crd_rules = [
        r
        for r in find(docs, "ClusterRole")["rules"]
        if r["apiGroups"] == ["apiextensions.k8s.io"] and "patch" in r["verbs"]
    ]
    assert [sorted(r["resourceNames"]) for r in crd_rules] == [
        [
            "automations.baton.dev",
            "deployments.baton.dev",
            "flowruns.baton.dev",
            "flows.baton.dev",
            "workpools.baton.dev",
        ]
    ]
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
            "Role": 5,  # runner and operator in each watched namespace, and the Lease's
            "RoleBinding": 5,
            "Service": 1,
            "Deployment": 1,
            "PodDisruptionBudget": 1,
            "ServiceMonitor": 1,
            "WorkPool": 2,
            "ValidatingAdmissionPolicy": 1,
            "ValidatingAdmissionPolicyBinding": 1,
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
        assert "--metrics-port=9191" in args
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
            bindings = {
                b["subjects"][0]["name"]: b
                for b in docs
                if b["kind"] == "RoleBinding"
                and b["metadata"]["namespace"] == ns
                and not b["roleRef"]["name"].endswith("-leader-election")
            }
            assert bindings["acme-flows"]["subjects"] == [
                {"kind": "ServiceAccount", "name": "acme-flows", "namespace": ns}
            ]
            # Watched namespaces: the operator's namespaced rights are a Role there.
            assert bindings["acme-operator"]["subjects"] == [
                {"kind": "ServiceAccount", "name": "acme-operator", "namespace": namespace}
            ]
            roles = {d["metadata"]["name"] for d in docs if d["kind"] == "Role"}
            assert {b["roleRef"]["name"] for b in bindings.values()} <= roles
            operator_role = next(
                d
                for d in docs
                if d["kind"] == "Role"
                and d["metadata"]["namespace"] == ns
                and d["metadata"]["name"] == bindings["acme-operator"]["roleRef"]["name"]
            )
            assert any("jobs" in r["resources"] for r in operator_role["rules"])
        assert not any("jobs" in r["resources"] for r in rules)
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
                "crds.upgrade": "false",
            }
        ),
    ).stdout
    docs = documents(rendered)
    # (The FlowRun status policy is not RBAC: flowRunStatusPolicy.enabled decides it.)
    assert kinds(docs) == {
        "Deployment": 1,
        "ValidatingAdmissionPolicy": 1,
        "ValidatingAdmissionPolicyBinding": 1,
    }
    assert (
        "--upgrade-crds"
        not in find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    assert find(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == (
        "platform-operator"
    )
    assert dry_run_server(crds, docs)[0].endswith("(server dry run)")


# -- a real install -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(crds: Cluster) -> Iterator[Installed]:
    with install(crds) as inst:
        yield inst


def test_install_creates_every_object(crds: Cluster, installed: Installed) -> None:
    status = json.loads(
        helm(crds, "status", installed.release, "-n", installed.namespace, "-o", "json").stdout
    )
    assert status["info"]["status"] == "deployed"
    notes = status["info"]["notes"]
    assert "kubectl -n" in notes and "get flowruns -w" in notes and "get baton" in notes
    docs = installed.manifest
    assert kinds(docs) == {
        "ServiceAccount": 3,
        "ClusterRole": 1,
        "ClusterRoleBinding": 1,
        "Role": 4,  # the runner's in two namespaces, the operator's in the watched one,
        "RoleBinding": 4,  # and the operator's on its Lease
        "Service": 1,
        "Deployment": 1,
        "WorkPool": 2,
        "ValidatingAdmissionPolicy": 1,
        "ValidatingAdmissionPolicyBinding": 1,
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


# The release watches {namespace} only (operator.watchNamespaces): its rights on
# namespaced objects are a Role there, so it creates Jobs nowhere else.
OPERATOR_MAY = [
    ("watch", "flowruns.baton.dev", "-n", "{namespace}"),
    ("list", "flows.baton.dev", "-n", "{namespace}"),
    ("watch", "workpools.baton.dev", "-n", "{namespace}"),
    ("watch", "deployments.baton.dev", "-n", "{namespace}"),
    ("create", "flowruns.baton.dev", "-n", "{namespace}"),
    ("delete", "flowruns.baton.dev", "-n", "{namespace}"),
    ("patch", "flowruns.baton.dev", "--subresource=status", "-n", "{namespace}"),
    ("patch", "deployments.baton.dev", "--subresource=status", "-n", "{namespace}"),
    ("patch", "workpools.baton.dev", "--subresource=status", "-n", "{namespace}"),
    ("patch", "flows.baton.dev", "--subresource=status", "-n", "{namespace}"),
    ("create", "jobs.batch", "-n", "{namespace}"),
    ("delete", "jobs.batch", "-n", "{namespace}"),
    ("watch", "jobs.batch", "-n", "{namespace}"),
    ("watch", "pods", "-n", "{namespace}"),
    ("create", "events", "-n", "{namespace}"),
    ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
    # crds.upgrade: the operator applies its own version's CRDs at start.
    ("get", "customresourcedefinitions.apiextensions.k8s.io/flowruns.baton.dev"),
    ("patch", "customresourcedefinitions.apiextensions.k8s.io/flowruns.baton.dev"),
    ("patch", "customresourcedefinitions.apiextensions.k8s.io/workpools.baton.dev"),
    ("list", "namespaces"),  # only because operator.watchNamespaces is set
]
#: Outside the watched namespaces (a runner namespace it does not watch, or any other).
OPERATOR_MAY_NOT_OUTSIDE = [
    ("create", "jobs.batch", "-n", "{outside}"),
    ("create", "jobs.batch", "-n", "{other}"),
    ("delete", "jobs.batch", "-n", "{outside}"),
    ("create", "flowruns.baton.dev", "-n", "{outside}"),
    ("patch", "flowruns.baton.dev", "--subresource=status", "-n", "{outside}"),
    ("create", "events", "-n", "{outside}"),
    ("watch", "jobs.batch", "--all-namespaces"),
    ("watch", "pods", "--all-namespaces"),
    ("watch", "flowruns.baton.dev", "--all-namespaces"),
]
OPERATOR_MAY_NOT = [
    *OPERATOR_MAY_NOT_OUTSIDE,
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
    ("delete", "customresourcedefinitions.apiextensions.k8s.io/flowruns.baton.dev"),
    ("patch", "customresourcedefinitions.apiextensions.k8s.io/jobs.example.com"),
    ("update", "customresourcedefinitions.apiextensions.k8s.io/flowruns.baton.dev"),
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
    # run_deployment (baton.deployments): a child run of a Deployment of its namespace.
    ("create", "flowruns.baton.dev"),
]
RUNNER_MAY_NOT = [
    ("create", "jobs.batch"),
    ("get", "secrets"),
    ("list", "secrets"),
    ("patch", "deployments.baton.dev"),
    ("patch", "deployments.baton.dev", "--subresource=status"),
    ("patch", "flowruns.baton.dev"),  # spec
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


REPOSITORY_PATHS = ("examples/", "argocd/", "charts/", "docs/", "hack/", "minimal.yaml")


def notes_of(cluster: Cluster, namespace: str, *values: str) -> str:
    """NOTES.txt as `helm install --dry-run` renders it (what a user sees after install)."""
    out = helm(
        cluster, "install", "notes", str(CHART), "-n", namespace, "--dry-run=client", *values
    ).stdout
    return out.split("\nNOTES:\n", 1)[1]


def test_notes_name_no_repository_path(crds: Cluster, namespace: str) -> None:
    """NOTES.txt works from an installed chart: no file of this repository, commands a
    user can run (kubectl, helm, the baton CLI) for this release and its namespaces."""
    default = notes_of(crds, namespace)
    other = notes_of(
        crds,
        namespace,
        "--set",
        "runner.namespaces={etl,ml}",
        "--set",
        "crds.upgrade=false",
        "--set",
        "metrics.service.enabled=false",
    )
    for notes in (default, other):
        assert [p for p in REPOSITORY_PATHS if p in notes] == []
        assert "--reuse-values" not in notes
        assert f"helm -n {namespace} get values notes -o yaml > baton-values.yaml" in notes
        assert f"kubectl -n {namespace} rollout status deployment/notes-baton" in notes
    assert f"kubectl -n {namespace} get flowruns -w" in default
    assert f"baton -n {namespace} ui" in default
    assert "helm upgrade upgrades them too" in default
    assert "Metrics: service/notes-baton-metrics, port 9090" in default
    assert "kubectl -n etl get flowruns -w" in other and "baton -n etl runs" in other
    assert "runner.namespaces: [etl, ml, another]" in other
    assert "crds.upgrade=false" in other and "Metrics:" not in other


def test_notes_commands_run_against_the_installed_release(
    crds: Cluster, installed: Installed
) -> None:
    """Every `kubectl ... get` line of the installed release's notes runs as written
    (watches and commands that need a running pod aside: no kubelet here)."""
    notes = json.loads(
        helm(crds, "status", installed.release, "-n", installed.namespace, "-o", "json").stdout
    )["info"]["notes"]
    commands = [
        shlex.split(line.split("#")[0])
        for line in notes.splitlines()
        if line.strip().startswith("kubectl ") and " get " in line and " -w" not in line
    ]
    assert len(commands) >= 3, notes
    for argv in commands:
        result = crds.kubectl(*argv[1:])
        assert result.stdout.strip(), argv
    pools = crds.kubectl("-n", installed.namespace, "get", "workpools", "-o", "name").stdout
    assert pools.strip() == "workpool.baton.dev/default"


def test_helm_show_readme_is_the_generated_readme(cluster: Cluster, tmp_path: Path) -> None:
    shown = helm(cluster, "show", "readme", str(CHART)).stdout
    # helm adds a trailing newline of its own.
    assert shown.rstrip("\n") == (CHART / "README.md").read_text().rstrip("\n")
    assert "| `crds.upgrade` | bool | `true` |" in shown
    # The packaged chart carries the README, not its template (.helmignore).
    helm(cluster, "package", str(CHART), "-d", str(tmp_path))
    (package,) = tmp_path.glob("baton-*.tgz")
    with tarfile.open(package) as tar:
        names = tar.getnames()
    assert "baton/README.md" in names and "baton/README.md.gotmpl" not in names


# -- the operator and a flow pod, each with the chart's identity -------------------------
