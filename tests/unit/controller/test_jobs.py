"""Job rendering: template layering, identity, security defaults, deadlines."""

from __future__ import annotations

from typing import Any

import pytest

from baton.controller.jobs import DEFAULT_CONTAINER_SECURITY, build_job, job_name, namesake_job
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


# -- blocks and git sources ---------------------------------------------------------------
def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_declared_blocks_are_one_projected_volume_of_their_secrets() -> None:
    job = render(flow={"blocks": ["secret/db"]}, deployment={"blocks": ["mine/prod", "secret/db"]})
    pod = job["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "baton-blocks"]
    sources = [s["secret"] for s in volume["projected"]["sources"]]
    assert [s["name"] for s in sources] == ["baton-block.mine.prod", "baton-block.secret.db"]
    assert all(s["optional"] for s in sources)
    assert sources[1]["items"] == [
        {"key": "fields.json", "path": "secret/db/fields.json"},
        {"key": "secrets.json", "path": "secret/db/secrets.json"},
    ]
    (container,) = pod["containers"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "baton-blocks")
    assert (mount["mountPath"], mount["readOnly"]) == ("/var/run/baton/blocks", True)
    env = env_of(container)
    assert env["BATON_BLOCKS"] == "mine/prod,secret/db"
    assert env["BATON_BLOCKS_DIR"] == "/var/run/baton/blocks"


def test_without_blocks_no_volume_but_the_pod_still_reads_only_mounts() -> None:
    pod = render()["spec"]["template"]["spec"]
    assert "volumes" not in pod
    env = env_of(pod["containers"][0])
    assert (env["BATON_BLOCKS"], env["BATON_BLOCKS_DIR"]) == ("", "/var/run/baton/blocks")


def test_git_source_clones_in_an_init_container_that_alone_sees_the_credentials() -> None:
    git = {
        "url": "https://git.example.invalid/flows.git",
        "ref": "main",
        "subPath": "etl",
        "credentials": {"secretName": "git-token"},
    }
    pod = render(flow={"source": {"git": git}})["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    (flow_container,) = pod["containers"]
    assert init["command"] == ["baton", "git-fetch"]
    assert init["image"] == flow_container["image"] == "img:1"
    assert init["securityContext"] == DEFAULT_CONTAINER_SECURITY
    init_env = env_of(init)
    assert init_env["BATON_GIT_URL"] == git["url"]
    assert init_env["BATON_GIT_REF"] == "main"
    assert init_env["BATON_GIT_TARGET"] == "/opt/baton/source/repo"
    assert init_env["BATON_FLOW_RUN_NAME"] == "etl-1767225600"  # to report a failed clone
    assert {m["name"] for m in init["volumeMounts"]} == {"flow-source", "git-credentials"}
    assert {m["name"] for m in flow_container["volumeMounts"]} == {"flow-source"}
    assert all(m["readOnly"] for m in flow_container["volumeMounts"])
    assert flow_container["workingDir"] == "/opt/baton/source/repo/etl"
    assert env_of(flow_container)["BATON_SOURCE_CHECKOUT"] == "/opt/baton/source/repo"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["flow-source"] == {"name": "flow-source", "emptyDir": {}}
    assert volumes["git-credentials"]["secret"] == {"secretName": "git-token"}


@pytest.mark.parametrize(
    ("git", "problem"),
    [
        ({"url": "https://user:pw@host/x.git"}, "url"),
        ({"url": "file:///etc"}, "url"),
        ({"url": "https://host/x.git", "ref": "a..b"}, "'..'"),
        ({"url": "https://host/x.git", "ref": "main", "commit": "a" * 40}, "not both"),
        ({"url": "https://host/x.git", "subPath": "../up"}, "subPath"),
    ],
)
def test_bad_git_sources_are_refused(git: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        objects(flow={"source": {"git": git}})


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


def test_a_deleted_namesakes_job_is_told_apart_by_uid() -> None:
    run = FlowRun.model_validate(
        {"metadata": {"name": "r", "namespace": "ns", "uid": "new"}, "spec": {}}
    )

    def owned(uid: str, name: str = "r", kind: str = "FlowRun") -> dict[str, Any]:
        ref = {"apiVersion": "baton.dev/v1alpha1", "kind": kind, "name": name, "uid": uid}
        return {"metadata": {"ownerReferences": [{**ref, "controller": True}]}}

    assert namesake_job(owned("old"), run)
    assert not namesake_job(owned("new"), run)  # its own
    assert not namesake_job(owned("old", name="other"), run)
    assert not namesake_job(owned("old", kind="Deployment"), run)
    assert not namesake_job({"metadata": {}}, run)  # planted, or orphaned: not a namesake's
