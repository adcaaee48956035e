"""How a run's return value or exception becomes its final state.

Prefect's rule, which Baton keeps: an exception means ``Failed``; a returned
``State`` made by hand is used as given; a returned task run (future or state)
or a collection of them decides by aggregate: any that did not complete makes
the run ``Failed`` ("1/3 states failed."); otherwise ``Completed``. Baton also
looks inside dicts, and gives the *values* of completed futures as the run's
result (Prefect gives their states; see docs/sdk.md).
"""

from __future__ import annotations

from typing import Any

from baton.futures import BatonFuture
from baton.states import Completed, Failed, State, StateType

__all__ = ["exception_to_failed_state", "format_exception", "return_value_to_state"]


def format_exception(exc: BaseException) -> str:
    """Return ``"ValueError: boom"`` for an exception, as Prefect's state messages do."""
    return f"{type(exc).__name__}: {exc}"


def exception_to_failed_state(exc: BaseException, message: str, **kwargs: Any) -> State[Any]:
    """Return a ``Failed`` state carrying ``exc``, its message prefixed by ``message``."""
    return Failed(data=exc, message=f"{message} {format_exception(exc)}", **kwargs)


def _is_run_state(value: object) -> bool:
    # States made by the engine carry their run's id; states built by user code do not.
    if not isinstance(value, State):
        return False
    details = value.state_details
    return details.task_run_id is not None or details.flow_run_id is not None


def return_value_to_state(retval: Any) -> State[Any]:
    """Return the final state for a run that returned ``retval``.

    Futures are waited for. Run states found at the top level or one level down
    in a list, tuple, set or dict are aggregated; completed ones are replaced by
    their values in the state's data.
    """
    if isinstance(retval, State) and not _is_run_state(retval):
        return retval
    members: list[State[Any]] = []

    def settle(value: Any) -> Any:
        if isinstance(value, BatonFuture):
            value.wait()
            value = value.state
        if _is_run_state(value):
            members.append(value)
            return value.data if value.type is StateType.COMPLETED else value
        return value

    kind = type(retval)
    if isinstance(retval, list):  # includes the BatonFutureList that .map() returns
        data: Any = [settle(item) for item in retval]
    elif kind in (tuple, set, frozenset):
        data = kind(settle(item) for item in retval)
    elif kind is dict:
        data = {key: settle(item) for key, item in retval.items()}
    else:
        data = settle(retval)
    if not members:
        return Completed(data=data)
    total = len(members)
    failed = sum(
        1 for s in members if s.type in (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)
    )
    not_final = sum(1 for s in members if not s.is_final())
    if failed:
        return Failed(message=f"{failed}/{total} states failed.", data=data)
    if not_final:
        return Failed(message=f"{not_final}/{total} states are not final.", data=data)
    return Completed(data=data)
