"""A Prefect tutorial's command lines with `prefect` replaced by `baton`, on the real API server.

`deployment ls|inspect|run|pause|resume|delete`, `deployment schedule create|ls|pause|
resume|delete`, `work-pool create|ls|inspect|pause|resume` and `flow-run ls|inspect|
cancel`, checked against what the API server then holds. The operator runs, so the
Deployment's next fire time is the operator's own.
"""

from __future__ import annotations

import pytest
import yaml
from worker_helpers import baton

from clusterkit import OperatorProcess
from kube_helpers import apply, wait_for

pytestmark = pytest.mark.integration


def test_prefect_command_words(operator: OperatorProcess, namespace: str) -> None:
    cluster = operator.cluster
    ns = ("-n", namespace)

    def words(*argv: str) -> str:
        return baton(cluster, *argv, *ns).stdout

    assert 'work pool "etl-pool" created (process)' in words(
        "work-pool", "create", "etl-pool", "--type", "process", "--concurrency-limit", "2"
    )
    pool = cluster.get_json("workpool", "etl-pool", *ns)
    assert pool["spec"] == {**pool["spec"], "type": "process", "concurrencyLimit": 2}
    again = baton(cluster, "work-pool", "create", "etl-pool", *ns, check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert words("work-pool", "ls").splitlines()[1].split()[:4] == [
        "etl-pool",
        "process",
        "no",
        "2",
    ]
    words("work-pool", "pause", "etl-pool")
    assert cluster.get_json("workpool", "etl-pool", *ns)["spec"]["paused"] is True
    words("work-pool", "resume", "etl-pool")
    assert yaml.safe_load(words("work-pool", "inspect", "etl-pool"))["spec"]["paused"] is False

    apply(
        cluster,
        namespace,
        {
            "apiVersion": "baton.dev/v1alpha1",
            "kind": "Flow",
            "metadata": {"name": "etl"},
            "spec": {"image": "local", "entrypoint": "flows/etl.py:etl"},
        },
        {
            "apiVersion": "baton.dev/v1alpha1",
            "kind": "Deployment",
            "metadata": {"name": "nightly"},
            "spec": {"flowRef": {"name": "etl"}, "workPoolRef": {"name": "etl-pool"}},
        },
    )
    # Prefect's `deployment schedule create` with a cron in a time zone, then an interval.
    created = words(
        "deployment", "schedule", "create", "etl/nightly", "--cron", "0 9 * * *",
        "--timezone", "Europe/Berlin",
    )  # fmt: skip
    assert "schedule 1 created: cron 0 9 * * * (Europe/Berlin)" in created
    words("deployment", "schedule", "create", "nightly", "--interval", "3600")

    def schedules() -> list[dict[str, object]]:
        keys = ("cron", "interval", "timezone", "active")
        found = cluster.get_json("bdep", "nightly", *ns)["spec"]["schedules"]
        return [{k: s[k] for k in keys if k in s} for s in found]

    assert schedules() == [
        {"cron": "0 9 * * *", "timezone": "Europe/Berlin", "active": True},
        {"interval": 3600, "timezone": "UTC", "active": True},
    ]
    listed = words("deployment", "schedule", "ls", "nightly").splitlines()
    assert [line.split()[0] for line in listed[1:]] == ["1", "2"]
    words("deployment", "schedule", "pause", "nightly", "2")
    assert schedules()[1]["active"] is False
    assert words("deployment", "schedule", "ls", "nightly").splitlines()[2].split()[-1] == "no"
    words("deployment", "schedule", "resume", "nightly", "2")
    assert schedules()[1]["active"] is True
    words("deployment", "schedule", "delete", "nightly", "1")
    assert schedules() == [{"interval": 3600, "timezone": "UTC", "active": True}]
    bad = baton(cluster, "deployment", "schedule", "delete", "nightly", "7", *ns, check=False)
    assert bad.returncode == 1 and "pick one of 1..1" in bad.stderr
    invalid = baton(
        cluster, "deployment", "schedule", "create", "nightly", "--cron", "61 * * * *", *ns,
        check=False,
    )  # fmt: skip
    assert invalid.returncode == 1 and "61" in invalid.stderr

    # The operator's next fire time shows in `deployment ls`.
    wait_for(
        lambda: (cluster.get_json("bdep", "nightly", *ns).get("status") or {}).get("nextRunTime"),
        30,
        "the operator to compute the next fire time",
    )
    row = words("deployment", "ls").splitlines()[1].split()
    assert row[:4] == ["etl/nightly", "etl-pool", "interval", "3600s"] and row[-1] != "-"
    assert yaml.safe_load(words("deployment", "inspect", "etl/nightly"))["metadata"]["name"] == (
        "nightly"
    )

    words("deployment", "pause", "etl/nightly")
    assert cluster.get_json("bdep", "nightly", *ns)["spec"]["paused"] is True
    words("deployment", "resume", "nightly")
    ran = words("deployment", "run", "etl/nightly", "--param", "day=2026-12-01")
    name = ran.split('"')[1]
    assert name.startswith("nightly-custom-")
    assert words("flow-run", "ls", "-o", "name").split() == [name]
    assert name in words("flow-run", "inspect", name).splitlines()[0]
    assert "cancel requested" in words("flow-run", "cancel", name)

    assert 'deployment "nightly" deleted' in words("deployment", "delete", "etl/nightly")
    wait_for(
        lambda: (
            baton(cluster, "deployment", "inspect", "nightly", *ns, check=False).returncode == 1
        ),
        30,
        "the deployment to be gone",
    )
