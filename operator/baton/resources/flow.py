"""Flow: *what* runs — an image, an entrypoint in it, and the parameters it accepts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator

from baton.blocks.naming import REFERENCE_PATTERN
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

#: ``<type-slug>/<name>`` of a block a run may load (baton.blocks.naming).
BlockReference = Annotated[str, StringConstraints(pattern=REFERENCE_PATTERN, max_length=127)]
MAX_BLOCKS = 32


def blocks_field(owner: str) -> Any:
    """``spec.blocks`` of a Flow or a Deployment: the blocks their runs' pods may load."""
    return Field(
        default_factory=list,
        max_length=MAX_BLOCKS,
        description=f"Blocks (type-slug/name, e.g. secret/db-password) this {owner}'s "
        "runs may load: the operator mounts each block's Secret into the run's pod "
        "(read-only, a projected volume). A block not listed here (or on the "
        f"{'Deployment' if owner == 'Flow' else 'Flow'}) fails to load in the pod.",
        json_schema_extra=schema_extra(list_type="set"),
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


#: A git URL: http(s) or git://, with no user or password in it (credentials belong in
#: a Secret: the URL is visible in the Job and the FlowRun).
GIT_URL_PATTERN = r"^(https?|git)://[^\s/@]+(/[^\s]*)?$"
#: A branch or tag name (``main``, ``v1.2``, ``feature/x``); '..' is refused separately.
GIT_REF_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._/-]*$"
GIT_COMMIT_PATTERN = r"^[0-9a-f]{40}$"
SUBPATH_ESCAPES = r"^/|(^|/)[.][.](/|$)"


class GitCredentials(Model):
    """A Secret in the Flow's namespace with keys ``username`` and ``password`` (a token)."""

    secret_name: str = Field(
        description="Secret with username and password keys, mounted only into the "
        "clone's init container (never the flow's container).",
        min_length=1,
        max_length=253,
    )


class GitSource(Model):
    """Flow code cloned from a git repository before each run starts."""

    url: str = Field(
        description="Repository URL: https://, http:// or git://.",
        pattern=GIT_URL_PATTERN,
        max_length=2048,
    )
    ref: str | None = Field(
        default=None,
        description="Branch or tag to check out (default: the remote's HEAD). "
        "Each run records the commit it ran in status.sourceCommit.",
        pattern=GIT_REF_PATTERN,
        max_length=255,
        json_schema_extra=schema_extra(
            validations=[cel("!self.contains('..')", "git: ref may not contain '..'")]
        ),
    )
    commit: str | None = Field(
        default=None,
        description="A full 40-character commit to check out (instead of ref).",
        pattern=GIT_COMMIT_PATTERN,
    )
    sub_path: str | None = Field(
        default=None,
        description="Directory inside the repository that the entrypoint is relative to.",
        max_length=1024,
        json_schema_extra=schema_extra(
            validations=[
                cel(
                    f"!self.matches('{SUBPATH_ESCAPES}')",
                    "subPath must be relative: no leading '/' and no '..'",
                )
            ]
        ),
    )
    credentials: GitCredentials | None = Field(
        default=None, description="Basic-auth credentials for the repository."
    )

    @model_validator(mode="after")
    def _one_revision(self) -> GitSource:
        if self.ref and self.commit:
            raise ValueError("git: set ref or commit, not both")
        if self.ref and ".." in self.ref:
            raise ValueError("git: ref may not contain '..'")
        if self.sub_path and re.search(SUBPATH_ESCAPES, self.sub_path):
            raise ValueError("git: subPath must be relative: no leading '/' and no '..'")
        return self


class FlowSource(Model):
    """Where the flow's code comes from when it is not baked into the image."""

    config_map: ConfigMapSource | None = Field(
        default=None,
        description="Mount this ConfigMap's keys as files; the entrypoint path "
        "is relative to the mount.",
    )
    git: GitSource | None = Field(
        default=None,
        description="Clone this repository into the pod (an init container) before the "
        "flow starts; the entrypoint path is relative to the checkout (or its subPath).",
        json_schema_extra=schema_extra(
            validations=[
                cel("!(has(self.ref) && has(self.commit))", "git: set ref or commit, not both")
            ]
        ),
    )

    @model_validator(mode="after")
    def _one_source(self) -> FlowSource:
        if self.config_map and self.git:
            raise ValueError("source: set configMap or git, not both")
        return self


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
    source: FlowSource | None = Field(
        default=None,
        description="Code source other than the image.",
        json_schema_extra=schema_extra(
            validations=[
                cel(
                    "!(has(self.configMap) && has(self.git))",
                    "source: set configMap or git, not both",
                )
            ]
        ),
    )
    blocks: list[BlockReference] = blocks_field("Flow")

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


