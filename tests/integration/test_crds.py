"""The generated CRDs on the real API server: examples apply, bad input is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from clusterkit import ROOT, Cluster
from kube_helpers import wait_for

pytestmark = pytest.mark.integration

INVALID = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))


def expected_message(path: Path) -> str:
    match = re.search(r"^# expect: (.+)$", path.read_text(), re.MULTILINE)
    assert match, f"{path.name} has no '# expect:' line"
    return match.group(1)


@pytest.mark.parametrize(
    "example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name
)
def test_example_applies(crds: Cluster, namespace: str, example: Path) -> None:
    crds.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", str(example))
    crds.kubectl("apply", "-n", namespace, "-f", str(example))
    applied = crds.get_json("baton", "-n", namespace)["items"]
    documents = [d for d in yaml.safe_load_all(example.read_text()) if d]
    assert {(o["kind"], o["metadata"]["name"]) for o in applied} == {
        (d["kind"], d["metadata"]["name"]) for d in documents
    }


def test_invalid_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 20


@pytest.mark.parametrize("manifest", INVALID, ids=lambda p: p.stem)
def test_invalid_manifest_is_refused(crds: Cluster, namespace: str, manifest: Path) -> None:
    result = crds.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", str(manifest), check=False
    )
    assert result.returncode != 0, f"{manifest.name} was accepted"
    assert expected_message(manifest) in result.stderr


def test_defaults_come_from_the_schema(crds: Cluster, namespace: str) -> None:
    crds.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "baton.dev/v1alpha1",
                "kind": "Deployment",
                "metadata": {"name": "d"},
                "spec": {"flowRef": {"name": "f"}, "schedules": [{"cron": "*/5 * * * *"}]},
            }
        ),
    )
    spec = crds.get_json("deployments.baton.dev", "d", "-n", namespace)["spec"]
    assert spec["workPoolRef"] == {"name": "default"}
    assert spec["catchup"] == {"policy": "Latest", "maxRuns": 10}
    assert spec["schedules"][0] == {
        "cron": "*/5 * * * *",
        "timezone": "UTC",
        "dayOr": True,
        "active": True,
        "parameters": {},
    }
    assert spec["lateAfterSeconds"] == 15
    assert "concurrency" not in spec


def _flow_run(name: str, **spec: object) -> str:
    return json.dumps(
        {
            "apiVersion": "baton.dev/v1alpha1",
            "kind": "FlowRun",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


#: (spec at creation, merge patch, the field the API server must blame). Each patch is a
#: way round a rule written on the field itself (``self == oldSelf``), which the API
#: server skips when the old object has no value for the field.
BYPASSES = [
    ({"deploymentRef": {"name": "d"}}, {"scheduledTime": "2030-01-01T00:00:00Z"}, "scheduledTime"),
    ({"deploymentRef": {"name": "d"}, "scheduledTime": "2030-01-01T00:00:00Z"},
     {"scheduledTime": None}, "scheduledTime"),
    ({"deploymentRef": {"name": "d"}}, {"deploymentRef": None, "flowRef": {"name": "f"}},
     "deploymentRef"),
    ({"flowRef": {"name": "f"}}, {"flowRef": None, "deploymentRef": {"name": "d"}}, "flowRef"),
    ({"flowRef": {"name": "f"}}, {"flowRef": {"name": "g"}}, "flowRef"),
    ({"deploymentRef": {"name": "d"}, "parameters": {"x": 1}}, {"parameters": {"x": 2}},
     "parameters"),
]  # fmt: skip


@pytest.mark.parametrize(("created", "patch", "field"), BYPASSES, ids=lambda v: str(v)[:40])
def test_flowrun_spec_cannot_be_changed_added_or_swapped(
    crds: Cluster, namespace: str, created: dict[str, object], patch: dict[str, object], field: str
) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", "-", stdin=_flow_run("r", **created))
    refused = crds.kubectl(
        "patch", "flowrun", "r", "-n", namespace, "--type=merge",
        "-p", json.dumps({"spec": patch}), check=False,
    )  # fmt: skip
    assert refused.returncode != 0, f"{patch} was accepted"
    # fieldPath names the field, reason FieldValueInvalid makes it "Invalid value".
    assert f"spec.{field}: Invalid value" in refused.stderr, refused.stderr
    assert f"{field} is fixed at creation" in refused.stderr, refused.stderr
    after = crds.get_json("flowrun", "r", "-n", namespace)["spec"]
    assert {k: after.get(k) for k in created} == created


def test_cancel_request_is_one_way(crds: Cluster, namespace: str) -> None:
    crds.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=_flow_run("r", deploymentRef={"name": "d"})
    )
    # The one spec field that may change after creation, once.
    crds.kubectl(
        "patch", "flowrun", "r", "-n", namespace, "--type=merge",
        "-p", '{"spec": {"cancelRequested": true}}',
    )  # fmt: skip
    withdrawn = crds.kubectl(
        "patch", "flowrun", "r", "-n", namespace, "--type=merge",
        "-p", '{"spec": {"cancelRequested": false}}', check=False,
    )  # fmt: skip
    assert "spec.cancelRequested: Forbidden: a cancel request cannot be withdrawn" in (
        withdrawn.stderr
    ), withdrawn.stderr


def test_printer_columns_and_category(crds: Cluster, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples" / "full.yaml"))
    headers = {
        "flowruns": ["NAME", "DEPLOYMENT", "STATE", "SCHEDULED", "DURATION", "AGE"],
        "deployments.baton.dev": [
            "NAME",
            "FLOW",
            "POOL",
            "SCHEDULE",
            "PAUSED",
            "LAST",
            "NEXT",
            "READY",
            "AGE",
        ],
        "workpools": ["NAME", "TYPE", "PAUSED", "LIMIT", "RUNNING", "QUEUED", "AGE"],
        "flows": ["NAME", "IMAGE", "ENTRYPOINT", "READY", "AGE"],
    }
    for resource, columns in headers.items():
        out = crds.kubectl("get", resource, "-n", namespace).stdout
        assert out.splitlines()[0].split() == columns, out
    pool_row = crds.kubectl("get", "wp", "etl-pool", "-n", namespace).stdout.splitlines()[1]
    assert pool_row.split()[:4] == ["etl-pool", "kubernetes", "false", "4"]
    everything = crds.kubectl("get", "baton", "-n", namespace).stdout
    for kind in (
        "workpool.baton.dev/etl-pool",
        "flow.baton.dev/etl",
        "deployment.baton.dev/etl",
        "flowrun.baton.dev/etl-custom-1",
    ):
        assert kind in everything
    for short in ("fr", "bdep", "wp", "bfl"):
        assert crds.kubectl("get", short, "-n", namespace).returncode == 0


def test_status_only_through_the_subresource(crds: Cluster, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples" / "minimal.yaml"))
    crds.kubectl(
        "patch",
        "flow",
        "hello",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"status": {"observedGeneration": 7}}',
    )
    # A write to the main resource silently drops status: the subresource owns it.
    flow = crds.get_json("flow", "hello", "-n", namespace)
    assert flow.get("status", {}).get("observedGeneration") != 7
    crds.kubectl(
        "patch",
        "flow",
        "hello",
        "-n",
        namespace,
        "--type=merge",
        "--subresource=status",
        "-p",
        '{"status": {"observedGeneration": 7}}',
    )
    assert crds.get_json("flow", "hello", "-n", namespace)["status"]["observedGeneration"] == 7


def test_conditions_are_validated_like_metav1_condition(crds: Cluster, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(ROOT / "examples" / "minimal.yaml"))

    def write(condition: dict[str, object]) -> str:
        patch = {"status": {"conditions": [condition]}}
        done = crds.kubectl(
            "patch", "flow", "hello", "-n", namespace, "--type=merge", "--subresource=status",
            "-p", json.dumps(patch), check=False,
        )  # fmt: skip
        return done.stderr if done.returncode else ""

    refused = write({"type": "Ready", "status": "True"})
    for field in ("reason", "message", "lastTransitionTime"):
        assert f"status.conditions[0].{field}: Required value" in refused, refused
    good = {
        "type": "Ready",
        "status": "True",
        "reason": "ParameterSchemaValid",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    assert write(good) == ""
    assert "status.conditions[0].reason" in write({**good, "reason": "not a reason"})
    assert "status.conditions[0].status" in write({**good, "status": "Yes"})
    assert "status.conditions[0].message" in write({**good, "message": "x" * 32769})


def test_kubectl_explain_describes_nested_fields(crds: Cluster) -> None:
    """kubectl explain reads the published OpenAPI: every field says what it is."""

    def explained() -> str:
        done = crds.kubectl("explain", "flowrun.status.history", check=False)
        return done.stdout if "FIELDS:" in done.stdout else ""

    text = wait_for(explained, 30, "the FlowRun schema in the API server's OpenAPI")
    assert "Recent state transitions (bounded)." in text
    for field, description in (
        ("state", "The state entered."),
        ("timestamp", "When it was entered."),
        ("reason", "CamelCase reason for the change."),
    ):
        assert re.search(rf"^\s+{field}\s", text, re.MULTILINE), text
        assert description in text, text
    assert "`" not in text
    items = crds.kubectl("explain", "flowrun.status.taskRuns.items").stdout
    assert "Task run name, e.g. extract-0." in items
    spec = crds.kubectl("explain", "workpool.spec").stdout
    assert "Where and how runs execute" in spec
