"""The run contract: the facts the operator, the worker, the in-pod runtime and the CLI share.

Each of these parts is a different process, often a different image, and they agree only
through what one writes and another reads: the API group, labels and annotations on what
Baton creates, the times in status, the state names, the ``BATON_*`` environment of a run
and the rule that merges a run's parameters with its Deployment's. Each fact is defined
here once. The module imports only the standard library (no pydantic), so the runtime in a
flow's pod pays nothing for it; ``resources/`` builds its models on these names, and
``tests/unit/test_contract.py`` checks the two agree and that no copy of a literal creeps
back elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, overload

# --- API group ---------------------------------------------------------------------------

GROUP = "baton.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# --- labels and annotations --------------------------------------------------------------

#: ``app.kubernetes.io/managed-by`` on everything Baton creates.
MANAGED_BY = {"app.kubernetes.io/managed-by": "baton"}
LABEL_DEPLOYMENT = f"{GROUP}/deployment"
LABEL_FLOW = f"{GROUP}/flow"
LABEL_POOL = f"{GROUP}/work-pool"
LABEL_RUN = f"{GROUP}/flow-run"
LABEL_ATTEMPT = f"{GROUP}/attempt"
#: On a FlowRun created by ``run_deployment`` inside another run: the caller's name.
LABEL_PARENT_RUN = f"{GROUP}/parent-flow-run"
#: The run's log chunks (ConfigMaps), by the FlowRun's name.
LABEL_LOG_OF = f"{GROUP}/log-of"
ANNOTATION_LOG_CHUNK = f"{GROUP}/log-chunk"
ANNOTATION_LOG_DROPPED_LINES = f"{GROUP}/log-dropped-lines"
ANNOTATION_LOG_DROPPED_BYTES = f"{GROUP}/log-dropped-bytes"
#: A Prefect event the runtime emitted, on the Kubernetes Event that carries it.
ANNOTATION_EVENT = f"{GROUP}/event"
#: Task-result cache records (ConfigMaps).
LABEL_CACHE = f"{GROUP}/cache"
ANNOTATION_CACHE_EXPIRES = f"{GROUP}/expires-at"
ANNOTATION_CACHE_CREATED = f"{GROUP}/created-at"
ANNOTATION_CACHE_SERIALIZER = f"{GROUP}/serializer"
ANNOTATION_CACHE_SIGNATURE = f"{GROUP}/signature"
#: Artifacts: a keyed artifact's record, and an artifact too large for the status.
LABEL_ARTIFACT_KEY = f"{GROUP}/artifact-key"
LABEL_ARTIFACT = f"{GROUP}/artifact"
#: Variables (one ConfigMap per namespace) and their tags.
LABEL_VARIABLES = f"{GROUP}/variables"
ANNOTATION_VARIABLE_TAGS = f"{GROUP}/variable-tags"
#: Blocks: the Secret type and its labels.
SECRET_TYPE_BLOCK = f"{GROUP}/block"
LABEL_BLOCK_TYPE = f"{GROUP}/block-type"
LABEL_BLOCK_NAME = f"{GROUP}/block-name"
ANNOTATION_BLOCK_CLASS = f"{GROUP}/block-class"
#: The Baton version that installed a CRD.
ANNOTATION_CRD_VERSION = f"{GROUP}/version"
#: Automations: the FlowRuns one started, and the Automations a Deployment's notifications make.
LABEL_AUTOMATION = f"{GROUP}/automation"
ANNOTATION_AUTOMATION_EVENT = f"{GROUP}/automation-event"
LABEL_NOTIFICATIONS_OF = f"{GROUP}/notifications-of"


def label_value(name: str) -> str:
    """``name`` as a valid label value (at most 63 characters, stable for long names)."""
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-.')}-{digest}"


def selector(labels: Mapping[str, str]) -> str:
    """A label selector matching all of ``labels``."""
    return ",".join(f"{k}={v}" for k, v in labels.items())


# --- owner references --------------------------------------------------------------------


def owner_reference(
    kind: str,
    name: str,
    uid: str,
    *,
    controller: bool = True,
    block_owner_deletion: bool | None = None,
    api_version: str = API_VERSION,
) -> dict[str, Any]:
    """An ``ownerReference`` to the object ``uid``: the garbage collector deletes what it
    owns when it goes. ``block_owner_deletion`` (by default as ``controller``) makes a
    foreground delete of the owner wait for the dependant."""
    reference: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid}
    if controller:
        reference["controller"] = True
    if controller if block_owner_deletion is None else block_owner_deletion:
        reference["blockOwnerDeletion"] = True
    return reference


# --- times -------------------------------------------------------------------------------

#: RFC 3339 in UTC to the second: ``metav1.Time`` as the API server writes it.
RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


@overload
def format_time(value: datetime) -> str: ...
@overload
def format_time(value: datetime | None) -> str | None: ...
def format_time(value: datetime | None) -> str | None:
    """``value`` as a ``metav1.Time`` (RFC 3339, UTC, seconds); None stays None."""
    return value.astimezone(UTC).strftime(RFC3339) if value else None


def parse_time(value: Any) -> datetime | None:
    """A time read from an object (an RFC 3339 string, or a datetime): None when empty.

    A value without a zone is taken as UTC, which is what the API server writes.
    """
    if not value:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- run states and reasons --------------------------------------------------------------

#: Every ``FlowRun.status.state``, with Prefect's names (``resources.flowrun.RunState``).
RUN_STATES = frozenset(
    {
        "Scheduled",
        "Late",
        "AwaitingRetry",
        "Pending",
        "Running",
        "Retrying",
        "Completed",
        "Failed",
        "TimedOut",
        "Crashed",
        "Cancelling",
        "Cancelled",
        "Paused",
    }
)
#: States a run never leaves.
TERMINAL_STATES = frozenset({"Completed", "Failed", "TimedOut", "Crashed", "Cancelled"})
#: States of an admitted run: it holds a slot of its pool (and its Job or worker) until it
#: reaches a terminal state. A Paused run's pod waits, so it holds them too.
ACTIVE_STATES = frozenset({"Pending", "Running", "Retrying", "Paused", "Cancelling"})
#: States a runtime's Paused report moves to Paused (``pause_flow_run`` in a starting or
#: running flow); Paused goes back to Running once resumed.
PAUSABLE_STATES = frozenset({"Pending", "Running"})
#: Upstream task-run IDs kept per task run in ``status.taskRuns.items[].upstream``.
MAX_TASK_UPSTREAM = 20
#: Prefect state types that end a flow run (what the runtime reports as final).
FINAL_STATE_TYPES = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})

PENDING = "Pending"
#: The reason of a process-pool run admitted and waiting for a worker to claim it.
AWAITING_WORKER = "AwaitingWorker"
#: The reason of a Job pool's run once its Job exists.
JOB_CREATED = "JobCreated"
CANCEL_REQUESTED = "CancelRequested"

# --- parameters --------------------------------------------------------------------------


def merge_parameters(
    defaults: Mapping[str, Any] | None, *overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A run's parameters: the Deployment's defaults with each override laid over them in
    order (a key is replaced whole, never merged deeper).

    The rule is applied at two moments (docs/operator.md, "Parameters"): when the
    operator creates a scheduled run, the Deployment's defaults and the schedule's
    parameters are copied into ``FlowRun.spec.parameters``; when any run starts (the Job
    is built, a worker claims it, or the runtime reads them back) the Deployment's
    defaults *at that moment* are laid under the run's own parameters.
    """
    merged = dict(defaults or {})
    for override in overrides:
        merged.update(override or {})
    return merged


