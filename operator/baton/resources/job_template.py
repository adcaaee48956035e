"""The part of a Kubernetes Job a WorkPool (and a Deployment's ``jobVariables``) controls.

Rather than a raw Job manifest with placeholders, Baton exposes the fields platform
teams actually set on flow pods. Kubernetes sub-objects (resources, tolerations,
affinity, security contexts, volumes) are passed through untouched, so the API server
keeps them as written and the Job controller validates them.
"""

from __future__ import annotations

from pydantic import Field

from baton.resources._base import FreeForm, Model, free_form, schema_extra


class EnvVar(Model):
    """An environment variable for the flow container (``value`` or ``valueFrom``)."""

    name: str = Field(description="Variable name.", min_length=1)
    value: str | None = Field(default=None, description="Literal value.")
    value_from: FreeForm | None = free_form(
        "A core/v1 EnvVarSource (secretKeyRef, configMapKeyRef, fieldRef...).", default=None
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
    volumes: list[FreeForm] | None = Field(
        default=None,
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
