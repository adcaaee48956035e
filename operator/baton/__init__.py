"""Baton: Prefect-style workflow orchestration that lives entirely inside Kubernetes.

The public SDK surface, importable as in Prefect 3 (``from baton import flow,
task``). Importing ``baton`` loads neither the Kubernetes client nor pydantic.
"""

from __future__ import annotations

from baton._engine.annotations import allow_failure, quote, unmapped
from baton._engine.context import get_run_context, tags
from baton._engine.run_logger import get_run_logger
from baton._engine.task_runner import ThreadPoolTaskRunner
from baton.flows import Flow, flow
from baton.futures import BatonFuture, PrefectFuture
from baton.states import State
from baton.tasks import Task, task

__version__ = "0.1.0"
__all__ = [
    "BatonFuture",
    "Flow",
    "PrefectFuture",
    "State",
    "Task",
    "ThreadPoolTaskRunner",
    "__version__",
    "allow_failure",
    "flow",
    "get_run_context",
    "get_run_logger",
    "quote",
    "tags",
    "task",
    "unmapped",
]
