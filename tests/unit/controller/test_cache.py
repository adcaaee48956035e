"""The run controller's cache: which keys each watch event makes worth reconciling."""

from __future__ import annotations

from typing import Any

import pytest

from baton.controller.cache import ClusterCache, replaced
from baton.resources import Deployment, FlowRun

pytestmark = pytest.mark.unit


def obj(name: str, generation: int = 1, **rest: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "generation": generation}, **rest}


def job(name: str, owner: str) -> dict[str, Any]:
    body = obj(name)
    body["metadata"]["ownerReferences"] = [{"kind": "FlowRun", "name": owner}]
    return body


def run(name: str, state: str | None = None, deployment: str = "d") -> dict[str, Any]:
    return obj(
        name, spec={"deploymentRef": {"name": deployment}}, status={"state": state} if state else {}
    )


def test_runs_are_indexed_by_their_deployments_pool() -> None:
    cache = ClusterCache()
    cache.deployment_event("ADDED", obj("d", spec={"workPoolRef": {"name": "gpu"}}))
    assert cache.run_event("ADDED", run("r1")) == [("run", "ns", "r1"), ("pool", "ns", "gpu")]
    assert [k for k, _ in cache.runs_of_pool("ns", "gpu")] == [("ns", "r1")]
    assert cache.run_event("DELETED", run("r1")) == [("pool", "ns", "gpu")]
    assert cache.runs_of_pool("ns", "gpu") == []


def test_status_only_deployment_updates_wake_nothing() -> None:
    cache = ClusterCache()
    cache.deployment_event("ADDED", obj("d"))
    cache.run_event("ADDED", run("waiting", "Scheduled"))
    assert cache.deployment_event("MODIFIED", obj("d", status={"activeRuns": 1})) == []
    assert cache.deployment_event("MODIFIED", obj("d", generation=2)) == [("pool", "ns", "default")]


def test_pods_find_their_run_through_the_job_index() -> None:
    cache = ClusterCache()
    cache.run_event("ADDED", run("r1", "Pending"))
    assert ("run", "ns", "r1") in cache.job_event("ADDED", job("r1-1", "r1"))
    pod = obj("r1-1-x")
    pod["metadata"]["labels"] = {"batch.kubernetes.io/job-name": "r1-1"}
    assert cache.pod_event("ADDED", pod) == [("run", "ns", "r1")]
    stranger = obj("other")
    stranger["metadata"]["labels"] = {"batch.kubernetes.io/job-name": "nope"}
    assert cache.pod_event("ADDED", stranger) == []


def test_an_older_attempts_job_deletion_is_ignored() -> None:
    cache = ClusterCache()
    first, second = job("r1-1", "r1"), job("r1-2", "r1")
    cache.job_event("ADDED", first)
    cache.job_event("ADDED", second)
    assert cache.job_event("DELETED", first) == []
    assert cache.jobs[("ns", "r1")]["metadata"]["name"] == "r1-2"


def flow_run_body(name: str, state: str | None = None) -> dict[str, Any]:
    body = run(name, state)
    body["apiVersion"], body["kind"] = "baton.dev/v1alpha1", "FlowRun"
    return body


def test_a_body_is_parsed_once_until_an_event_replaces_it() -> None:
    cache = ClusterCache()
    cache.run_event("ADDED", flow_run_body("r1", "Pending"))
    first = cache.model(FlowRun, cache.runs, ("ns", "r1"))
    assert first is not None and first.status.state == "Pending"
    assert cache.model(FlowRun, cache.runs, ("ns", "r1")) is first
    cache.run_event("MODIFIED", flow_run_body("r1", "Running"))
    second = cache.model(FlowRun, cache.runs, ("ns", "r1"))
    assert second is not first and second is not None and second.status.state == "Running"


def test_an_invalid_body_parses_to_none_and_a_deleted_one_is_forgotten() -> None:
    cache = ClusterCache()
    cache.deployment_event("ADDED", obj("d", spec={"schedules": "not a list"}))
    assert cache.model(Deployment, cache.deployments, ("ns", "d")) is None
    cache.run_event("ADDED", flow_run_body("r1"))
    assert cache.model(FlowRun, cache.runs, ("ns", "r1")) is not None
    cache.run_event("DELETED", flow_run_body("r1"))
    assert cache.model(FlowRun, cache.runs, ("ns", "r1")) is None
    assert not any(key == ("ns", "r1") for _, key in cache._parsed)


def test_a_run_seen_before_its_deployment_moves_to_the_deployments_pool() -> None:
    """kopf's FlowRun watch may deliver a run before the Deployment watch delivers its
    Deployment: the run must not stay filed under the default pool."""
    cache = ClusterCache()
    cache.run_event("ADDED", run("early", "Scheduled", deployment="lax"))
    assert [k for k, _ in cache.runs_of_pool("ns", "default")] == [("ns", "early")]
    keys = cache.deployment_event("ADDED", obj("lax", spec={"workPoolRef": {"name": "lax"}}))
    assert cache.runs_of_pool("ns", "default") == []
    assert [k for k, _ in cache.runs_of_pool("ns", "lax")] == [("ns", "early")]
    assert ("pool", "ns", "lax") in keys


def test_a_late_deleted_of_a_replaced_object_is_told_apart() -> None:
    """CRDs deleted and re-created: the old pool's DELETED may come after the new ADDED."""
    new = {"metadata": {"name": "default", "namespace": "t", "uid": "new"}}
    old = {"metadata": {"name": "default", "namespace": "t", "uid": "old"}}
    assert replaced(new, old)
    assert not replaced(new, new)
    assert not replaced(None, old)
    assert not replaced(new, {"metadata": {"name": "default", "namespace": "t"}})
