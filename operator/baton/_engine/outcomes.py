"""How a run's return value or exception becomes its final state.

Prefect's rule, which Baton keeps: an exception means ``Failed``; a returned
``State`` made by hand is used as given; a returned task run (future or state)
or a collection of them (states built by hand count inside a collection)
decides by aggregate: all completed gives ``Completed`` ("All states
completed."), any cancelled ``Cancelled`` ("1/3 states cancelled."), any failed
``Failed`` ("1/3 states failed."). Baton also looks inside dicts, and gives the
*values* of completed futures as the run's result (Prefect gives their states;
see docs/sdk.md).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from baton.futures import BatonFuture
from baton.states import Cancelled, Completed, Failed, Paused, State, StateType

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

    Futures are waited for. A state built by hand and returned alone is used as
    given. Run states at the top level, and any states (run or hand-built) one
    level down in a list, tuple, set or dict, are aggregated; completed ones are
    replaced by their values in the state's data.
    """
    if isinstance(retval, State) and not _is_run_state(retval):
        return retval
    members: list[State[Any]] = []

    def settle(value: Any, *, nested: bool = True) -> Any:
        if isinstance(value, BatonFuture):
            value.wait()
            value = value.state
        if isinstance(value, State) and (nested or _is_run_state(value)):
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
        data = settle(retval, nested=False)
    if not members:
        return Completed(data=data)
    return _aggregate(members, data)


def _aggregate(members: list[State[Any]], data: Any) -> State[Any]:
    # Prefect's precedence: all completed, then cancelled, paused, failed, not final.
    total = len(members)
    counts = Counter(state.type for state in members)
    if counts[StateType.COMPLETED] == total:
        return Completed(message="All states completed.", data=data)
    if counts[StateType.CANCELLED]:
        return Cancelled(
            message=f"{counts[StateType.CANCELLED]}/{total} states cancelled.", data=data
        )
    if counts[StateType.PAUSED]:
        return Paused(message=f"{counts[StateType.PAUSED]}/{total} states paused.", data=data)
    failed = counts[StateType.FAILED] + counts[StateType.CRASHED]
    if failed:
        return Failed(message=f"{failed}/{total} states failed.", data=data)
    not_final = sum(1 for state in members if not state.is_final())
    return Failed(message=f"{not_final}/{total} states are not final.", data=data)
