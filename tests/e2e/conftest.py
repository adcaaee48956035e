"""The e2e tier: a private control plane, a real node and the operator installed by Helm.

Nothing is simulated: tests/cluster/node.py starts containerd, the kubelet and the
scheduler from the pinned build, the images come from tests/cluster/images.sh, and the
operator runs in a pod from the chart, exactly as users install it. If any of it cannot
start, every e2e test errors: a missing node is a failure, never a skip.

One node runs per machine, so the session owns it; tests share it and each takes a
namespace of its own from the ones the chart was installed for (runner ServiceAccount,
Role and the WorkPool "default" in each).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from clusterkit import ROOT, Cluster, NodeCluster, controlplane, node

#: Runner namespaces the chart is installed for: at least one per e2e test.
RUNNER_NAMESPACES = [f"e2e-{i}" for i in range(10)]
#: Short grace periods so lifecycle tests finish quickly (production: 15/30 s).
OPERATOR_ENV = {"BATON_REPORT_GRACE_SECONDS": "3", "BATON_CANCEL_GRACE_SECONDS": "6"}


@pytest.fixture(scope="session")
def node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeCluster]:
    if not (ROOT / ".cluster" / "bin" / "helm").exists():
        subprocess.run(["bash", str(ROOT / "tests" / "cluster" / "tools.sh")], check=True)
    images = node.build_images()
    bin_dir = controlplane.build()
    workdir = tmp_path_factory.mktemp("e2e")
    plane = controlplane.ControlPlane(workdir=workdir / "plane")
    plane.start(bin_dir)
    the_node = node.Node(workdir=workdir / "node")
    try:
        the_node.start(plane, bin_dir, images)
        cluster = Cluster(plane.kubeconfig, ROOT / ".cluster" / "bin" / "kubectl")
        for namespace in RUNNER_NAMESPACES:
            cluster.kubectl("create", "namespace", namespace)
        node.install_operator(plane.kubeconfig, RUNNER_NAMESPACES, env=OPERATOR_ENV)
        yield NodeCluster(cluster, list(RUNNER_NAMESPACES))
    finally:
        the_node.stop()
        plane.stop()


@pytest.fixture
def runner_namespace(node_cluster: NodeCluster) -> str:
    """A namespace with the chart's runner identity and WorkPool "default", for one test."""
    assert node_cluster.free_namespaces, "more e2e tests than RUNNER_NAMESPACES"
    return node_cluster.free_namespaces.pop(0)
