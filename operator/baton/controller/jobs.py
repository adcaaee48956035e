"""Render the Kubernetes Job for one attempt of a FlowRun — a pure function.

The Job is the WorkPool's ``jobTemplate`` with the Deployment's ``jobVariables`` laid
over it, the Flow's image and entrypoint, and the run's identity in the environment.
Defaults are the restricted Pod Security Standard (non-root, no privilege escalation,
all capabilities dropped, RuntimeDefault seccomp); a template that sets a security
context replaces the default on purpose.
"""

from __future__ import annotations

import json
from typing import Any

from baton.controller.labels import (
    LABEL_ATTEMPT,
    LABEL_DEPLOYMENT,
    LABEL_FLOW,
    LABEL_POOL,
    LABEL_RUN,
    MANAGED_BY,
    label_value,
)
from baton.resources import Deployment, Flow, FlowRun, JobTemplate, WorkPool
from baton.resources._base import API_VERSION

CONTAINER = "flow"
SOURCE_MOUNT = "/opt/baton/flow"
#: Seconds past the flow's own timeout before the Job's deadline stops the pod.
DEADLINE_GRACE_SECONDS = 60
RUNTIME_COMMAND = ["baton", "execute"]
#: Larger parameters are read by the runtime from the API: one environment string over
#: 128 KiB makes execve fail, so the container would never start.
MAX_ENV_PARAMETERS = 64 * 1024

DEFAULT_POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
DEFAULT_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def job_name(run_name: str, attempt: int) -> str:
    """``<run>-<attempt>``, shortened with a stable hash to stay a valid label value."""
    return label_value(f"{run_name}-{attempt}")


def run_labels(run: FlowRun, flow: str, pool: str, deployment: str | None) -> dict[str, str]:
    labels = {
        **MANAGED_BY,
        LABEL_RUN: label_value(run.name),
        LABEL_FLOW: label_value(flow),
        LABEL_POOL: label_value(pool),
    }
    if deployment:
        labels[LABEL_DEPLOYMENT] = label_value(deployment)
    return labels


def effective_template(pool: WorkPool, deployment: Deployment | None) -> JobTemplate:
    return pool.spec.job_template.overlay(deployment.spec.job_variables if deployment else None)


def run_environment(
    run: FlowRun,
    flow: Flow,
    deployment: Deployment | None,
    attempt: int,
    parameters: dict[str, Any],
) -> list[dict[str, Any]]:
    """The run's identity, which the in-pod runtime reads to find its FlowRun."""
    env = {
        "BATON_FLOW_RUN_NAME": run.name,
        "BATON_FLOW_RUN_NAMESPACE": run.namespace,
        "BATON_FLOW_RUN_UID": str(run.metadata.get("uid", "")),
        "BATON_FLOW_NAME": flow.name,
        "BATON_DEPLOYMENT_NAME": deployment.name if deployment else "",
        "BATON_ENTRYPOINT": flow.spec.entrypoint,
        "BATON_ATTEMPT": str(attempt),
        "PYTHONUNBUFFERED": "1",
    }
    encoded = json.dumps(parameters, separators=(",", ":"))
    if len(encoded.encode()) <= MAX_ENV_PARAMETERS:
        env["BATON_PARAMETERS"] = encoded
    if run.spec.scheduled_time:
        env["BATON_SCHEDULED_TIME"] = run.spec.scheduled_time.isoformat()
    if flow.spec.source and flow.spec.source.config_map:
        env["BATON_SOURCE_SHA256"] = flow.spec.source.config_map.sha256
    return [{"name": k, "value": v} for k, v in env.items()]


def log_environment(pool: WorkPool) -> list[dict[str, Any]]:
    """Where the pod keeps its full log (the pool's ``logs.s3``): the bucket's settings,
    and its keys by ``secretKeyRef`` so only the pod ever sees them."""
    storage = pool.spec.logs.s3
    if storage is None:
        return []
    from baton.run_logs_s3 import s3_environment  # noqa: PLC0415

    env: list[dict[str, Any]] = [
        {"name": k, "value": v} for k, v in s3_environment(storage).items()
    ]
    secret = storage.credentials_secret
    if secret is not None:
        for name, key in (
            ("AWS_ACCESS_KEY_ID", secret.access_key_id_key),
            ("AWS_SECRET_ACCESS_KEY", secret.secret_access_key_key),
        ):
            ref = {"name": secret.name, "key": key}
            env.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
    return env


def build_job(
    run: FlowRun,
    flow: Flow,
    pool: WorkPool,
    deployment: Deployment | None,
    *,
    attempt: int,
    parameters: dict[str, Any],
) -> dict[str, Any]:
    """The Job manifest for ``attempt`` (1-based) of ``run``."""
    template = effective_template(pool, deployment)
    labels = run_labels(run, flow.name, pool.name, deployment.name if deployment else None)
    pod_labels = {**(template.labels or {}), **labels, LABEL_ATTEMPT: str(attempt)}
    env = run_environment(run, flow, deployment, attempt, parameters)
    env += log_environment(pool)
    env += [e.to_wire() for e in template.env or []]
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": flow.spec.image,
        "imagePullPolicy": template.image_pull_policy or flow.spec.image_pull_policy.value,
        "command": RUNTIME_COMMAND,
        "env": env,
        "securityContext": template.security_context or DEFAULT_CONTAINER_SECURITY,
    }
    volumes = [v.to_wire() for v in template.volumes or []]
    mounts = list(template.volume_mounts or [])
    if flow.spec.source and flow.spec.source.config_map:
        volumes.append(
            {"name": "flow-source", "configMap": {"name": flow.spec.source.config_map.name}}
        )
        mounts.append({"name": "flow-source", "mountPath": SOURCE_MOUNT, "readOnly": True})
        container["workingDir"] = SOURCE_MOUNT
    optional_container = {
        "resources": template.resources,
        "envFrom": template.env_from,
        "volumeMounts": mounts or None,
    }
    container.update({k: v for k, v in optional_container.items() if v})
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container],
        "securityContext": template.pod_security_context or DEFAULT_POD_SECURITY,
        "enableServiceLinks": False,
    }
    optional_pod = {
        "serviceAccountName": template.service_account_name,
        "nodeSelector": template.node_selector,
        "tolerations": template.tolerations,
        "affinity": template.affinity,
        "priorityClassName": template.priority_class_name,
        "imagePullSecrets": [{"name": n} for n in template.image_pull_secrets or []] or None,
        "volumes": volumes or None,
    }
    pod_spec.update({k: v for k, v in optional_pod.items() if v})
    job_spec: dict[str, Any] = {
        "backoffLimit": 0,
        "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
    }
    if template.annotations:
        job_spec["template"]["metadata"]["annotations"] = template.annotations
    deadline = template.active_deadline_seconds
    if deadline is None and flow.spec.timeout_seconds:
        deadline = flow.spec.timeout_seconds + DEADLINE_GRACE_SECONDS
    if deadline is not None:
        job_spec["activeDeadlineSeconds"] = deadline
    if template.ttl_seconds_after_finished is not None:
        job_spec["ttlSecondsAfterFinished"] = template.ttl_seconds_after_finished
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(run.name, attempt),
            "namespace": run.namespace,
            "labels": {**labels, LABEL_ATTEMPT: str(attempt)},
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "FlowRun",
                    "name": run.name,
                    "uid": run.metadata.get("uid"),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": job_spec,
    }
