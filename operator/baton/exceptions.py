"""Exceptions raised by Baton's SDK, named as in ``prefect.exceptions``.

Prefect code catches these by name (``except FailedRun``), so the names and the
tree follow Prefect 3; only the root is renamed (``PrefectException`` remains as
an alias)::

    BatonException
     ├── MissingContextError        (also RuntimeError) no active flow/task run
     ├── UnfinishedRun              a result was asked of a non-final state
     ├── FailedRun                  a failed state without an exception to re-raise
     ├── CrashedRun                 a crashed state without an exception to re-raise
     ├── CancelledRun               a cancelled state without an exception to re-raise
     ├── ParameterTypeError         (also TypeError) parameters failed validation
     ├── ParameterBindError         (also TypeError) call arguments do not fit the signature
     ├── SignatureMismatchError     (also TypeError) parameters do not fit the signature
     ├── ReservedArgumentError      (also TypeError) a function uses a reserved name
     ├── UpstreamTaskError          an input future did not complete
     ├── MappingLengthMismatch      ``.map()`` iterables of different lengths
     ├── MappingMissingIterable     ``.map()`` without any iterable
     ├── FlowPauseTimeout           a paused run was not resumed in time
     └── NotPausedError             ``resume_flow_run`` of a run that is not paused
    Pause  (BaseException)          ``suspend_flow_run`` ending the run's process
    TaskRunTimeoutError, FlowRunTimeoutError  (TimeoutError) a run exceeded timeout_seconds
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


class BatonException(Exception):
    """Base class for every exception Baton raises on purpose."""


PrefectException = BatonException


class MissingContextError(BatonException, RuntimeError):
    """Raised when a run context is required but none is active."""


class UnfinishedRun(BatonException):
    """Raised when the result of a run that has not finished is requested."""


class FailedRun(BatonException):
    """Raised for a failed run whose state carries no exception."""


class CrashedRun(BatonException):
    """Raised for a crashed run whose state carries no exception."""


class CancelledRun(BatonException):
    """Raised for a cancelled run whose state carries no exception."""


class ParameterTypeError(BatonException, TypeError):
    """Raised when parameters fail validation against the function's annotations."""


class ParameterBindError(TypeError, BatonException):
    """Raised when a call's arguments cannot be bound to the function's parameters."""

    @classmethod
    def from_bind_failure(
        cls,
        fn: Callable[..., Any],
        exc: TypeError,
        call_args: tuple[Any, ...],
        call_kwargs: dict[str, Any],
    ) -> ParameterBindError:
        """Build the error Prefect raises, naming the function, its signature and the call."""
        name = getattr(fn, "__name__", repr(fn))
        # Prefect strips the parentheses as characters, so a return annotation stays.
        signature = str(inspect.signature(fn)).strip("()")
        return cls(
            f"Error binding parameters for function '{name}': {exc}.\n"
            f"Function '{name}' has signature '{signature}' but received "
            f"args: {call_args} and kwargs: {list(call_kwargs)}."
        )


class SignatureMismatchError(BatonException, TypeError):
    """Raised when parameters cannot be bound to the function's signature."""


class ReservedArgumentError(BatonException, TypeError):
    """Raised when a decorated function uses an argument name Baton reserves."""


class UpstreamTaskError(BatonException):
    """Raised when an upstream task run passed as input did not complete."""


class MappingLengthMismatch(BatonException):
    """Raised when ``.map()`` receives iterables of different lengths."""


class MappingMissingIterable(BatonException):
    """Raised when ``.map()`` receives no iterable parameter."""


class TaskRunTimeoutError(TimeoutError):
    """Raised inside the engine when a task run exceeds ``timeout_seconds``."""


class FlowRunTimeoutError(TimeoutError):
    """Raised inside the engine when a flow run exceeds ``timeout_seconds``."""


class FlowPauseTimeout(BatonException):
    """Raised when a paused flow run is not resumed before its timeout."""


class NotPausedError(BatonException):
    """Raised when ``resume_flow_run`` is asked to resume a run that is not paused."""


class Pause(BaseException):
    """Ends a suspended run's attempt (``suspend_flow_run``); the engine catches it.

    A ``BaseException``, as Prefect's signal is, so ``except Exception`` in a flow does
    not swallow the suspension.
    """

    def __init__(self, message: str = "", *, state: Any = None) -> None:
        super().__init__(message)
        self.state = state