# --- the run's environment ---------------------------------------------------------------

ENV_RUN_NAME = "BATON_FLOW_RUN_NAME"
ENV_RUN_NAMESPACE = "BATON_FLOW_RUN_NAMESPACE"
ENV_RUN_UID = "BATON_FLOW_RUN_UID"
ENV_FLOW_NAME = "BATON_FLOW_NAME"
ENV_DEPLOYMENT_NAME = "BATON_DEPLOYMENT_NAME"
ENV_ENTRYPOINT = "BATON_ENTRYPOINT"
ENV_ATTEMPT = "BATON_ATTEMPT"
ENV_PARAMETERS = "BATON_PARAMETERS"
ENV_SCHEDULED_TIME = "BATON_SCHEDULED_TIME"
ENV_SOURCE_SHA256 = "BATON_SOURCE_SHA256"
#: Every variable of the run's identity.
RUN_ENVIRONMENT = frozenset(
    {
        ENV_RUN_NAME,
        ENV_RUN_NAMESPACE,
        ENV_RUN_UID,
        ENV_FLOW_NAME,
        ENV_DEPLOYMENT_NAME,
        ENV_ENTRYPOINT,
        ENV_ATTEMPT,
        ENV_PARAMETERS,
        ENV_SCHEDULED_TIME,
        ENV_SOURCE_SHA256,
    }
)
#: A Job's pod gets parameters up to this size (JSON, bytes) in its environment; larger
#: ones the runtime reads from the API: one environment string over 128 KiB makes execve
#: fail, so the container would never start.
MAX_ENV_PARAMETERS = 64 * 1024


