"""Helpers for the Helm chart's integration tests (test_chart*.py): helm, rendered
documents, server-side dry runs, ServiceAccount credentials and a throwaway release."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clusterkit import ROOT, Cluster

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
def install(crds: Cluster, *extra: str) -> Iterator[Installed]:
    """A release in fresh namespaces (uninstalled and deleted afterwards).

    Runner namespaces: ``namespace`` and ``other``; the operator watches ``namespace``
    only (other tests' objects on a shared cluster are none of its business). ``extra``
    are more ``helm install`` arguments.
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
        )
        inst.manifest = documents(
            helm(crds, "get", "manifest", inst.release, "-n", inst.namespace).stdout
        )
        yield inst
    finally:
        helm(crds, "uninstall", inst.release, "-n", inst.namespace, check=False)
        for ns in (inst.namespace, inst.other, inst.outside):
            crds.kubectl("delete", "namespace", ns, "--wait=false", check=False)
