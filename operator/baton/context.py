"""Run contexts under Prefect's import path.

``from baton.context import get_run_context`` works as in Prefect.

The implementation lives in ``baton._engine.context``.
"""

from __future__ import annotations

from baton._engine.context import (
    FlowRunContext,
    TaskRunContext,
    get_run_context,
    tags,
)

__all__ = ["FlowRunContext", "TaskRunContext", "get_run_context", "tags"]
