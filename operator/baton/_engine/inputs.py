"""Resolving a task's inputs: futures become values before the body runs.

A future passed as an argument (directly or inside a list, tuple, set or dict)
is waited for and replaced by its result. If it did not complete, the
downstream task does not run (``UpstreamTaskError``) unless the argument was
wrapped in ``allow_failure``, in which case the body receives the exception.
``quote`` stops the search; ``unmapped`` is unwrapped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from baton._engine.annotations import BaseAnnotation, allow_failure, quote
from baton.exceptions import UpstreamTaskError
from baton.futures import BatonFuture
from baton.states import State, StateType

__all__ = ["resolve_inputs", "upstream_task_runs", "wait_for_upstream"]

# Values that cannot contain futures: skipped without a walk.
_ATOMIC = frozenset({int, float, str, bytes, bool, type(None), complex})


def _settle(state: State[Any], run_label: object, allow_failed: bool) -> Any:
    if state.type is StateType.COMPLETED:
        return state.data
    if allow_failed:
        return state._result(raise_on_failure=False)
    raise UpstreamTaskError(f"Upstream task run '{run_label}' did not reach a 'COMPLETED' state.")


def _resolve(value: Any, allow_failed: bool) -> Any:
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if isinstance(value, BatonFuture):
        value.wait()
        return _settle(value.state, value.task_run.name, allow_failed)
    if isinstance(value, State):
        return _settle(value, value.state_details.task_run_id, allow_failed)
    if isinstance(value, BaseAnnotation):
        if isinstance(value, quote):
            return value.value
        return _resolve(value.value, allow_failed or isinstance(value, allow_failure))
    if isinstance(value, list) or kind in (tuple, set, frozenset):
        items = [_resolve(item, allow_failed) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        # A list subclass (the BatonFutureList of .map()) becomes a plain list of values.
        return items if isinstance(value, list) else kind(items)
    if kind is dict:
        resolved = {key: _resolve(item, allow_failed) for key, item in value.items()}
        if all(resolved[key] is item for key, item in value.items()):
            return value
        return resolved
    return value


def resolve_inputs(parameters: dict[str, Any]) -> dict[str, Any]:
    """Return ``parameters`` with futures replaced by results and annotations unwrapped.

    Raises:
        UpstreamTaskError: An input future did not complete.
    """
    resolved = parameters
    for name, value in parameters.items():
        new = _resolve(value, False)
        if new is not value:
            if resolved is parameters:
                resolved = dict(parameters)
            resolved[name] = new
    return resolved


def wait_for_upstream(wait_for: Iterable[Any]) -> None:
    """Wait for each future in ``wait_for``; raise if one did not complete.

    Raises:
        UpstreamTaskError: A future (not wrapped in ``allow_failure``) did not complete.
    """
    for item in wait_for:
        _resolve(item, False)


def _collect(value: Any, found: dict[UUID, None]) -> None:
    kind = type(value)
    if kind in _ATOMIC:
        return
    if isinstance(value, BatonFuture):
        found.setdefault(value.task_run.id, None)
    elif isinstance(value, State):
        if value.state_details.task_run_id is not None:
            found.setdefault(value.state_details.task_run_id, None)
    elif isinstance(value, BaseAnnotation) and not isinstance(value, quote):
        _collect(value.value, found)
    elif isinstance(value, list) or kind in (tuple, set, frozenset):
        for item in value:
            _collect(item, found)
    elif kind is dict:
        for item in value.values():
            _collect(item, found)


def upstream_task_runs(parameters: dict[str, Any], wait_for: Iterable[Any] | None) -> list[UUID]:
    """The task runs this one depends on, in order and once each: those whose futures or
    states are among its inputs (at any depth ``resolve_inputs`` looks), then ``wait_for``'s.
    Nothing is waited for."""
    found: dict[UUID, None] = {}
    for value in parameters.values():
        _collect(value, found)
    for item in wait_for or ():
        _collect(item, found)
    return list(found)
