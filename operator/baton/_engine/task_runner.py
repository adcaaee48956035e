"""Concurrent execution of submitted task runs on a thread pool.

``ThreadPoolTaskRunner`` is Prefect 3's default runner: ``task.submit()`` puts
the task run on a pool thread and returns a ``BatonFuture`` at once. Each flow
run gets its own copy of the flow's runner (``duplicate()``); its threads start
on the first submit, so flows that never submit pay nothing. Submitted runs
execute in a copy of the submitting context (flow run, tags, observer).

The pool queue is first-in first-out, and a future can only be passed on after
it was created, so upstream runs are always dequeued before the downstream runs
that wait for them: a bounded pool cannot deadlock on a DAG built by submitting.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from baton._engine.task_engine import (
    create_task_run,
    record_state,
    report_pending,
    run_task_run,
)
from baton.futures import BatonFuture
from baton.states import Cancelled

if TYPE_CHECKING:
    from baton._engine.context import FlowRunContext
    from baton.tasks import Task

R = TypeVar("R")

__all__ = ["TaskRunner", "ThreadPoolTaskRunner"]


class TaskRunner(Protocol):
    """What a flow run needs from a task runner."""

    def duplicate(self) -> TaskRunner:
        """Return a fresh, unstarted runner with the same settings."""
        ...

    def submit(
        self,
        task: Task[..., R],
        parameters: dict[str, Any],
        wait_for: Iterable[Any] | None,
        flow_ctx: FlowRunContext | None,
    ) -> BatonFuture[R]:
        """Start a task run; return its future at once."""
        ...

    def wait_all(self) -> None:
        """Block until every submitted run has finished."""
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Release the runner's resources; ``wait=False`` also cancels queued runs."""
        ...


class ThreadPoolTaskRunner:
    """Run submitted tasks concurrently on threads.

    Args:
        max_workers: Pool size; ``None`` uses ``concurrent.futures``' default
            (``min(32, cpus + 4)``).
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._futures: list[BatonFuture[Any]] = []
        self._lock = threading.Lock()

    def duplicate(self) -> ThreadPoolTaskRunner:
        """Return a new runner with the same pool size."""
        return type(self)(max_workers=self.max_workers)

    def submit(
        self,
        task: Task[..., R],
        parameters: dict[str, Any],
        wait_for: Iterable[Any] | None = None,
        flow_ctx: FlowRunContext | None = None,
    ) -> BatonFuture[R]:
        """Create a task run, queue it on the pool and return its future."""
        task_run = create_task_run(task, parameters, flow_ctx)
        report_pending(task_run, flow_ctx)
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self.max_workers, thread_name_prefix="baton-task"
                )
            context = contextvars.copy_context()
            inner = self._executor.submit(
                context.run, run_task_run, task, task_run, parameters, wait_for, flow_ctx
            )
            future: BatonFuture[R] = BatonFuture(task_run, inner)
            self._futures.append(future)
        inner.add_done_callback(lambda f: _report_cancelled(f, future, flow_ctx))
        return future

    def wait_all(self) -> None:
        """Block until every run submitted so far has finished."""
        with self._lock:
            pending = [future._future for future in self._futures]
        concurrent.futures.wait(pending)

    def shutdown(self, wait: bool = True) -> None:
        """Shut the pool down; ``wait=False`` cancels runs that have not started."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=not wait)

    def __enter__(self) -> ThreadPoolTaskRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=True)

    def __repr__(self) -> str:
        return f"ThreadPoolTaskRunner(max_workers={self.max_workers})"


def _report_cancelled(
    inner: concurrent.futures.Future[Any], future: BatonFuture[Any], flow_ctx: FlowRunContext | None
) -> None:
    if inner.cancelled():
        record_state(
            future.task_run,
            Cancelled(message="The task run was cancelled before it started."),
            flow_ctx.observer if flow_ctx else None,
        )
