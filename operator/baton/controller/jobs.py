"""Render the Kubernetes Job for one attempt of a FlowRun — a pure function.

The Job is the WorkPool's ``jobTemplate`` with the Deployment's ``jobVariables`` laid
over it, the Flow's image and entrypoint, and the run's identity in the environment.
Defaults are the restricted Pod Security Standard (non-root, no privilege escalation,
all capabilities dropped, RuntimeDefault seccomp); a template that sets a security
context replaces the default on purpose.
"""

from __future__ import annotations

from typing import Any

from baton import git_source
from baton._store import BLOCKS_DIR_ENV
from baton.blocks import naming as block_naming
from baton.blocks._storage import DECLARED_ENV
from baton.contract import (
    API_VERSION,
    LABEL_ATTEMPT,
    LABEL_DEPLOYMENT,
    LABEL_FLOW,
    LABEL_POOL,
    LABEL_RUN,
    MANAGED_BY,
    MAX_ENV_PARAMETERS,
    RunIdentity,
    encode_run_environment,
    label_value,
    owner_reference,
)
from baton.resources import Deployment, Flow, FlowRun, JobTemplate, WorkPool
from baton.resources.flow import GitSource

CONTAINER = "flow"
SOURCE_MOUNT = "/opt/baton/flow"
#: Git sources: the init container clones into an emptyDir mounted here in both
#: containers (read-only in the flow's); the checkout is its ``repo`` directory.
GIT_CONTAINER = "git-clone"
GIT_MOUNT = "/opt/baton/source"
GIT_CHECKOUT = f"{GIT_MOUNT}/repo"
GIT_CREDENTIALS_MOUNT = "/var/run/baton/git-credentials"
BLOCKS_VOLUME = "baton-blocks"
GIT_SOURCE_COMMAND = ["baton", "git-fetch"]
#: Seconds past the flow's own timeout before the Job's deadline stops the pod.
DEADLINE_GRACE_SECONDS = 60
RUNTIME_COMMAND = ["baton", "execute"]

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


def controlled_by(obj: dict[str, Any] | None, owner_uid: str) -> bool:
    """Whether ``obj``'s controller ownerReference names ``owner_uid``.

    The only way Baton matches a Job to its run (and a pod to its Job): names and
    labels can be chosen by anyone who may create Jobs, UIDs only by the API server.
    """
    if obj is None or not owner_uid:
        return False
    return any(
        ref.get("controller") and ref.get("uid") == owner_uid
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
    )


def namesake_job(job: dict[str, Any], run: FlowRun) -> bool:
    """Whether ``job`` is controlled by another FlowRun of ``run``'s name (another UID):
    the Job of a run deleted and re-created under the same name, never to be adopted."""
    return any(
        ref.get("controller")
        and ref.get("kind") == "FlowRun"
        and ref.get("apiVersion") == API_VERSION
        and ref.get("name") == run.name
        and ref.get("uid") != run.uid
        for ref in (job.get("metadata") or {}).get("ownerReferences") or []
    )


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


def declared_blocks(flow: Flow, deployment: Deployment | None) -> list[str]:
    """The blocks a run may load: the Flow's and the Deployment's ``spec.blocks``."""
    return sorted({*flow.spec.blocks, *(deployment.spec.blocks if deployment else [])})


def blocks_volume(references: list[str]) -> dict[str, Any]:
    """One projected volume of the declared blocks' Secrets, each under ``<slug>/<name>``.

    The kubelet reads the Secrets for the pod: neither the operator nor the runner's
    identity needs the right to. ``optional``: a declared block that was never saved
    makes ``Block.load`` fail with a clear message instead of a pod stuck mounting.
    """
    sources: list[dict[str, Any]] = []
    for reference in references:
        slug, name = block_naming.parse_reference(reference)
        sub = block_naming.mount_subpath(slug, name)
        secret: dict[str, Any] = {
            "name": block_naming.secret_name(slug, name),
            "optional": True,
            "items": [
                {"key": key, "path": f"{sub}/{key}"}
                for key in (block_naming.FIELDS_KEY, block_naming.SECRETS_KEY)
            ],
        }
        sources.append({"secret": secret})
    return {"name": BLOCKS_VOLUME, "projected": {"sources": sources}}


