"""A run's own options and the manifests the UI creates: pure logic, no cluster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from baton.cli.runs import custom_run
from baton.contract import LABEL_DEPLOYMENT, LABEL_FLOW, LABEL_POOL
from baton.resources import Flow, WorkPool
from baton.ui import flows, forms, pools
from baton.ui.runs import run_selector

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
DEPLOYMENT = {
    "metadata": {"name": "etl", "uid": "u-1"},
    "spec": {"flowRef": {"name": "extract"}, "workPoolRef": {"name": "night"}},
}


def test_no_options_means_a_generated_name_and_now() -> None:
    options = forms.run_options({}, NOW)
    assert (options.name, options.start, options.errors) == (None, None, {})


@pytest.mark.parametrize("name", ["etl-once", "a", "etl.v2", "x" * 253])
def test_a_subdomain_name_is_kept(name: str) -> None:
    options = forms.run_options({"run.name": name}, NOW)
    assert options.name == name
    assert options.errors == {}


@pytest.mark.parametrize("name", ["Bad_Name", "-etl", "etl-", "e..t", "x" * 254, "ünï"])
def test_a_name_kubernetes_refuses_is_an_error_beside_its_field(name: str) -> None:
    options = forms.run_options({"run.name": name}, NOW)
    assert options.name is None
    assert "not a valid name" in options.errors["run.name"][0]
    assert options.typed["run.name"] == name


def test_a_future_start_is_read_as_utc() -> None:
    options = forms.run_options({"run.start": "2026-05-02T09:30"}, NOW)
    assert options.start == datetime(2026, 5, 2, 9, 30, tzinfo=UTC)
    offset = forms.run_options({"run.start": "2026-05-02T09:30:00+02:00"}, NOW)
    assert offset.start == datetime(2026, 5, 2, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-05-01T11:59", "2026-05-01T12:00", "2020-01-01T00:00"])
def test_a_past_start_is_now(text: str) -> None:
    options = forms.run_options({"run.start": text}, NOW)
    assert options.start is None
    assert options.errors == {}


def test_a_start_that_is_no_time_is_an_error() -> None:
    options = forms.run_options({"run.start": "tomorrow"}, NOW)
    assert options.errors["run.start"] == ["'tomorrow' is not a date and time"]


def test_a_deployment_run_is_owned_labelled_and_scheduled() -> None:
    start = NOW + timedelta(hours=1)
    run = custom_run(DEPLOYMENT, {"n": 1}, "etl-once", scheduled_time=start)
    assert run["metadata"]["name"] == "etl-once"
    assert run["metadata"]["ownerReferences"][0]["name"] == "etl"
    labels = run["metadata"]["labels"]
    assert (labels[LABEL_DEPLOYMENT], labels[LABEL_FLOW], labels[LABEL_POOL]) == (
        "etl",
        "extract",
        "night",
    )
    assert run["spec"] == {
        "deploymentRef": {"name": "etl"},
        "parameters": {"n": 1},
        "scheduledTime": "2026-05-01T13:00:00Z",
    }
    assert "scheduledTime" not in custom_run(DEPLOYMENT, {}, "etl-now")["spec"]


def test_an_ad_hoc_run_names_its_flow_and_pool() -> None:
    run = custom_run(None, {"n": 2}, "extract-custom-abcde", flow="extract", pool="night")
    assert run["spec"] == {
        "flowRef": {"name": "extract"},
        "workPoolRef": {"name": "night"},
        "parameters": {"n": 2},
    }
    assert "ownerReferences" not in run["metadata"]
    labels = run["metadata"]["labels"]
    assert LABEL_DEPLOYMENT not in labels
    assert (labels[LABEL_FLOW], labels[LABEL_POOL]) == ("extract", "night")
    default_pool = custom_run(None, {}, "x", flow="extract")
    assert "workPoolRef" not in default_pool["spec"]
    assert default_pool["metadata"]["labels"][LABEL_POOL] == "default"


def test_run_filters_are_one_label_selector() -> None:
    assert run_selector({"deployment": "", "flow": "", "pool": ""}) is None
    assert run_selector({"deployment": "etl", "flow": "", "pool": "night"}) == (
        f"{LABEL_DEPLOYMENT}=etl,{LABEL_POOL}=night"
    )
    assert run_selector({"flow": "extract"}) == f"{LABEL_FLOW}=extract"


def test_a_worker_is_healthy_until_the_pools_heartbeat_timeout() -> None:
    pool = WorkPool.model_validate(
        {
            "metadata": {"name": "p"},
            "spec": {"type": "process", "heartbeatTimeoutSeconds": 30},
            "status": {
                "workers": [
                    {"name": "fresh", "lastHeartbeat": "2026-05-01T11:59:40Z", "running": 1},
                    {"name": "silent", "lastHeartbeat": "2026-05-01T11:59:30Z"},
                ]
            },
        }
    )
    rows = pools.workers(pool, NOW)
    assert [(w.name, w.healthy, w.running) for w in rows] == [
        ("fresh", True, 1),
        ("silent", False, 0),
    ]


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (None, "image runtime:1"),
        ({"configMap": {"name": "code", "sha256": "a" * 64}}, "ConfigMap code"),
        (
            {"git": {"url": "https://git.example/r.git", "ref": "main"}},
            "git https://git.example/r.git @ main",
        ),
        (
            {"git": {"url": "https://git.example/r.git", "commit": "b" * 40, "subPath": "etl"}},
            f"git https://git.example/r.git @ {'b' * 40} (etl)",
        ),
    ],
)
def test_a_flows_source_in_a_few_words(source: dict[str, object] | None, shown: str) -> None:
    spec: dict[str, object] = {"image": "runtime:1", "entrypoint": "flows/etl.py:etl"}
    if source is not None:
        spec["source"] = source
    assert flows.source(Flow.model_validate({"metadata": {"name": "etl"}, "spec": spec})) == shown
