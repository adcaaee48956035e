"""Job rendering: template layering, identity, security defaults, deadlines."""

from __future__ import annotations

from typing import Any

import pytest

from baton.controller.jobs import DEFAULT_CONTAINER_SECURITY, build_job, job_name
from baton.resources import Deployment, Flow, FlowRun, WorkPool

pytestmark = pytest.mark.unit


def objects(
    pool: dict[str, Any] | None = None,
    deployment: dict[str, Any] | None = None,
    flow: dict[str, Any] | None = None,
) -> tuple[FlowRun, Flow, WorkPool, Deployment]:
    meta = {"namespace": "ns", "uid": "u-1"}
    run = FlowRun.model_validate(
        {
            "metadata": {"name": "etl-1767225600", **meta},
            "spec": {"deploymentRef": {"name": "etl"}, "scheduledTime": "2026-01-01T00:00:00Z"},
        }
    )
    return (
        run,
        Flow.model_validate(
            {
                "metadata": {"name": "etl", **meta},
                "spec": {"image": "img:1", "entrypoint": "flows/etl.py:etl", **(flow or {})},
            }
        ),
        WorkPool.model_validate({"metadata": {"name": "pool", **meta}, "spec": pool or {}}),
        Deployment.model_validate(
            {
                "metadata": {"name": "etl", **meta},
                "spec": {"flowRef": {"name": "etl"}, **(deployment or {})},
            }
        ),
    )


def render(**kwargs: Any) -> dict[str, Any]:
    run, flow, pool, deployment = objects(**kwargs)
    return build_job(run, flow, pool, deployment, attempt=1, parameters={"x": 1})


def test_identity_ownership_and_defaults() -> None:
    job = render()
    assert job["metadata"]["name"] == "etl-1767225600-1"
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "FlowRun",
        "etl-1767225600",
        "u-1",
        True,
    )
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["securityContext"] == DEFAULT_CONTAINER_SECURITY
    assert container["command"] == ["baton", "execute"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["BATON_FLOW_RUN_NAME"] == "etl-1767225600"
    assert env["BATON_ENTRYPOINT"] == "flows/etl.py:etl"
    assert env["BATON_PARAMETERS"] == '{"x":1}'
    labels = spec["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "baton"
    assert labels["baton.dev/deployment"] == "etl"
    assert labels["baton.dev/work-pool"] == "pool"
    assert "activeDeadlineSeconds" not in spec


def test_pool_template_with_deployment_overrides() -> None:
    job = render(
        pool={
            "jobTemplate": {
                "serviceAccountName": "runner",
                "ttlSecondsAfterFinished": 60,
                "nodeSelector": {"a": "1"},
                "labels": {"team": "x"},
                "env": [{"name": "A", "value": "pool"}],
                "resources": {"limits": {"memory": "1Gi"}},
            }
        },
        deployment={
            "jobVariables": {
                "nodeSelector": {"b": "2"},
                "resources": {"limits": {"memory": "2Gi"}},
                "activeDeadlineSeconds": 30,
            }
        },
    )
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "runner"
    assert pod["nodeSelector"] == {"a": "1", "b": "2"}
    assert pod["containers"][0]["resources"] == {"limits": {"memory": "2Gi"}}
    assert {"name": "A", "value": "pool"} in pod["containers"][0]["env"]
    assert job["spec"]["ttlSecondsAfterFinished"] == 60
    assert job["spec"]["activeDeadlineSeconds"] == 30
    assert job["spec"]["template"]["metadata"]["labels"]["team"] == "x"


def test_flow_timeout_sets_the_deadline_and_template_can_relax_security() -> None:
    job = render(
        flow={"timeoutSeconds": 100}, pool={"jobTemplate": {"securityContext": {"runAsUser": 0}}}
    )
    assert job["spec"]["activeDeadlineSeconds"] == 160
    assert job["spec"]["template"]["spec"]["containers"][0]["securityContext"] == {"runAsUser": 0}


def test_config_map_source_is_mounted_as_working_dir() -> None:
    job = render(flow={"source": {"configMap": {"name": "code", "sha256": "ab" * 32}}})
    pod = job["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "flow-source", "configMap": {"name": "code"}}]
    assert pod["containers"][0]["workingDir"] == "/opt/baton/flow"
    # The pinned digest travels with the run's identity, for the runtime to check.
    assert {"name": "BATON_SOURCE_SHA256", "value": "ab" * 32} in pod["containers"][0]["env"]


def test_long_names_stay_valid_label_values() -> None:
    name = job_name("d" * 70 + "-1767225600", 3)
    assert len(name) <= 63
    assert name == job_name("d" * 70 + "-1767225600", 3)
    assert name != job_name("d" * 70 + "-1767225600", 4)


def test_large_parameters_stay_out_of_the_environment() -> None:
    run, flow, pool, deployment = objects()
    small = build_job(run, flow, pool, deployment, attempt=1, parameters={"x": "y" * 100})
    large = build_job(run, flow, pool, deployment, attempt=1, parameters={"x": "y" * 70_000})

    def names(job: dict[str, Any]) -> set[str]:
        return {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}

    assert "BATON_PARAMETERS" in names(small)
    assert "BATON_PARAMETERS" not in names(large)


def test_a_pools_log_bucket_reaches_the_pod_with_its_keys_by_reference() -> None:
    s3 = {
        "bucket": "run-logs",
        "endpoint": "http://minio.storage:9000",
        "prefix": "baton/",
        "credentialsSecret": {"name": "logs-s3", "accessKeyIdKey": "id"},
    }
    env = render(pool={"logs": {"s3": s3}})["spec"]["template"]["spec"]["containers"][0]["env"]
    by_name = {e["name"]: e for e in env}
    assert by_name["BATON_LOGS_S3_BUCKET"]["value"] == "run-logs"
    assert by_name["BATON_LOGS_S3_ENDPOINT"]["value"] == "http://minio.storage:9000"
    assert by_name["BATON_LOGS_S3_PREFIX"]["value"] == "baton/"
    assert by_name["AWS_ACCESS_KEY_ID"] == {
        "name": "AWS_ACCESS_KEY_ID",
        "valueFrom": {"secretKeyRef": {"name": "logs-s3", "key": "id"}},
    }
    assert by_name["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["key"] == (
        "secretAccessKey"
    )
    plain = render()["spec"]["template"]["spec"]["containers"][0]["env"]
    assert not [e for e in plain if e["name"].startswith(("BATON_LOGS_", "AWS_"))]