def git_init_container(
    git: GitSource,
    flow_container: dict[str, Any],
    identity: list[dict[str, Any]],
) -> dict[str, Any]:
    """The init container that clones the Flow's repository (``baton git-fetch``)."""
    env = [
        *identity,
        {"name": git_source.URL_ENV, "value": git.url},
        {"name": git_source.TARGET_ENV, "value": GIT_CHECKOUT},
    ]
    if git.ref:
        env.append({"name": git_source.REF_ENV, "value": git.ref})
    if git.commit:
        env.append({"name": git_source.COMMIT_ENV, "value": git.commit})
    mounts: list[dict[str, Any]] = [{"name": "flow-source", "mountPath": GIT_MOUNT}]
    if git.credentials:
        env.append({"name": git_source.CREDENTIALS_DIR_ENV, "value": GIT_CREDENTIALS_MOUNT})
        mounts.append(
            {"name": "git-credentials", "mountPath": GIT_CREDENTIALS_MOUNT, "readOnly": True}
        )
    container: dict[str, Any] = {
        "name": GIT_CONTAINER,
        "image": flow_container["image"],
        "imagePullPolicy": flow_container["imagePullPolicy"],
        "command": GIT_SOURCE_COMMAND,
        "env": env,
        "volumeMounts": mounts,
        "securityContext": flow_container["securityContext"],
    }
    if flow_container.get("resources"):
        container["resources"] = flow_container["resources"]
    return container


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
    config_map = flow.spec.source.config_map if flow.spec.source else None
    identity = RunIdentity(
        name=run.name,
        namespace=run.namespace,
        uid=run.uid,
        entrypoint=flow.spec.entrypoint,
        attempt=attempt,
        parameters=parameters,
        scheduled_time=run.spec.scheduled_time,
        source_sha256=config_map.sha256 if config_map else "",
        flow_name=flow.name,
        deployment_name=deployment.name if deployment else "",
    )
    env = encode_run_environment(identity, limit=MAX_ENV_PARAMETERS)
    env["PYTHONUNBUFFERED"] = "1"
    if flow.spec.source and flow.spec.source.git:
        env[git_source.CHECKOUT_ENV] = GIT_CHECKOUT
    # Always set, so Block.load in the pod reads only mounted blocks, never the API.
    env[BLOCKS_DIR_ENV] = block_naming.MOUNT_PATH
    env[DECLARED_ENV] = ",".join(declared_blocks(flow, deployment))
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
    identity = run_environment(run, flow, deployment, attempt, parameters)
    env = identity + log_environment(pool) + [e.to_wire() for e in template.env or []]
    pull_policy = template.image_pull_policy or flow.spec.image_pull_policy.value
    security = template.security_context or DEFAULT_CONTAINER_SECURITY
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": flow.spec.image,
        "imagePullPolicy": pull_policy,
        "command": RUNTIME_COMMAND,
        "env": env,
        "securityContext": security,
    }
    volumes = [v.to_wire() for v in template.volumes or []]
    mounts = list(template.volume_mounts or [])
    if flow.spec.source and flow.spec.source.config_map:
        volumes.append(
            {"name": "flow-source", "configMap": {"name": flow.spec.source.config_map.name}}
        )
        mounts.append({"name": "flow-source", "mountPath": SOURCE_MOUNT, "readOnly": True})
        container["workingDir"] = SOURCE_MOUNT
    init_containers: list[dict[str, Any]] = []
    git = flow.spec.source.git if flow.spec.source else None
    if git:
        volumes.append({"name": "flow-source", "emptyDir": {}})
        if git.credentials:
            # Only the init container mounts it: the flow's container never sees it.
            volumes.append(
                {"name": "git-credentials", "secret": {"secretName": git.credentials.secret_name}}
            )
        mounts.append({"name": "flow-source", "mountPath": GIT_MOUNT, "readOnly": True})
        container["workingDir"] = "/".join(filter(None, (GIT_CHECKOUT, git.sub_path)))
    blocks = declared_blocks(flow, deployment)
    if blocks:
        volumes.append(blocks_volume(blocks))
        mounts.append(
            {"name": BLOCKS_VOLUME, "mountPath": block_naming.MOUNT_PATH, "readOnly": True}
        )
    optional_container = {
        "resources": template.resources,
        "envFrom": template.env_from,
        "volumeMounts": mounts or None,
    }
    container.update({k: v for k, v in optional_container.items() if v})
    if git:
        init_containers.append(git_init_container(git, container, identity))
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container],
        **({"initContainers": init_containers} if init_containers else {}),
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
            "ownerReferences": [owner_reference("FlowRun", run.name, run.uid)],
        },
        "spec": job_spec,
    }
