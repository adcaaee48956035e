"""``helm upgrade`` across a CRD change, on a real API server of its own.

The older chart is today's with a Flow CRD that lacks a property (``spec.description``)
and a printer column (``Entrypoint``), as a chart from before they existed would be.
Helm installs its crds/ on the first install and never upgrades them, so after ``helm
upgrade`` to today's chart the CRD is still the old one; the upgraded operator then
applies its own version's CRDs when it starts (``--upgrade-crds``, from the chart),
with only the chart's RBAC. After that the API server serves the new column, keeps
the new property, and the objects created under the old CRD are still there.

A private control plane, because this test replaces cluster-wide CRDs (the session's
shared one has today's). No kubelet runs: the upgraded operator container is run as a
local process with its ServiceAccount's token (chart_support.start_operator).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import CHART, Installed, helm, start_operator, wait_for

from baton import __version__
from baton.controller.crds import FIELD_MANAGER, VERSION_ANNOTATION
from clusterkit import ROOT, Cluster, controlplane
from kube_helpers import apply, flow

pytestmark = pytest.mark.integration

RELEASE, NAMESPACE = "baton", "baton-system"


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cp = controlplane.ControlPlane(workdir=tmp_path_factory.mktemp("upgrade-plane"))
    cp.start(controlplane.build())
    try:
        yield Cluster(cp.kubeconfig, ROOT / ".cluster" / "bin" / "kubectl")
    finally:
        cp.stop()


def older_chart(target: Path) -> Path:
    """Today's chart as version 0.1.0, whose Flow CRD has no spec.description and no
    Entrypoint column."""
    shutil.copytree(CHART, target)
    meta = yaml.safe_load((target / "Chart.yaml").read_text())
    (target / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": "0.1.0"}))
    path = target / "crds" / "flows.baton.dev.yaml"
    crd = yaml.safe_load(path.read_text())
    version = crd["spec"]["versions"][0]
    del version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["description"]
    version["additionalPrinterColumns"] = [
        c for c in version["additionalPrinterColumns"] if c["name"] != "Entrypoint"
    ]
    path.write_text(yaml.safe_dump(crd, sort_keys=False))
    return target


def flow_crd(cluster: Cluster) -> dict[str, Any]:
    crd: dict[str, Any] = cluster.get_json(
        "customresourcedefinition", "flows.baton.dev", "--show-managed-fields"
    )
    return crd


def columns(crd: dict[str, Any]) -> list[str]:
    return [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]


def has_description(crd: dict[str, Any]) -> bool:
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return "description" in spec["properties"]


def test_helm_upgrade_brings_the_new_crds_and_keeps_the_objects(
    plane: Cluster, tmp_path: Path
) -> None:
    old = older_chart(tmp_path / "baton-old")
    helm(plane, "install", RELEASE, str(old), "-n", NAMESPACE, "--create-namespace")
    plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(ROOT / "crds"))
    before = flow_crd(plane)
    assert "Entrypoint" not in columns(before) and not has_description(before)
    # Under the old schema, the field it does not know is dropped (kubectl would refuse
    # it client-side; --validate=false sends it, as a GitOps tool might).
    plane.kubectl(
        "apply", "--validate=false", "-n", NAMESPACE, "-f", "-",
        stdin=json.dumps(flow("etl", description="nightly ETL")),
    )  # fmt: skip
    created = plane.get_json("flows.baton.dev", "etl", "-n", NAMESPACE)
    assert "description" not in created["spec"]
    pool = plane.get_json("workpools.baton.dev", "default", "-n", NAMESPACE)

    # Helm alone: the release is upgraded, its crds/ are not (this is the gap).
    helm(plane, "upgrade", RELEASE, str(CHART), "-n", NAMESPACE)
    assert not has_description(flow_crd(plane))

    # The upgraded operator, as its container runs, with the chart's RBAC only.
    installed = Installed(RELEASE, NAMESPACE, NAMESPACE, NAMESPACE)
    operator = start_operator(plane, installed, tmp_path)
    try:

        def ready() -> dict[str, Any] | None:
            operator.alive()
            try:
                code, body = operator.get(operator.ready_port, "/readyz")
            except OSError:  # not listening yet, or 503 (urllib raises HTTPError)
                return None
            return json.loads(body) if code == 200 else None

        body = wait_for(ready, "the upgraded operator to be ready", timeout=90)
        assert body["facts"]["startup"] == "ok"
        after = flow_crd(plane)
    finally:
        operator.stop()
    log = operator.log.read_text(errors="replace")
    assert "Entrypoint" in columns(after) and has_description(after), log[-3000:]
    assert "applied the CRDs of Baton" in log and "Traceback" not in log, log[-3000:]
    assert after["metadata"]["annotations"][VERSION_ANNOTATION] == __version__
    assert FIELD_MANAGER in {m["manager"] for m in after["metadata"]["managedFields"]}
    # Every CRD is today's, as crds/ has it.
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        ours = yaml.safe_load(path.read_text())
        live = plane.get_json("customresourcedefinition", ours["metadata"]["name"])
        assert live["spec"]["versions"] == ours["spec"]["versions"], path.name
    # The objects survived, and the new field is now kept.
    kept = plane.get_json("flows.baton.dev", "etl", "-n", NAMESPACE)
    assert kept["metadata"]["uid"] == created["metadata"]["uid"]
    survived = plane.get_json("workpools.baton.dev", "default", "-n", NAMESPACE)
    assert survived["metadata"]["uid"] == pool["metadata"]["uid"]
    apply(plane, NAMESPACE, flow("etl", description="nightly ETL"))
    kept = plane.get_json("flows.baton.dev", "etl", "-n", NAMESPACE)
    assert kept["spec"]["description"] == "nightly ETL"
    table = plane.kubectl("get", "flows.baton.dev", "-n", NAMESPACE).stdout
    assert "ENTRYPOINT" in table.splitlines()[0] and "flows/etl.py:etl" in table

    # Uninstall leaves the CRDs and the objects (Helm never deletes crds/).
    helm(plane, "uninstall", RELEASE, "-n", NAMESPACE)
    assert (
        plane.get_json("flows.baton.dev", "etl", "-n", NAMESPACE)["metadata"]["uid"]
        == (created["metadata"]["uid"])
    )
