"""``run_deployment``: start a run of a Deployment from code and wait for it.

Prefect 3's call (``prefect.deployments``):
``run_deployment(name="flow/deployment", parameters=..., timeout=...)`` creates a flow
run of the deployment, waits for it to end (``timeout=None``: as long as it takes;
``timeout=0``: not at all; otherwise at most that many seconds, after which the run is
returned in whatever state it is) and returns the flow run, whose ``state`` says how it
went.

In Baton the run is a FlowRun, built by the one function that builds ad-hoc runs
(``baton.cli.runs.custom_run``, as ``baton run`` does), in the namespace of the run that
calls it (a flow pod) or of the user's kube context. Called inside a flow run in a pod,
the new FlowRun is labelled ``baton.dev/parent-flow-run`` with the caller's name, so
``kubectl get fr -l baton.dev/parent-flow-run=NAME`` lists a run's children. A flow pod
may create FlowRuns in its namespace (the chart's runner Role); nothing else.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from baton.contract import ENV_RUN_NAME
from baton.states import State, StateType

__all__ = ["DeploymentFlowRun", "run_deployment"]

#: Set in every flow pod (controller/jobs.py): the FlowRun this process runs.
RUN_NAME_ENV = ENV_RUN_NAME


@dataclass
class DeploymentFlowRun:
    """The FlowRun ``run_deployment`` created, as last read (Prefect's ``FlowRun``)."""

    id: UUID
    name: str
    deployment_name: str
    namespace: str
    parameters: dict[str, Any]
    state: State[Any]
    parent_flow_run_name: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def state_name(self) -> str:
        return self.state.name

    @property
    def state_type(self) -> StateType:
        return self.state.type


def _state(status: dict[str, Any]) -> State[Any]:
    from baton.resources.flowrun import STATE_TYPES, RunState  # noqa: PLC0415

    name = status.get("state") or "Scheduled"
    try:
        kind = StateType(STATE_TYPES[RunState(name)].value)
    except (KeyError, ValueError):
        kind = StateType.SCHEDULED
    return State(kind, name=name, message=status.get("message") or None)


def _read(body: dict[str, Any], deployment: str, namespace: str) -> DeploymentFlowRun:
    from baton.contract import LABEL_PARENT_RUN  # noqa: PLC0415

    metadata = body.get("metadata") or {}
    labels = metadata.get("labels") or {}
    return DeploymentFlowRun(
        id=UUID(metadata["uid"]),
        name=metadata["name"],
        deployment_name=deployment,
        namespace=namespace,
        parameters=dict((body.get("spec") or {}).get("parameters") or {}),
        state=_state(body.get("status") or {}),
        parent_flow_run_name=labels.get(LABEL_PARENT_RUN),
        labels=dict(labels),
    )


def run_deployment(
    name: str,
    parameters: dict[str, Any] | None = None,
    *,
    timeout: float | None = None,
    poll_interval: float = 5,
    flow_run_name: str | None = None,
    scheduled_time: datetime | None = None,
    namespace: str | None = None,
) -> DeploymentFlowRun:
    """Create a run of Deployment ``name`` (``flow/deployment`` or ``deployment``).

    Args:
        name: The Deployment, optionally prefixed by its flow's name (Prefect's form).
        parameters: Overrides of the Deployment's default parameters.
        timeout: Seconds to wait for the run to end: ``None`` waits until it does,
            ``0`` returns at once.
        poll_interval: Seconds between reads of the run while waiting.
        flow_run_name: The FlowRun's name (default: ``<deployment>-custom-<random>``).
        scheduled_time: When the run should start (default: as soon as admitted).
        namespace: Default: the calling run's namespace, else the kube context's.

    Returns:
        The run as last read; ``.state`` is final unless the wait timed out.

    Raises:
        RuntimeError: No cluster is configured (a local run has nowhere to create it).
    """
    from baton import _store  # noqa: PLC0415
    from baton._kube.client import DEPLOYMENTS, FLOWRUNS  # noqa: PLC0415
    from baton.cli.common import deployment_name  # noqa: PLC0415
    from baton.cli.runs import TERMINAL, custom_run, custom_run_name  # noqa: PLC0415
    from baton.contract import LABEL_PARENT_RUN, label_value  # noqa: PLC0415

    previous = os.environ.get(_store.STORE_ENV)
    place = _store.cluster_or_local(namespace=namespace)
    if isinstance(place, _store.Local):
        hint = f" ({_store.STORE_ENV}={previous})" if previous else ""
        raise RuntimeError(
            f"run_deployment needs a cluster: no Kubernetes credentials were found{hint}"
        )
    wanted = deployment_name(name)
    with place.client as client:
        deployment = client.get(DEPLOYMENTS, wanted, place.namespace)
        body = custom_run(
            deployment,
            dict(parameters or {}),
            flow_run_name or custom_run_name(wanted),
            scheduled_time=scheduled_time,
        )
        parent = os.environ.get(RUN_NAME_ENV)
        if parent:
            body["metadata"]["labels"][LABEL_PARENT_RUN] = label_value(parent)
        created = client.create(FLOWRUNS, body, place.namespace)
        run_name = created["metadata"]["name"]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = (created.get("status") or {}).get("state")
            if state in TERMINAL or (deadline is not None and time.monotonic() >= deadline):
                return _read(created, wanted, place.namespace)
            pause = (
                poll_interval
                if deadline is None
                else min(poll_interval, deadline - time.monotonic())
            )
            time.sleep(max(pause, 0))
            created = client.get(FLOWRUNS, run_name, place.namespace)
