"""Run states: Prefect 3's state model, as plain objects.

A state is what a flow or task run *is* at a moment: a canonical ``type``
(``StateType``), a display ``name`` (``"Cached"``, ``"TimedOut"``,
``"Retrying"``...), an optional message, and the run's data (its return value,
or the exception that failed it). Constructors (``Completed()``, ``Failed()``...)
mirror ``prefect.states``.

``State`` is a slotted class rather than a pydantic model on purpose: every task
call creates three states, and importing pydantic alone costs more than the whole
local run budget (see docs/sdk.md, "Performance").
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import UUID

from baton._engine.dispatch import in_async_context
from baton.exceptions import CancelledRun, CrashedRun, FailedRun, UnfinishedRun

R = TypeVar("R")

__all__ = [
    "TERMINAL_STATES",
    "AwaitingRetry",
    "Cancelled",
    "Cancelling",
    "Completed",
    "Crashed",
    "Failed",
    "Late",
    "Paused",
    "Pending",
    "Retrying",
    "Running",
    "Scheduled",
    "State",
    "StateDetails",
    "StateType",
    "Suspended",
    "get_state_exception",
]


class StateType(enum.StrEnum):
    """The canonical kind of a state; its value is its name, as in Prefect."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"


TERMINAL_STATES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}
)
_FAILURE_TYPES = frozenset({StateType.FAILED, StateType.CRASHED, StateType.CANCELLED})


@dataclass(slots=True)
class StateDetails:
    """Facts attached to a state: which run it belongs to, scheduling, caching."""

    flow_run_id: UUID | None = None
    task_run_id: UUID | None = None
    scheduled_time: datetime | None = None
    cache_key: str | None = None
    cache_expiration: datetime | None = None
    #: Paused runs: when the pause gives up, its key, and whether the run's process
    #: exits to continue in a new one (``suspend_flow_run``) instead of waiting.
    pause_timeout: datetime | None = None
    pause_key: str | None = None
    pause_reschedule: bool = False


class State(Generic[R]):
    """The state of a flow or task run.

    Args:
        type: The canonical state type.
        name: Display name; defaults to the type's title (``"Completed"``).
        message: A human-readable explanation.
        data: The run's return value, or the exception that failed it.
        timestamp: When the state was entered; defaults to now (UTC).
        state_details: Run identity, scheduled time, cache key.
    """

    __slots__ = ("data", "message", "name", "state_details", "timestamp", "type")

    def __init__(
        self,
        type: StateType,  # noqa: A002 - Prefect's keyword
        *,
        name: str | None = None,
        message: str | None = None,
        data: Any = None,
        timestamp: datetime | None = None,
        state_details: StateDetails | None = None,
    ) -> None:
        self.type = type
        self.name: str = name or type.value.title()
        self.message = message
        self.data = data
        self.timestamp = timestamp or datetime.now(UTC)
        self.state_details = state_details or StateDetails()

    def result(
        self, raise_on_failure: bool = True, fetch: bool = True, _sync: bool | None = None
    ) -> R:
        """Return the run's result, or raise its exception.

        As in Prefect, called from async code (an ``async def`` flow or task, or a
        coroutine outside any run) it returns an awaitable of the same:
        ``await state.result()``; ``aresult()`` is always that awaitable.

        Args:
            raise_on_failure: When the run failed, crashed or was cancelled, raise
                its exception (``True``, the default) or return it.
            fetch: Accepted for Prefect compatibility; results are always local.

        Returns:
            The run's return value (or, with ``raise_on_failure=False``, the
            exception of a failed run).

        Raises:
            UnfinishedRun: The state is not final.
            Exception: The exception that failed the run, or ``FailedRun`` /
                ``CrashedRun`` / ``CancelledRun`` when the state has none.
        """
        del fetch
        if _sync is None:
            _sync = not in_async_context()
        if not _sync:
            return self.aresult(raise_on_failure)  # type: ignore[return-value]
        return self._result(raise_on_failure)

    async def aresult(self, raise_on_failure: bool = True, fetch: bool = True) -> R:
        """``result()`` as a coroutine, whatever the calling context."""
        del fetch
        return self._result(raise_on_failure)

    def _result(self, raise_on_failure: bool = True) -> R:
        # The engine's own read of a result: never dispatched.
        if self.type is StateType.COMPLETED:
            return self.data  # type: ignore[no-any-return]
        if self.type in _FAILURE_TYPES:
            if raise_on_failure:
                raise get_state_exception(self)
            return self.data  # type: ignore[no-any-return]
        raise UnfinishedRun(f"Run is in {self.type.value} state, its result is not available.")

    def is_scheduled(self) -> bool:
        """Whether the state is of type SCHEDULED."""
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        """Whether the state is of type PENDING."""
        return self.type is StateType.PENDING

    def is_running(self) -> bool:
        """Whether the state is of type RUNNING."""
        return self.type is StateType.RUNNING

    def is_completed(self) -> bool:
        """Whether the state is of type COMPLETED."""
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        """Whether the state is of type FAILED."""
        return self.type is StateType.FAILED

    def is_crashed(self) -> bool:
        """Whether the state is of type CRASHED."""
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        """Whether the state is of type CANCELLED."""
        return self.type is StateType.CANCELLED

    def is_cancelling(self) -> bool:
        """Whether the state is of type CANCELLING."""
        return self.type is StateType.CANCELLING

    def is_paused(self) -> bool:
        """Whether the state is of type PAUSED."""
        return self.type is StateType.PAUSED

    def is_final(self) -> bool:
        """Whether the state is terminal (Completed, Failed, Crashed, Cancelled)."""
        return self.type in TERMINAL_STATES

    def __str__(self) -> str:
        # Prefect's log form: Completed(), Failed('boom'), Cached(type=COMPLETED)
        display = []
        if self.message:
            display.append(repr(self.message))
        if self.type.value.lower() != self.name.lower():
            display.append(f"type={self.type.value}")
        return f"{self.name}({', '.join(display)})"

    def __repr__(self) -> str:
        return (
            f"{self.name}(message={self.message!r}, type={self.type.value}, result={self.data!r})"
        )


