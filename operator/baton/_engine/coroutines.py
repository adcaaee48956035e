"""Where synchronous and asynchronous code meet: running a coroutine from sync code.

An async task submitted to the thread pool, an async hook of a sync task, a sync
flow that returns an async task's coroutine: each needs a coroutine run to its end
from code that cannot ``await``. ``run_coro_sync`` does that on a new event loop,
in the caller's thread when no loop runs there, else on a helper thread (a thread
can run only one loop). Either way the coroutine sees the caller's context (run
contexts, tags, the observer), as Prefect's ``run_coro_as_sync`` does.

``asyncio`` is imported only by the paths that run a coroutine: a process that runs
only sync flows never loads it (``import baton`` stays light, docs/DESIGN.md).
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from baton._engine.clock import SystemClock, get_clock

T = TypeVar("T")

__all__ = ["loop_running", "run_coro_sync", "sleep_async"]


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def run_coro_sync(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion from synchronous code and return its result.

    Raises:
        BaseException: Whatever the awaitable raised.
    """
    coro: Coroutine[Any, Any, T] = (
        awaitable if isinstance(awaitable, Coroutine) else _await(awaitable)
    )
    import asyncio  # noqa: PLC0415 - only async paths pay for asyncio

    if not loop_running():
        return asyncio.run(coro)
    context = contextvars.copy_context()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = context.run(asyncio.run, coro)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="baton-coroutine", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def loop_running() -> bool:
    """Whether an event loop runs in this thread (none can while asyncio is not loaded)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def sleep_async(seconds: float) -> None:
    """Wait ``seconds`` without blocking the event loop (retry delays of async runs).

    A test's fake clock (``use_clock``) is asked instead, as the sync engines do.
    """
    import asyncio  # noqa: PLC0415 - loaded already: a coroutine is running

    clock = get_clock()
    if isinstance(clock, SystemClock):
        if seconds > 0:
            await asyncio.sleep(seconds)
    else:
        clock.sleep(seconds)
