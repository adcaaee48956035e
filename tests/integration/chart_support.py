"""Helpers for the Helm chart's integration tests (test_chart*.py): helm, rendered
documents, server-side dry runs, ServiceAccount credentials, a throwaway release and
the installed operator container run as a local process (the kubelet's part)."""

from __future__ import annotations

import contextlib
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

import yaml

from clusterkit import ROOT, Cluster, controlplane

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


def service_account_kubeconfig(
    cluster: Cluster, namespace: str, name: str, path: Path, *, pod: dict[str, Any] | None = None
) -> Path:
    """A kubeconfig that authenticates as ServiceAccount namespace/name (a bound token).

    With ``pod``, the token is bound to that pod, as the token a pod mounts is.
    """
    bound = []
    if pod is not None:
        bound = [
            "--bound-object-kind=Pod",
            f"--bound-object-name={pod['metadata']['name']}",
            f"--bound-object-uid={pod['metadata']['uid']}",
        ]
    token = cluster.kubectl(
        "create", "token", name, "-n", namespace, "--duration=1h", *bound
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


@contextlib.contextmanager
def install(
    crds: Cluster, *extra: str, values: dict[str, str] | None = None
) -> Iterator[Installed]:
    """A release in fresh namespaces (uninstalled and deleted afterwards).

    Runner namespaces: ``namespace`` and ``other``; the operator watches ``namespace``
    only (other tests' objects on a shared cluster are none of its business). ``extra``
    are more ``helm install`` arguments, ``values`` more ``--set`` pairs.
    """
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
            "--set",
            f"operator.watchNamespaces={{{inst.namespace}}}",
            *extra,
            *set_args(values or {}),
        )
        inst.manifest = documents(
            helm(crds, "get", "manifest", inst.release, "-n", inst.namespace).stdout
        )
        yield inst
    finally:
        helm(crds, "uninstall", inst.release, "-n", inst.namespace, check=False)
        for ns in (inst.namespace, inst.other, inst.outside):
            crds.kubectl("delete", "namespace", ns, "--wait=false", check=False)


# -- the installed operator, run as the kubelet would run its container ------------------
@dataclass
class OperatorPod:
    """The chart's operator container, run as a local process (the kubelet's part)."""

    proc: subprocess.Popen[bytes]
    health_port: int
    ready_port: int
    metrics_port: int
    log: Path

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"the operator exited with {self.proc.returncode}:\n"
                + self.log.read_text(errors="replace")[-3000:]
            )

    def get(self, port: int, path: str) -> tuple[int, str]:
        self.alive()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status), response.read().decode()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _env_value(var: dict[str, Any], installed: Installed, pod_name: str) -> str:
    """A container variable as the kubelet resolves it (values and the pod's own fields)."""
    if "value" in var:
        return str(var["value"])
    field_path = var["valueFrom"]["fieldRef"]["fieldPath"]
    return {"metadata.namespace": installed.namespace, "metadata.name": pod_name}[field_path]


def start_operator(crds: Cluster, installed: Installed, workdir: Path) -> OperatorPod:
    """The installed Deployment's command, args and env, with the operator's SA token.

    Only the three listening ports change (free local ports instead of 8080/8081/9090).
    """
    deployment = crds.get_json("deployments.apps", installed.release, "-n", installed.namespace)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"][0] == "baton"
    health_port, metrics_port = controlplane.free_port(), controlplane.free_port()
    ready_port = controlplane.free_port()
    local = {
        "--liveness=": f"--liveness=http://127.0.0.1:{health_port}/healthz",
        "--readiness=": f"--readiness=http://127.0.0.1:{ready_port}/readyz",
        "--metrics-port=": f"--metrics-port={metrics_port}",
    }
    args = [next((v for k, v in local.items() if a.startswith(k)), a) for a in container["args"]]
    assert sum(a != b for a, b in zip(args, container["args"], strict=True)) == 3, args
    kubeconfig = service_account_kubeconfig(
        crds, installed.namespace, pod["serviceAccountName"], workdir / "operator.kubeconfig"
    )
    pod_name = f"{installed.release}-0"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "KUBECONFIG": str(kubeconfig),
        **{e["name"]: _env_value(e, installed, pod_name) for e in container.get("env", [])},
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
    return OperatorPod(proc, health_port, ready_port, metrics_port, log)