def get_state_exception(state: State[Any]) -> BaseException:
    """Return the exception that explains a failed, crashed or cancelled state.

    The stored exception when there is one; for an aggregate state (a flow that
    returned failed task runs) the first failed member's exception; otherwise a
    ``FailedRun`` / ``CrashedRun`` / ``CancelledRun`` carrying the message.
    """
    data = state.data
    if isinstance(data, BaseException):
        return data
    members: Iterable[Any] = ()
    if isinstance(data, State):
        members = (data,)
    elif isinstance(data, (list, tuple, set, frozenset)):
        members = data
    elif isinstance(data, dict):
        members = data.values()
    for member in members:
        if isinstance(member, State) and member.type in _FAILURE_TYPES:
            return get_state_exception(member)
    message = state.message or f"Run finished in state {state.name}."
    if state.type is StateType.CRASHED:
        return CrashedRun(message)
    if state.type is StateType.CANCELLED:
        return CancelledRun(message)
    return FailedRun(message)


def Scheduled(
    scheduled_time: datetime | None = None, *, name: str = "Scheduled", **kwargs: Any
) -> State[Any]:
    """A run waiting for its scheduled time (defaults to now)."""
    details = kwargs.pop("state_details", None) or StateDetails()
    details.scheduled_time = scheduled_time or datetime.now(UTC)
    return State(StateType.SCHEDULED, name=name, state_details=details, **kwargs)


def Late(scheduled_time: datetime | None = None, **kwargs: Any) -> State[Any]:
    """A scheduled run whose time has passed without it starting."""
    return Scheduled(scheduled_time, name="Late", **kwargs)


def AwaitingRetry(scheduled_time: datetime | None = None, **kwargs: Any) -> State[Any]:
    """A failed run waiting to be retried at ``scheduled_time``."""
    return Scheduled(scheduled_time, name="AwaitingRetry", **kwargs)


def Pending(**kwargs: Any) -> State[Any]:
    """A run that has been created but has not started."""
    return State(StateType.PENDING, **kwargs)


def Running(**kwargs: Any) -> State[Any]:
    """A run whose code is executing."""
    return State(StateType.RUNNING, **kwargs)


def Retrying(**kwargs: Any) -> State[Any]:
    """A run executing again after a failure (type RUNNING)."""
    return State(StateType.RUNNING, name="Retrying", **kwargs)


def Completed(**kwargs: Any) -> State[Any]:
    """A run that finished successfully; ``data`` holds its result."""
    return State(StateType.COMPLETED, **kwargs)


def Failed(**kwargs: Any) -> State[Any]:
    """A run that finished with an error; ``data`` holds the exception."""
    return State(StateType.FAILED, **kwargs)


def Crashed(**kwargs: Any) -> State[Any]:
    """A run whose infrastructure stopped without the run reporting an end."""
    return State(StateType.CRASHED, **kwargs)


def Cancelling(**kwargs: Any) -> State[Any]:
    """A run asked to stop that has not stopped yet."""
    return State(StateType.CANCELLING, **kwargs)


def Cancelled(**kwargs: Any) -> State[Any]:
    """A run that was stopped on request."""
    return State(StateType.CANCELLED, **kwargs)


def Paused(
    timeout_seconds: float | None = None,
    pause_expiration_time: datetime | None = None,
    reschedule: bool = False,
    pause_key: str | None = None,
    **kwargs: Any,
) -> State[Any]:
    """A run waiting to be resumed (``pause_flow_run``), at most until its expiration."""
    details = kwargs.pop("state_details", None) or StateDetails()
    if timeout_seconds is not None:
        pause_expiration_time = datetime.now(UTC) + timedelta(seconds=timeout_seconds)
    details.pause_timeout = pause_expiration_time
    details.pause_key = pause_key
    details.pause_reschedule = reschedule
    return State(StateType.PAUSED, state_details=details, **kwargs)


def Suspended(
    timeout_seconds: float | None = None,
    pause_expiration_time: datetime | None = None,
    pause_key: str | None = None,
    **kwargs: Any,
) -> State[Any]:
    """A paused run whose process has exited; it continues in a new one when resumed."""
    return Paused(
        timeout_seconds,
        pause_expiration_time,
        reschedule=True,
        pause_key=pause_key,
        name="Suspended",
        **kwargs,
    )
