"""The seam through which a runtime learns what a run is doing.

Locally nothing listens (``NullObserver``). In a Kubernetes pod, Baton's runtime
installs an observer that batches these calls into FlowRun status patches. The
engine calls the observer synchronously from whichever thread the event happens
on, so an implementation must be thread-safe and quick (buffer, do not block on
I/O). An observer that raises never breaks a run: the error is logged once and
the run continues.

Install one for a run with ``run_flow(..., observer=...)`` or, around any code,
``with use_observer(obs): ...``. Subflows and task runs inherit it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from baton.states import State

__all__ = [
    "NullObserver",
    "RunObserver",
    "current_observer",
    "notify",
    "use_observer",
]


class RunObserver(Protocol):
    """What the engine reports while runs execute."""

    def flow_run_state(self, state: State[Any]) -> None:
        """A flow run entered ``state``; ``state.state_details.flow_run_id`` says which.

        Subflows report through the same observer with their own flow run id.
        """
        ...

    def task_run_state(
        self,
        task_run_id: UUID,
        task_name: str,
        state: State[Any],
        started: datetime | None,
        ended: datetime | None,
    ) -> None:
        """A task run entered ``state``.

        Args:
            task_run_id: The task run's id.
            task_name: The task run's display name, e.g. ``"extract-a1b"``.
            state: The new state; ``state.state_details.flow_run_id`` is the
                flow run the task belongs to (``None`` outside a flow).
            started: When the task run first entered Running, if it has.
            ended: When the task run reached a final state, if it has.
        """
        ...

    def artifact_created(self, artifact: dict[str, Any]) -> None:
        """An artifact was created (see ``baton.artifacts`` for the keys)."""
        ...

    def artifact_updated(self, artifact: dict[str, Any]) -> None:
        """An artifact changed (a progress artifact's progress); the full dict."""
        ...

    def log(self, record: logging.LogRecord) -> None:
        """A run logger emitted ``record`` (it carries ``flow_run_id``/``task_run_id``)."""
        ...

    def event_emitted(self, event: dict[str, Any]) -> None:
        """``emit_event`` sent ``event`` (``baton.events.Event.to_dict()`` plus the run ids)."""
        ...

    def task_run_upstream(self, task_run_id: UUID, upstream: list[UUID]) -> None:
        """The task runs ``task_run_id`` depends on (its inputs' futures, ``wait_for``),
        said once, before it starts."""
        ...


class NullObserver:
    """The default observer: ignores everything."""

    def flow_run_state(self, state: State[Any]) -> None:
        """Ignore a flow run state."""

    def task_run_state(
        self,
        task_run_id: UUID,
        task_name: str,
        state: State[Any],
        started: datetime | None,
        ended: datetime | None,
    ) -> None:
        """Ignore a task run state."""

    def artifact_created(self, artifact: dict[str, Any]) -> None:
        """Ignore an artifact."""

    def artifact_updated(self, artifact: dict[str, Any]) -> None:
        """Ignore an artifact update."""

    def log(self, record: logging.LogRecord) -> None:
        """Ignore a log record."""

    def event_emitted(self, event: dict[str, Any]) -> None:
        """Ignore an event."""

    def task_run_upstream(self, task_run_id: UUID, upstream: list[UUID]) -> None:
        """Ignore a task run's upstream."""


NULL_OBSERVER = NullObserver()
_observer: ContextVar[RunObserver] = ContextVar("baton_observer", default=NULL_OBSERVER)
_engine_logger = logging.getLogger("baton.engine")
_failed_observers: set[int] = set()


def current_observer() -> RunObserver:
    """Return the observer installed for the current context."""
    return _observer.get()


@contextmanager
def use_observer(observer: RunObserver) -> Iterator[RunObserver]:
    """Install ``observer`` for runs started inside the ``with`` block."""
    token = _observer.set(observer)
    try:
        yield observer
    finally:
        _observer.reset(token)


def notify(observer: RunObserver, method: str, *args: Any) -> None:
    """Call ``observer.<method>(*args)``, never letting the observer break a run."""
    if observer is NULL_OBSERVER:
        return
    try:
        getattr(observer, method)(*args)
    except Exception:
        if id(observer) not in _failed_observers:
            _failed_observers.add(id(observer))
            _engine_logger.warning(
                "Run observer %r raised in %s; the run continues", observer, method, exc_info=True
            )
