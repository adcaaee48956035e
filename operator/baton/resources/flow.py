"""Flow: *what* runs — an image, an entrypoint in it, and the parameters it accepts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator

from baton.resources._base import (
    AGE,
    FreeForm,
    Model,
    ObservedStatus,
    PrinterColumn,
    Resource,
    ResourceKind,
    cel,
    free_form,
    schema_extra,
)

#: ``path/to/file.py:func`` or ``package.module:func``.
ENTRYPOINT_PATTERN = r"^[^:\s]+:[A-Za-z_][A-Za-z0-9_]*$"
#: A path entrypoint stays inside the code root: no leading ``/``, no ``..`` segment.
ENTRYPOINT_ESCAPES = r"^/|(^|/)[.][.](/|:)"
ENTRYPOINT_RULE = cel(
    f"!self.matches('{ENTRYPOINT_ESCAPES}')",
    "entrypoint must be relative to the code root: no leading '/' and no '..'",
)


def entrypoint_problem(entrypoint: str) -> str | None:
    """Why ``entrypoint`` may not be loaded (the CRD's rule, for the CLI and runtime)."""
    if re.search(ENTRYPOINT_ESCAPES, entrypoint):
        return (
            f"entrypoint {entrypoint!r} must be relative to the code root: "
            "no leading '/' and no '..'"
        )
    return None


class PullPolicy(StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class ConfigMapSource(Model):
    """Flow code shipped in a ConfigMap (quick starts; production code belongs in the image).

    Every flow pod of the namespace may write ConfigMaps (the task cache), so the code's
    digest is pinned here, in the Flow, which flow pods cannot change: the runtime
    refuses to import files whose digest differs.
    """

    name: str = Field(
        description="ConfigMap in the Flow's namespace holding the code files.", min_length=1
    )
    sha256: str = Field(
        description="SHA-256 of the ConfigMap's files (baton.resources.flow.source_digest: "
        "each key, sorted, with its length-prefixed content). The runtime refuses to "
        "import code that does not match.",
        pattern="^[0-9a-f]{64}$",
    )


def source_digest(files: Mapping[str, bytes]) -> str:
    """The digest ``ConfigMapSource.sha256`` pins: the files' names and contents."""
    digest = hashlib.sha256()
    for name in sorted(files):
        content = files[name]
        digest.update(name.encode() + b"\0" + len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def directory_files(directory: str | Path) -> dict[str, bytes]:
    """The files of a mounted ConfigMap (its ``..data`` bookkeeping left out)."""
    root = Path(directory)
    return {
        entry.name: entry.read_bytes()
        for entry in root.iterdir()
        if not entry.name.startswith("..") and entry.is_file()
    }


class FlowSource(Model):
    """Where the flow's code comes from when it is not baked into the image."""

    config_map: ConfigMapSource | None = Field(
        default=None,
        description="Mount this ConfigMap's keys as files; the entrypoint path "
        "is relative to the mount.",
    )


class FlowSpec(Model):
    """What runs: the image, the entrypoint in it and the parameters it accepts."""

    image: str = Field(
        description="Container image holding Baton's runtime and the flow code.",
        min_length=1,
        max_length=512,
    )
    image_pull_policy: PullPolicy = Field(
        default=PullPolicy.IF_NOT_PRESENT, description="Kubernetes imagePullPolicy for runs."
    )
    entrypoint: str = Field(
        description="The flow function, as path/to/file.py:func or package.module:func.",
        pattern=ENTRYPOINT_PATTERN,
        max_length=1024,
        json_schema_extra=schema_extra(validations=[ENTRYPOINT_RULE]),
    )
    source: FlowSource | None = Field(default=None, description="Code source other than the image.")

    @field_validator("entrypoint")
    @classmethod
    def _inside_code_root(cls, value: str) -> str:
        problem = entrypoint_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    parameter_schema: FreeForm = free_form(
        "JSON Schema of the flow's parameters (baton flow schema generates it). Runs whose "
        "parameters do not match fail before any Job is created.",
        default_factory=dict,
    )
    description: str | None = Field(
        default=None, description="What this flow does.", max_length=4096
    )
    timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Flow timeout; also the Job's activeDeadlineSeconds (plus a grace "
        "period) unless the pool sets one.",
    )


class FlowStatus(ObservedStatus):
    """Written by the operator: Ready says whether the parameterSchema is usable."""


FLOW_KIND = ResourceKind(
    kind="Flow",
    plural="flows",
    short_names=("bfl",),
    spec=FlowSpec,
    status=FlowStatus,
    description="A flow: container image and entrypoint of a Python function decorated "
    "with @flow, and the JSON Schema of its parameters.",
    printer_columns=(
        PrinterColumn("Image", ".spec.image"),
        PrinterColumn("Entrypoint", ".spec.entrypoint"),
        PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        AGE,
    ),
)


class Flow(Resource):
    KIND = FLOW_KIND
    spec: FlowSpec
    status: FlowStatus = Field(default_factory=FlowStatus)


__all__ = [
    "FLOW_KIND",
    "ConfigMapSource",
    "Flow",
    "FlowSource",
    "FlowSpec",
    "FlowStatus",
    "PullPolicy",
    "directory_files",
    "entrypoint_problem",
    "source_digest",
]