@dataclass(frozen=True)
class RunIdentity:
    """Which FlowRun a ``baton execute`` process runs: what its environment says."""

    name: str
    namespace: str
    uid: str
    entrypoint: str
    attempt: int
    #: None when they were too large for the environment (read them from the API).
    parameters: dict[str, Any] | None
    scheduled_time: datetime | None
    #: The Flow's pinned code digest when its code is mounted from a ConfigMap.
    source_sha256: str = ""
    flow_name: str = ""
    deployment_name: str = ""


def encode_run_environment(identity: RunIdentity, *, limit: int | None = None) -> dict[str, str]:
    """The ``BATON_*`` environment for ``identity``, the inverse of ``decode_run_environment``.

    Parameters whose JSON is longer than ``limit`` bytes are left out. Empty optional
    values (no scheduled time, no pinned digest) are left out too.
    """
    env = {
        ENV_RUN_NAME: identity.name,
        ENV_RUN_NAMESPACE: identity.namespace,
        ENV_RUN_UID: identity.uid,
        ENV_FLOW_NAME: identity.flow_name,
        ENV_DEPLOYMENT_NAME: identity.deployment_name,
        ENV_ENTRYPOINT: identity.entrypoint,
        ENV_ATTEMPT: str(identity.attempt),
    }
    if identity.parameters is not None:
        encoded = json.dumps(identity.parameters, separators=(",", ":"))
        if limit is None or len(encoded.encode()) <= limit:
            env[ENV_PARAMETERS] = encoded
    if identity.scheduled_time is not None:
        env[ENV_SCHEDULED_TIME] = identity.scheduled_time.isoformat()
    if identity.source_sha256:
        env[ENV_SOURCE_SHA256] = identity.source_sha256
    return env


class MissingEnvironment(ValueError):
    """The environment does not name a run."""


def decode_run_environment(env: Mapping[str, str]) -> RunIdentity:
    """The run ``env`` names; raises ``MissingEnvironment`` naming what is missing."""
    missing = [k for k in (ENV_RUN_NAME, ENV_RUN_NAMESPACE, ENV_ENTRYPOINT) if not env.get(k)]
    if missing:
        raise MissingEnvironment(", ".join(missing))
    raw = env.get(ENV_PARAMETERS)
    return RunIdentity(
        name=env[ENV_RUN_NAME],
        namespace=env[ENV_RUN_NAMESPACE],
        uid=env.get(ENV_RUN_UID, ""),
        entrypoint=env[ENV_ENTRYPOINT],
        attempt=int(env.get(ENV_ATTEMPT, "1")),
        parameters=json.loads(raw) if raw else None,
        scheduled_time=parse_time(env.get(ENV_SCHEDULED_TIME)),
        source_sha256=env.get(ENV_SOURCE_SHA256, ""),
        flow_name=env.get(ENV_FLOW_NAME, ""),
        deployment_name=env.get(ENV_DEPLOYMENT_NAME, ""),
    )