FLOW_GUIDE = """
### Code sources

Where a run's code comes from, in `spec.source` (at most one of them):

- **none**: the code is baked into `spec.image`; the entrypoint is relative to the
  image's working directory (`/opt/baton/flow` in the runtime image). For production
  code with pinned dependencies.
- **`configMap`**: the ConfigMap's keys mounted read-only at `/opt/baton/flow`; the
  runtime refuses files whose digest is not `sha256` (`baton flow digest`). For quick
  starts, code under 1 MiB.
- **`git`**: cloned into an `emptyDir` by an init container before the flow starts. For
  code that changes more often than the image.

**Git.** `url` is `https://`, `http://` or `git://` with no user or password in it;
`ref` a branch or tag (default: the remote's HEAD), or `commit` a full 40-character
commit; `subPath` the directory the entrypoint is relative to; `credentials.secretName`
a Secret with `username` and `password` (a token) keys:

```yaml
kind: Flow
spec:
  image: baton-runtime:0.1.0          # any image with Baton in it: the clone uses it too
  entrypoint: flows/etl.py:etl        # relative to the checkout (and subPath)
  source:
    git:
      url: https://git.example/data/pipelines.git
      ref: main
      subPath: etl
      credentials: {secretName: pipelines-token}
```

`baton deploy ENTRYPOINT --git-url URL [--git-ref REF] [--git-sub-path DIR]
[--git-credentials SECRET]` and `flow.from_source("<url>", entrypoint=...)` (or a
`baton.runner.storage.GitRepository(url, branch=..., commit_sha=..., credentials=...)`)
followed by `.deploy(...)` write it.

The Job gets an init container `git-clone` running `baton git-fetch` in the Flow's own
image (the clone is done by dulwich, a pure-Python git, so the image needs no git
binary): a branch or tag is fetched at depth 1, a commit with its history. The
credentials Secret is mounted into that init container only, never into the flow's
container. The checkout is mounted read-only at `/opt/baton/source/repo` in the flow's
container, which starts there (or in `subPath`); the runtime reads the commit from the
checkout and writes it to the FlowRun's `status.sourceCommit` before the flow starts, so
each run records the code it ran. A bad URL, a missing ref or commit, or wrong
credentials end the run `Failed` with git's error (e.g. `git: authentication failed for
https://…`, `git: ref 'x' is not a branch or tag of …`) before any flow code exists in
the pod; the password never appears in the message. A process worker clones the same
way into a per-run directory ([workers.md](workers.md)).

Cost, measured on the real e2e node (`tests/e2e/test_sources.py`, a one-file
repository served by `git http-backend` on the node's address, 2-core machine shared
with other work, five runs of each, alternating): a git-sourced run took 7.7-10.1 s from
FlowRun creation to `Completed` (median 9.3 s), the same flow from a ConfigMap 5.4-6.4 s
(median 5.7 s), so the clone adds about **3.6 s** at the median (3.7 s in a second run of
five each: 8.2-9.4 s against 4.2-5.9 s; 4.5 s in an earlier run of three each). The
init container itself ran 2-3 s (the kubelet's start and finish times have one-second
resolution): a second container start, Python importing Baton and dulwich, and a
depth-1 clone.
"""

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
    guide=FLOW_GUIDE,
)


class Flow(Resource):
    KIND = FLOW_KIND
    spec: FlowSpec
    status: FlowStatus = Field(default_factory=FlowStatus)


__all__ = [
    "FLOW_KIND",
    "MAX_BLOCKS",
    "BlockReference",
    "ConfigMapSource",
    "Flow",
    "FlowSource",
    "FlowSpec",
    "FlowStatus",
    "GitCredentials",
    "GitSource",
    "PullPolicy",
    "blocks_field",
    "directory_files",
    "entrypoint_problem",
    "source_digest",
]
