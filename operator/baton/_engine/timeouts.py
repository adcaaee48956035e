"""Running a call with a time limit, on a thread we can stop waiting for.

Python cannot kill a thread. A timed-out body therefore keeps running in a
daemon thread until it returns on its own; the engine stops waiting, records the
run as ``Failed`` named ``TimedOut`` and moves on (see docs/sdk.md). This is the
same trade Prefect makes for synchronous code outside the main thread.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")

__all__ = ["call_with_timeout"]


def call_with_timeout(
    fn: Callable[[], R],
    timeout: float,
    on_timeout: Callable[[], BaseException],
    thread_name: str = "baton-timeout",
) -> R:
    """Call ``fn`` on a daemon thread and wait at most ``timeout`` seconds.

    The thread runs in a copy of the caller's context, so run contexts, tags and
    the observer are visible to the body.

    Args:
        fn: The call to run.
        timeout: Seconds to wait.
        on_timeout: Builds the exception raised when the time is up.
        thread_name: Name for the worker thread (shows in thread dumps).

    Returns:
        What ``fn`` returned.

    Raises:
        BaseException: What ``fn`` raised, or ``on_timeout()`` after ``timeout``.
    """
    context = contextvars.copy_context()
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = context.run(fn)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=target, name=thread_name, daemon=True).start()
    if not finished.wait(timeout):
        raise on_timeout()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]
