"""The custom resources (group ``baton.dev``), as pydantic models.

These models are the single source of truth: ``crds/*.yaml`` are generated from them
(``make crds``), the operator parses objects with them, and the CLI validates with them.
"""

from __future__ import annotations

from baton.contract import API_VERSION, GROUP, VERSION
from baton.resources._base import Condition, ResourceKind
from baton.resources.automation import AUTOMATION_KIND, Automation, AutomationSpec
from baton.resources.deployment import (
    DEPLOYMENT_KIND,
    Catchup,
    CatchupPolicy,
    CollisionStrategy,
    Concurrency,
    Deployment,
    DeploymentSpec,
    DeploymentStatus,
    Schedule,
)
from baton.resources.flow import FLOW_KIND, Flow, FlowSpec, FlowStatus
from baton.resources.flowrun import (
    FLOWRUN_KIND,
    TERMINAL_STATES,
    FlowRun,
    FlowRunSpec,
    FlowRunStatus,
    RunState,
    is_terminal,
)
from baton.resources.job_template import EnvVar, JobTemplate
from baton.resources.workpool import WORKPOOL_KIND, PoolType, WorkPool, WorkPoolSpec

#: Every kind, in the order CRDs are written and documented.
KINDS: tuple[ResourceKind, ...] = (
    FLOW_KIND,
    WORKPOOL_KIND,
    DEPLOYMENT_KIND,
    FLOWRUN_KIND,
    AUTOMATION_KIND,
)

__all__ = [
    "API_VERSION",
    "AUTOMATION_KIND",
    "DEPLOYMENT_KIND",
    "FLOWRUN_KIND",
    "FLOW_KIND",
    "GROUP",
    "KINDS",
    "TERMINAL_STATES",
    "VERSION",
    "WORKPOOL_KIND",
    "Automation",
    "AutomationSpec",
    "Catchup",
    "CatchupPolicy",
    "CollisionStrategy",
    "Concurrency",
    "Condition",
    "Deployment",
    "DeploymentSpec",
    "DeploymentStatus",
    "EnvVar",
    "Flow",
    "FlowRun",
    "FlowRunSpec",
    "FlowRunStatus",
    "FlowSpec",
    "FlowStatus",
    "JobTemplate",
    "PoolType",
    "ResourceKind",
    "RunState",
    "Schedule",
    "WorkPool",
    "WorkPoolSpec",
    "is_terminal",
]
