"""The automations component's identity, from the chart, checked with real requests.

It reads only the Secrets named in ``automations.secretNames`` (by resourceNames, in
the runner namespaces), may write what its actions need and nothing more, and the
operator's own rights do not grow: docs/security.md ("Automations") cites this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chart_support import (
    CHART,
    Installed,
    can_i,
    documents,
    helm,
    install,
    kinds,
    service_account_kubeconfig,
)

from baton._kube.client import ApiError, Kind, KubeClient
from baton._kube.config import from_kubeconfig
from clusterkit import Cluster

pytestmark = pytest.mark.integration

SECRETS = Kind("", "v1", "secrets")


@pytest.fixture(scope="module")
def installed(crds: Cluster) -> Iterator[Installed]:
    with install(
        crds, "--set", "automations.enabled=true", "--set", "automations.secretNames={slack}"
    ) as inst:
        yield inst


def test_default_install_has_no_automations_rights(crds: Cluster) -> None:
    docs = documents(helm(crds, "template", "baton", str(CHART)).stdout)
    assert not [d for d in docs if "automations" in d["metadata"]["name"]]
    assert kinds(docs)["Deployment"] == 1  # the operator alone


def test_automations_identity_reads_only_the_named_secrets(
    crds: Cluster, installed: Installed, tmp_path: Path
) -> None:
    ns, other, outside = installed.namespace, installed.other, installed.outside
    for where in (ns, other, outside):
        for name in ("slack", "db"):
            crds.kubectl("create", "secret", "generic", name, "--from-literal=url=x", "-n", where)
    sa = f"{installed.release}-automations"
    who = f"system:serviceaccount:{ns}:{sa}"
    path = service_account_kubeconfig(crds, ns, sa, tmp_path / "automations.yaml")
    client = KubeClient(from_kubeconfig(path))
    try:
        for where in (ns, other):  # the runner namespaces
            assert client.get(SECRETS, "slack", where)["metadata"]["name"] == "slack"
        for call in (
            lambda: client.get(SECRETS, "db", ns),
            lambda: client.get(SECRETS, "slack", outside),
            lambda: client.list(SECRETS, ns),
        ):
            with pytest.raises(ApiError) as refused:
                call()
            assert refused.value.status == 403, refused.value
    finally:
        client.close()
    # What its actions need, in the watched namespace only.
    for request in (
        ("patch", "deployments.baton.dev", "-n", ns),
        ("patch", "flowruns.baton.dev", "-n", ns),
        ("create", "flowruns.baton.dev", "-n", ns),
        ("patch", "automations.baton.dev", "--subresource=status", "-n", ns),
        ("create", "events", "-n", ns),
    ):
        assert can_i(crds, who, *request), request
    for request in (
        ("patch", "deployments.baton.dev", "-n", outside),
        ("create", "jobs.batch", "-n", ns),
        ("create", "pods", "-n", ns),
        ("patch", "workpools.baton.dev", "-n", ns),
        ("patch", "flows.baton.dev", "-n", ns),
        ("watch", "secrets", "-n", ns),
    ):
        assert not can_i(crds, who, *request), request


def test_the_operator_gains_nothing(crds: Cluster, installed: Installed) -> None:
    who = installed.operator_sa
    ns = installed.namespace
    for request in (
        ("get", "secrets/slack", "-n", ns),
        ("list", "secrets", "-n", ns),
        ("patch", "deployments.baton.dev", "-n", ns),
        ("patch", "flowruns.baton.dev", "-n", ns),
        ("get", "automations.baton.dev", "-n", ns),
    ):
        assert not can_i(crds, who, *request), request
