"""Prefect's sync/async dispatch: some calls give a coroutine when made from async code.

In Prefect 3, ``state.result()``, the ``create_*_artifact`` functions and other
client calls are "dispatched": called from an async context they return a
coroutine to ``await``, otherwise they run at once. Prefect code written for async
flows therefore says ``await create_markdown_artifact(...)`` and ``await
state.result()``; Baton dispatches the same calls by the same rule so that code
runs unchanged. The rule (Prefect's ``is_in_async_context``): inside a run, the
innermost run's function decides (an ``async def`` task or flow is async); outside
any run, a running event loop in this thread does.

Baton's work behind these calls is local and quick, so the coroutine simply makes
the synchronous call when it is awaited. Baton's engine itself never dispatches.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from baton._engine.context import FlowRunContext, TaskRunContext
from baton._engine.coroutines import loop_running

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["async_dispatch", "in_async_context"]


def in_async_context() -> bool:
    """Whether a dispatched call made here should return a coroutine."""
    run = TaskRunContext.get()
    if run is not None:
        return run.task.isasync
    flow_run = FlowRunContext.get()
    if flow_run is not None:
        return flow_run.flow.isasync
    return loop_running()


def async_dispatch(fn: Callable[P, R]) -> Callable[P, R]:
    """Make ``fn`` return an awaitable of its result when called from async code.

    ``_sync=True`` forces the synchronous call (Prefect's keyword); the function
    also gets an ``aio`` attribute, the async variant, as Prefect's have.
    """

    async def call_async(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    @functools.wraps(fn)
    def dispatch(*args: Any, **kwargs: Any) -> Any:
        sync = kwargs.pop("_sync", None)
        if sync is None:
            sync = not in_async_context()
        if sync:
            return fn(*args, **kwargs)
        return call_async(*args, **kwargs)

    dispatch.aio = call_async  # type: ignore[attr-defined]
    return dispatch
