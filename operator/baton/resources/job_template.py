"""The part of a Kubernetes Job a WorkPool (and a Deployment's ``jobVariables``) controls.

Rather than a raw Job manifest with placeholders, Baton exposes the fields platform
teams actually set on flow pods. Kubernetes sub-objects (resources, tolerations,
affinity, security contexts, volumes) are passed through untouched, so the API server
keeps them as written and the Job controller validates them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import Field

from baton.resources._base import FreeForm, Model, cel, free_form, schema_extra

#: Environment variables Baton sets on every run (the run's identity, the cache key):
#: a Deployment may not set or shadow them.
RESERVED_ENV_PREFIX = "BATON_"
#: At most this many entries in a template's lists (bounds the CEL rules' cost).
MAX_LIST_ITEMS = 128


class EnvVar(Model):
    """An environment variable of the flow container: a value or a valueFrom source."""

    name: str = Field(description="Variable name.", min_length=1)
    value: str | None = Field(default=None, description="Literal value.")
    value_from: FreeForm | None = free_form(
        "A core/v1 EnvVarSource (secretKeyRef, configMapKeyRef, fieldRef...).", default=None
    )


class Volume(Model):
    """A core/v1 Volume, passed through as written.

    Only ``name`` and ``hostPath`` are spelled out: the admission rules must see a
    hostPath (CEL cannot read the fields of a free-form object); every other volume
    source is kept untouched for the API server to validate.
    """

    model_config = Model.model_config | {
        "extra": "allow",
        "json_schema_extra": schema_extra(preserve_unknown=True),
    }

    name: str = Field(description="Volume name.", min_length=1)
    host_path: FreeForm | None = free_form(
        "A core/v1 HostPathVolumeSource (WorkPool templates only).", default=None
    )


class JobTemplate(Model):
    """Job and pod settings for flow runs. Every field is optional; unset means unset."""

    service_account_name: str | None = Field(
        default=None, description="ServiceAccount the flow pod runs as."
    )
    image_pull_secrets: list[str] | None = Field(
        default=None, description="Names of Secrets used to pull the flow image."
    )
    resources: FreeForm | None = free_form(
        "core/v1 ResourceRequirements of the flow container.", default=None
    )
    node_selector: dict[str, str] | None = Field(
        default=None, description="Node labels the flow pod must match."
    )
    tolerations: list[FreeForm] | None = Field(
        default=None,
        description="core/v1 Tolerations of the flow pod.",
        json_schema_extra=schema_extra(list_type="atomic"),
    )
    affinity: FreeForm | None = free_form("core/v1 Affinity of the flow pod.", default=None)
    env: list[EnvVar] | None = Field(
        default=None,
        max_length=MAX_LIST_ITEMS,
        description="Extra environment variables of the flow container.",
        json_schema_extra=schema_extra(list_type="map", list_map_keys=["name"]),
    )
    env_from: list[FreeForm] | None = Field(
        default=None,
        description="core/v1 EnvFromSource list (whole ConfigMaps/Secrets).",
        json_schema_extra=schema_extra(list_type="atomic"),
    )
    labels: dict[str, str] | None = Field(default=None, description="Extra pod labels.")
    annotations: dict[str, str] | None = Field(default=None, description="Extra pod annotations.")
    pod_security_context: FreeForm | None = free_form(
        "core/v1 PodSecurityContext; replaces Baton's restricted default.", default=None
    )
    security_context: FreeForm | None = free_form(
        "core/v1 SecurityContext of the flow container; replaces the restricted default.",
        default=None,
    )
    volumes: list[Volume] | None = Field(
        default=None,
        max_length=MAX_LIST_ITEMS,
        description="core/v1 Volumes of the flow pod.",
        json_schema_extra=schema_extra(list_type="atomic"),
    )
    volume_mounts: list[FreeForm] | None = Field(
        default=None,
        description="core/v1 VolumeMounts of the flow container.",
        json_schema_extra=schema_extra(list_type="atomic"),
    )
    priority_class_name: str | None = Field(default=None, description="Pod priority class.")
    image_pull_policy: str | None = Field(
        default=None,
        description="Overrides the Flow's imagePullPolicy.",
        pattern="^(Always|IfNotPresent|Never)$",
    )
    ttl_seconds_after_finished: int | None = Field(
        default=None,
        ge=0,
        description="Delete the finished Job (and pod) this long after it ends. The FlowRun "
        "keeps its status.",
    )
    active_deadline_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Hard limit on the Job's run time; past it the run is Failed with "
        "reason DeadlineExceeded.",
    )

    def overlay(self, override: JobTemplate | None) -> JobTemplate:
        """This template with every field ``override`` sets replacing ours (maps merge)."""
        if override is None:
            return self
        merged = self.model_dump(exclude_none=True)
        for key, value in override.model_dump(exclude_none=True).items():
            if (
                isinstance(value, dict)
                and isinstance(merged.get(key), dict)
                and key in ("node_selector", "labels", "annotations")
            ):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        return JobTemplate.model_validate(merged)


class JobVariable(StrEnum):
    """A jobTemplate field a WorkPool may let its Deployments set in their jobVariables.

    ``serviceAccountName``, ``podSecurityContext`` and ``securityContext`` are not among
    them: who a flow pod runs as and how privileged it is are the pool owner's decisions
    alone (``POOL_OWNER_FIELDS``), as are hostPath volumes.
    """

    IMAGE_PULL_SECRETS = "imagePullSecrets"
    RESOURCES = "resources"
    NODE_SELECTOR = "nodeSelector"
    TOLERATIONS = "tolerations"
    AFFINITY = "affinity"
    ENV = "env"
    ENV_FROM = "envFrom"
    LABELS = "labels"
    ANNOTATIONS = "annotations"
    VOLUMES = "volumes"
    VOLUME_MOUNTS = "volumeMounts"
    PRIORITY_CLASS_NAME = "priorityClassName"
    IMAGE_PULL_POLICY = "imagePullPolicy"
    TTL_SECONDS_AFTER_FINISHED = "ttlSecondsAfterFinished"
    ACTIVE_DEADLINE_SECONDS = "activeDeadlineSeconds"


#: Never settable by a Deployment, whatever its pool declares.
POOL_OWNER_FIELDS = ("serviceAccountName", "podSecurityContext", "securityContext")

#: What Deployments may set when their WorkPool declares nothing: fields that change
#: neither the pod's identity, privileges, data (Secrets, ConfigMaps, volumes, env),
#: network identity (labels a NetworkPolicy selects) nor placement.
DEFAULT_JOB_VARIABLES = (
    JobVariable.RESOURCES,
    JobVariable.IMAGE_PULL_POLICY,
    JobVariable.ACTIVE_DEADLINE_SECONDS,
    JobVariable.TTL_SECONDS_AFTER_FINISHED,
)

#: The admission-time half of the rule (CEL on ``Deployment.spec.jobVariables``): what no
#: pool can allow is refused before the object is stored. What a particular pool allows
#: needs the pool, which CEL cannot see: the operator checks it (``refused_job_variables``).
DEPLOYMENT_JOB_VARIABLES_RULES = [
    cel(
        "!has(self.serviceAccountName)",
        "jobVariables.serviceAccountName is not allowed: the ServiceAccount of a flow pod "
        "is the WorkPool owner's decision (set it in the WorkPool's jobTemplate)",
    ),
    cel(
        "!has(self.securityContext) && !has(self.podSecurityContext)",
        "jobVariables.securityContext and podSecurityContext are not allowed: a flow pod's "
        "privileges are the WorkPool owner's decision (set them in the WorkPool's jobTemplate)",
    ),
    cel(
        "!has(self.volumes) || self.volumes.all(v, !has(v.hostPath))",
        "jobVariables.volumes may not mount hostPath: host paths are the WorkPool owner's decision",
    ),
    cel(
        f"!has(self.env) || self.env.all(e, !e.name.startsWith('{RESERVED_ENV_PREFIX}'))",
        f"jobVariables.env may not set {RESERVED_ENV_PREFIX}* variables: Baton sets them",
    ),
]


def refused_job_variables(variables: JobTemplate | None, allowed: Iterable[str]) -> list[str]:
    """What in a Deployment's ``jobVariables`` its WorkPool does not let it set.

    One message per problem, naming the field; empty when every field set is allowed.
    The fields no pool may allow are refused here too, so the operator holds the line
    even where the CRD's CEL rules are missing (an older CRD, a cluster without CEL).
    """
    if variables is None:
        return []
    permitted = set(allowed)
    problems: list[str] = []
    wire = variables.to_wire()
    for field in wire:
        if field in POOL_OWNER_FIELDS:
            problems.append(f"{field} is the WorkPool owner's decision, never a Deployment's")
        elif field not in permitted:
            problems.append(f"{field} is not among the WorkPool's allowedJobVariables")
    for index, volume in enumerate(wire.get("volumes", [])):
        if "hostPath" in volume:
            problems.append(f"volumes[{index}] mounts a hostPath: the WorkPool owner's decision")
    for entry in wire.get("env", []):
        if str(entry.get("name", "")).startswith(RESERVED_ENV_PREFIX):
            problems.append(f"env {entry['name']} is reserved: Baton sets {RESERVED_ENV_PREFIX}*")
    return problems
