"""The process worker's pure decisions: what to claim, in which order, with which env."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton.worker.claims import (
    claim_order,
    heartbeat_timeout,
    is_claimable,
    merged_parameters,
    run_environment,
    updated_workers,
)

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def run(name: str, scheduled: str | None = None, **status: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"deploymentRef": {"name": "d"}, "parameters": {"a": 2}}
    if scheduled:
        spec["scheduledTime"] = scheduled
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "creationTimestamp": "2026-03-01T11:00:00Z",
        },
        "spec": spec,
        "status": {
            "state": "Pending",
            "reason": "AwaitingWorker",
            "workPool": "p",
            "attempts": 1,
            **status,
        },
    }


def test_claimable_only_when_admitted_to_this_pool_and_unclaimed() -> None:
    assert is_claimable(run("r"), "p")
    assert not is_claimable(run("r"), "other")
    assert not is_claimable(run("r", worker="host-1"), "p")
    assert not is_claimable(run("r", state="Running"), "p")
    assert not is_claimable(run("r", reason="JobCreated"), "p")
    cancelled = run("r")
    cancelled["spec"]["cancelRequested"] = True
    assert not is_claimable(cancelled, "p")
    deleting = run("r")
    deleting["metadata"]["deletionTimestamp"] = "2026-03-01T12:00:00Z"
    assert not is_claimable(deleting, "p")
    assert not is_claimable({"metadata": {"name": "x"}, "spec": {}}, "p")


def test_oldest_scheduled_first_up_to_the_free_slots() -> None:
    runs = [
        run("late", "2026-03-01T11:59:00Z"),
        run("early", "2026-03-01T10:00:00Z"),
        run("adhoc"),  # no scheduledTime: its creation time (11:00) counts
        run("taken", "2026-03-01T09:00:00Z", worker="w"),
    ]
    assert [r["metadata"]["name"] for r in claim_order(runs, "p", None)] == [
        "early",
        "adhoc",
        "late",
    ]
    assert [r["metadata"]["name"] for r in claim_order(runs, "p", 2)] == ["early", "adhoc"]
    assert claim_order(runs, "p", 0) == []


def test_environment_matches_what_a_job_pod_gets() -> None:
    flow = {"metadata": {"name": "etl"}, "spec": {"entrypoint": "flows/etl.py:etl"}}
    deployment = {"metadata": {"name": "d"}, "spec": {"parameters": {"a": 1, "b": "x"}}}
    claimed = run("r", "2026-03-01T11:00:00Z", attempts=2)
    env = run_environment(claimed, flow, deployment, base={"KUBECONFIG": "/k", "KEEP": "1"})
    assert env["BATON_FLOW_RUN_NAME"] == "r"
    assert env["BATON_FLOW_RUN_NAMESPACE"] == "ns"
    assert env["BATON_FLOW_RUN_UID"] == "uid-r"
    assert env["BATON_ENTRYPOINT"] == "flows/etl.py:etl"
    assert env["BATON_ATTEMPT"] == "2"
    assert json.loads(env["BATON_PARAMETERS"]) == {"a": 2, "b": "x"}  # the run's win
    assert env["BATON_SCHEDULED_TIME"] == "2026-03-01T11:00:00+00:00"
    assert datetime.fromisoformat(env["BATON_SCHEDULED_TIME"]).tzinfo is not None
    assert env["KUBECONFIG"] == "/k" and env["KEEP"] == "1"
    adhoc = run_environment(run("q"), flow, None, base={"BATON_SCHEDULED_TIME": "stale"})
    assert "BATON_SCHEDULED_TIME" not in adhoc
    assert json.loads(adhoc["BATON_PARAMETERS"]) == {"a": 2}


def test_parameters_merge_run_over_deployment() -> None:
    assert merged_parameters({"spec": {}}, None) == {}
    assert merged_parameters({"spec": {"parameters": {"x": 1}}}, {"spec": {}}) == {"x": 1}


def test_heartbeat_keeps_others_replaces_mine_and_drops_stale() -> None:
    fresh = (NOW - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = (NOW - timedelta(seconds=601)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries = [
        {"name": "b-2", "lastHeartbeat": fresh, "running": 1},
        {"name": "me", "lastHeartbeat": stale, "running": 9},
        {"name": "a-1", "lastHeartbeat": stale, "running": 0},
    ]
    updated = updated_workers(entries, "me", now=NOW, running=2, timeout_seconds=60)
    assert updated == [
        {"name": "b-2", "lastHeartbeat": fresh, "running": 1},
        {"name": "me", "lastHeartbeat": "2026-03-01T12:00:00Z", "running": 2},
    ]
    leaving = updated_workers(updated, "me", now=NOW, running=0, timeout_seconds=60, leaving=True)
    assert [e["name"] for e in leaving] == ["b-2"]


def test_heartbeat_timeout_defaults_to_the_crd_default() -> None:
    assert heartbeat_timeout({"spec": {}}) == 60
    assert heartbeat_timeout({"spec": {"heartbeatTimeoutSeconds": 5}}) == 5


def test_a_process_pools_log_bucket_is_passed_on_without_keys() -> None:
    from baton.worker.claims import pool_log_environment  # noqa: PLC0415

    s3 = {"bucket": "run-logs", "endpoint": "https://s3.example.test", "region": "eu-west-1"}
    assert pool_log_environment({"spec": {"logs": {"s3": s3}}}) == {
        "BATON_LOGS_S3_BUCKET": "run-logs",
        "BATON_LOGS_S3_ENDPOINT": "https://s3.example.test",
        "BATON_LOGS_S3_PREFIX": "",
        "BATON_LOGS_S3_REGION": "eu-west-1",
    }
    assert pool_log_environment({"spec": {}}) == {}
    assert pool_log_environment({"spec": {"logs": {"s3": {"bucket": "x"}}}}) == {}  # malformed
