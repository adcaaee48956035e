"""The operator's metric helpers: request labels, per-object series and their removal.

The values an operator exports after a real scenario are checked in
tests/integration/test_metrics_scrape.py; here the label mapping and the bookkeeping.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from baton import __version__
from baton.controller import metrics

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("method", "path", "watch", "labels"),
    [
        ("GET", "/apis/baton.dev/v1alpha1/namespaces/ns/flowruns", False, ("list", "flowruns")),
        ("GET", "/apis/baton.dev/v1alpha1/namespaces/ns/flowruns/r", False, ("get", "flowruns")),
        ("GET", "/apis/batch/v1/jobs", True, ("watch", "jobs")),
        ("POST", "/api/v1/namespaces/ns/pods", False, ("create", "pods")),
        (
            "PATCH",
            "/apis/baton.dev/v1alpha1/namespaces/ns/workpools/p/status",
            False,
            ("patch", "workpools/status"),
        ),
        ("DELETE", "/apis/batch/v1/namespaces/ns/jobs/j", False, ("delete", "jobs")),
        ("GET", "/version", False, ("get", "other")),
    ],
)
def test_request_labels_are_the_api_servers_verbs_and_resources(
    method: str, path: str, watch: bool, labels: tuple[str, str]
) -> None:
    assert metrics.request_labels(method, path, watch=watch) == labels


def value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_a_deleted_deployments_series_are_removed() -> None:
    who = {"namespace": "unit-ns", "deployment": "gone"}
    nxt = datetime(2030, 1, 1, tzinfo=UTC)
    metrics.observe_deployment(
        "unit-ns", "gone", next_fire=nxt, last_scheduled=None, active_runs=2, paused=False
    )
    metrics.run_finished("unit-ns", "gone", "Completed", 3.0)
    assert value("baton_deployment_next_schedule_time_seconds", **who) == nxt.timestamp()
    assert value("baton_deployment_last_schedule_time_seconds", **who) is None
    assert value("baton_deployment_active_runs", **who) == 2
    assert value("baton_deployment_paused", **who) == 0
    assert value("baton_flow_runs_finished_total", **who, state="Completed") == 1
    assert value("baton_flow_run_duration_seconds_count", **who) == 1
    metrics.forget_deployment("unit-ns", "gone")
    for name in (
        "baton_deployment_next_schedule_time_seconds",
        "baton_deployment_active_runs",
        "baton_deployment_paused",
        "baton_flow_run_duration_seconds_count",
    ):
        assert value(name, **who) is None, name
    assert value("baton_flow_runs_finished_total", **who, state="Completed") is None


def test_a_deleted_pools_series_are_removed() -> None:
    metrics.POOL_ACTIVE.labels("unit-ns", "p").set(3)
    metrics.POOL_QUEUED.labels("unit-ns", "p").set(1)
    metrics.forget_pool("unit-ns", "p")
    assert value("baton_work_pool_active_runs", namespace="unit-ns", pool="p") is None
    assert value("baton_work_pool_queued_runs", namespace="unit-ns", pool="p") is None


def test_build_info() -> None:
    samples = [
        s
        for m in REGISTRY.collect()
        if m.name == "baton_build_info"
        for s in m.samples
        if s.labels.get("version") == __version__
    ]
    assert [s.value for s in samples] == [1.0]
