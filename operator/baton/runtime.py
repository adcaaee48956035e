"""Facts about the current run, read lazily: ``from baton.runtime import flow_run``.

As in ``prefect.runtime``, each attribute is computed when read, so module-level
code can import ``flow_run`` once and read ``flow_run.name`` inside a run.
Outside a run the values are empty (``None``, ``{}``; ``scheduled_start_time``
is now). An environment variable ``BATON__RUNTIME__FLOW_RUN__<ATTRIBUTE>`` (or
``__TASK_RUN__``, ``__DEPLOYMENT__``) overrides a string attribute, which is how a
pod learns facts the engine cannot know (the deployment's name).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from baton._engine.clock import get_clock
from baton._engine.context import FlowRunContext, TaskRunContext

__all__ = ["deployment", "flow_run", "task_run"]


def _override(section: str, attribute: str) -> str | None:
    return os.environ.get(f"BATON__RUNTIME__{section}__{attribute.upper()}")


def _flow_ctx() -> FlowRunContext | None:
    task_ctx = TaskRunContext.get()
    return task_ctx.flow_run_context if task_ctx else FlowRunContext.get()


class _FlowRunView:
    """The current flow run (``baton.runtime.flow_run``)."""

    @property
    def id(self) -> str | None:
        """The flow run's id."""
        ctx = _flow_ctx()
        return _override("FLOW_RUN", "id") or (str(ctx.flow_run.id) if ctx else None)

    @property
    def name(self) -> str | None:
        """The flow run's name, e.g. ``"crouching-kittiwake"``."""
        ctx = _flow_ctx()
        return _override("FLOW_RUN", "name") or (ctx.flow_run.name if ctx else None)

    @property
    def flow_name(self) -> str | None:
        """The name of the flow being run."""
        ctx = _flow_ctx()
        return _override("FLOW_RUN", "flow_name") or (ctx.flow_run.flow_name if ctx else None)

    @property
    def flow_version(self) -> str | None:
        """The flow's version, if it has one."""
        ctx = _flow_ctx()
        return ctx.flow_run.flow_version if ctx else None

    @property
    def parameters(self) -> dict[str, Any]:
        """The flow run's (validated) parameters."""
        ctx = _flow_ctx()
        return dict(ctx.flow_run.parameters) if ctx else {}

    @property
    def scheduled_start_time(self) -> datetime:
        """When the run was due to start (now, outside a run)."""
        ctx = _flow_ctx()
        if ctx is not None:
            return ctx.flow_run.scheduled_start_time
        override = _override("FLOW_RUN", "scheduled_start_time")
        return datetime.fromisoformat(override) if override else get_clock().now()

    @property
    def tags(self) -> list[str]:
        """The flow run's tags."""
        ctx = _flow_ctx()
        return sorted(ctx.flow_run.tags) if ctx else []

    @property
    def run_count(self) -> int:
        """The attempt number (1 on the first run, 2 on the first retry)."""
        ctx = _flow_ctx()
        return ctx.flow_run.run_count if ctx else 0

    @property
    def parent_flow_run_id(self) -> str | None:
        """The parent's id, for a subflow run."""
        ctx = _flow_ctx()
        parent = ctx.flow_run.parent_flow_run_id if ctx else None
        return str(parent) if parent else None

    @property
    def root_flow_run_id(self) -> str | None:
        """The outermost flow run's id."""
        ctx = _flow_ctx()
        root = ctx.flow_run.root_flow_run_id if ctx else None
        return str(root) if root else None


class _TaskRunView:
    """The current task run (``baton.runtime.task_run``)."""

    @property
    def id(self) -> str | None:
        """The task run's id."""
        ctx = TaskRunContext.get()
        return str(ctx.task_run.id) if ctx else None

    @property
    def name(self) -> str | None:
        """The task run's name, e.g. ``"extract-a1b"``."""
        ctx = TaskRunContext.get()
        return ctx.task_run.name if ctx else None

    @property
    def task_name(self) -> str | None:
        """The task's name."""
        ctx = TaskRunContext.get()
        return ctx.task_run.task_name if ctx else None

    @property
    def parameters(self) -> dict[str, Any]:
        """The task run's arguments."""
        ctx = TaskRunContext.get()
        return dict(ctx.parameters) if ctx else {}

    @property
    def run_count(self) -> int:
        """The attempt number (1 on the first run)."""
        ctx = TaskRunContext.get()
        return ctx.task_run.run_count if ctx else 0

    @property
    def tags(self) -> list[str]:
        """The task run's tags."""
        ctx = TaskRunContext.get()
        return sorted(ctx.task_run.tags) if ctx else []


class _DeploymentView:
    """The deployment that started this run, known only from the environment."""

    @property
    def id(self) -> str | None:
        """The deployment's id (``BATON__RUNTIME__DEPLOYMENT__ID``)."""
        return _override("DEPLOYMENT", "id")

    @property
    def name(self) -> str | None:
        """The deployment's name (``BATON__RUNTIME__DEPLOYMENT__NAME``)."""
        return _override("DEPLOYMENT", "name")

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameters of the current flow run, as Prefect gives them (``{}`` outside one).

        Prefect reads them from the run it started, so they are the run's own (a
        deployment's defaults merged with the run's), not the deployment's defaults
        alone. JSON in ``BATON__RUNTIME__DEPLOYMENT__PARAMETERS`` overrides them.
        """
        raw = _override("DEPLOYMENT", "parameters")
        if raw:
            return dict(json.loads(raw))
        ctx = _flow_ctx()
        return dict(ctx.flow_run.parameters) if ctx else {}


flow_run = _FlowRunView()
task_run = _TaskRunView()
deployment = _DeploymentView()
