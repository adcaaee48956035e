"""Run records and the context variables that say which run is executing.

``FlowRunContext``/``TaskRunContext`` are what Prefect code reaches for
(``get_run_context()``, ``TaskRunContext.get()``, ``ctx.task_run.run_count``);
``baton.runtime``, ``get_run_logger()``, artifacts and caching read them. They
live in context variables so concurrent task runs on threads each see their own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from baton.exceptions import MissingContextError

if TYPE_CHECKING:
    import logging

    from baton._engine.observer import RunObserver
    from baton._engine.task_runner import TaskRunner
    from baton.flows import Flow
    from baton.states import State
    from baton.tasks import Task

__all__ = [
    "FlowRun",
    "FlowRunContext",
    "TaskRun",
    "TaskRunContext",
    "current_tags",
    "get_run_context",
    "tags",
]


@dataclass(eq=False, slots=True)
class FlowRun:
    """One execution of a flow (Prefect's ``FlowRun``, reduced to local facts)."""

    id: UUID
    name: str
    flow_name: str
    parameters: dict[str, Any]
    scheduled_start_time: datetime
    tags: frozenset[str] = frozenset()
    flow_version: str | None = None
    parent_flow_run_id: UUID | None = None
    root_flow_run_id: UUID | None = None
    run_count: int = 0
    state: State[Any] | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(eq=False, slots=True)
class TaskRun:
    """One execution of a task; retries are further attempts of the same run."""

    id: UUID
    name: str
    task_name: str
    task_key: str
    flow_run_id: UUID | None
    parameters: dict[str, Any]
    tags: frozenset[str] = frozenset()
    run_count: int = 0
    state: State[Any] | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(eq=False)
class FlowRunContext:
    """What is known while a flow run executes."""

    flow: Flow[..., Any]
    flow_run: FlowRun
    task_runner: TaskRunner
    observer: RunObserver
    log_prints: bool = False
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    # Set when the flow timed out: task calls still made by the abandoned body
    # thread fail fast instead of doing work nobody waits for.
    abandoned: threading.Event = field(default_factory=threading.Event)
    #: Pauses seen so far: the default key of the next ``pause_flow_run``.
    observed_flow_pauses: int = 0
    _logger: logging.LoggerAdapter[logging.Logger] | None = None

    _var: ClassVar[ContextVar[FlowRunContext | None]] = ContextVar("baton_flow_run", default=None)

    @classmethod
    def get(cls) -> FlowRunContext | None:
        """Return the current flow run context, if any."""
        return cls._var.get()


@dataclass(eq=False)
class TaskRunContext:
    """What is known while a task run executes (passed to ``cache_key_fn``)."""

    task: Task[..., Any]
    task_run: TaskRun
    parameters: dict[str, Any]
    flow_run_context: FlowRunContext | None
    observer: RunObserver
    log_prints: bool = False
    _logger: logging.LoggerAdapter[logging.Logger] | None = None

    _var: ClassVar[ContextVar[TaskRunContext | None]] = ContextVar("baton_task_run", default=None)

    @classmethod
    def get(cls) -> TaskRunContext | None:
        """Return the current task run context, if any."""
        return cls._var.get()


def get_run_context() -> TaskRunContext | FlowRunContext:
    """Return the innermost active run context (task run first).

    Raises:
        MissingContextError: No flow or task run is active.
    """
    ctx = TaskRunContext.get() or FlowRunContext.get()
    if ctx is None:
        raise MissingContextError("No run context available. You are not in a flow or task run.")
    return ctx


_tags: ContextVar[frozenset[str]] = ContextVar("baton_tags", default=frozenset())


def current_tags() -> frozenset[str]:
    """Return the tags added by enclosing ``with tags(...)`` blocks."""
    return _tags.get()


@contextmanager
def tags(*new_tags: str) -> Iterator[set[str]]:
    """Add tags to every flow and task run started inside the block.

    Example:
        >>> with tags("db", "nightly"):
        ...     my_flow()
    """
    token = _tags.set(_tags.get() | frozenset(new_tags))
    try:
        yield set(_tags.get())
    finally:
        _tags.reset(token)
