"""Futures for task runs submitted to a task runner (``task.submit()``, ``task.map()``).

A ``BatonFuture`` is Prefect's ``PrefectFuture``: it names a task run, reports
its current ``state`` and gives its ``result()`` once the run ends. ``wait`` and
``as_completed`` work like their ``concurrent.futures`` namesakes.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar
from uuid import UUID

from baton.states import Cancelled, Pending, State

if TYPE_CHECKING:
    from baton._engine.context import TaskRun

R = TypeVar("R")

__all__ = [
    "BatonFuture",
    "BatonFutureList",
    "DoneAndNotDoneFutures",
    "PrefectFuture",
    "PrefectFutureList",
    "as_completed",
    "resolve_futures_to_results",
    "resolve_futures_to_states",
    "wait",
]


class BatonFuture(Generic[R]):
    """The eventual outcome of a submitted task run.

    Args:
        task_run: The task run record (id, name, live state).
        future: The executor future that resolves to the run's final state.
    """

    __slots__ = ("_future", "task_run")

    def __init__(self, task_run: TaskRun, future: concurrent.futures.Future[State[R]]) -> None:
        self.task_run = task_run
        self._future = future

    @property
    def task_run_id(self) -> UUID:
        """The id of the task run."""
        return self.task_run.id

    @property
    def state(self) -> State[R]:
        """The run's current state; final once the future is done."""
        if self._future.done():
            return self._final_state()
        return self.task_run.state or Pending()

    def _final_state(self) -> State[R]:
        if self._future.cancelled():
            return Cancelled(message="The task run was cancelled before it started.")
        return self._future.result()

    def done(self) -> bool:
        """Whether the task run has finished."""
        return self._future.done()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the task run finishes or ``timeout`` seconds pass."""
        concurrent.futures.wait([self._future], timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        """Wait for the task run and return its result.

        Args:
            timeout: Seconds to wait at most.
            raise_on_failure: Raise the run's exception if it failed (default).

        Raises:
            TimeoutError: The run did not finish within ``timeout``.
            Exception: The exception that failed the run.
        """
        self.wait(timeout)
        if not self._future.done():
            raise TimeoutError(f"Task run {self.task_run_id} did not complete within {timeout}s")
        return self._final_state()._result(raise_on_failure)

    def add_done_callback(self, fn: Callable[[BatonFuture[R]], object]) -> None:
        """Call ``fn(self)`` when the task run finishes."""
        self._future.add_done_callback(lambda _: fn(self))

    def __repr__(self) -> str:
        return f"BatonFuture(task_run={self.task_run.name!r}, state={self.state})"


PrefectFuture = BatonFuture


class BatonFutureList(list[BatonFuture[R]]):
    """The futures returned by ``task.map()``."""

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every future, at most ``timeout`` seconds in total."""
        wait(self, timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[R]:
        """Return every result, in submission order.

        Raises:
            TimeoutError: Not all runs finished within ``timeout``.
        """
        not_done = wait(self, timeout=timeout).not_done
        if not_done:
            raise TimeoutError(f"{len(not_done)} task run(s) did not complete within {timeout}s")
        return [future.result(raise_on_failure=raise_on_failure) for future in self]


PrefectFutureList = BatonFutureList


class DoneAndNotDoneFutures(NamedTuple):
    """The two sets ``wait()`` returns."""

    done: set[BatonFuture[Any]]
    not_done: set[BatonFuture[Any]]


def wait(
    futures: Iterable[BatonFuture[Any]], timeout: float | None = None
) -> DoneAndNotDoneFutures:
    """Wait for futures to finish.

    Args:
        futures: The futures to wait for.
        timeout: Seconds to wait at most; ``None`` waits for all.

    Returns:
        ``(done, not_done)`` sets of futures.
    """
    by_inner = {future._future: future for future in futures}
    done, not_done = concurrent.futures.wait(by_inner, timeout=timeout)
    return DoneAndNotDoneFutures({by_inner[f] for f in done}, {by_inner[f] for f in not_done})


def as_completed(
    futures: Iterable[BatonFuture[R]], timeout: float | None = None
) -> Iterator[BatonFuture[R]]:
    """Yield futures as their task runs finish.

    Raises:
        TimeoutError: ``timeout`` seconds passed before all finished.
    """
    by_inner = {future._future: future for future in futures}
    for inner in concurrent.futures.as_completed(by_inner, timeout=timeout):
        yield by_inner[inner]


def _replace_futures(value: Any, visit: Callable[[BatonFuture[Any]], Any]) -> Any:
    if isinstance(value, BatonFuture):
        return visit(value)
    kind = type(value)
    if isinstance(value, list):
        return [_replace_futures(item, visit) for item in value]
    if kind in (tuple, set, frozenset):
        return kind(_replace_futures(item, visit) for item in value)
    if kind is dict:
        return {key: _replace_futures(item, visit) for key, item in value.items()}
    return value


def resolve_futures_to_states(value: Any) -> Any:
    """Replace every future in ``value`` (and nested lists/tuples/sets/dicts) by its final state."""

    def to_state(future: BatonFuture[Any]) -> State[Any]:
        future.wait()
        return future.state

    return _replace_futures(value, to_state)


def resolve_futures_to_results(value: Any) -> Any:
    """Replace every future in ``value`` by its result (raising if one failed)."""
    return _replace_futures(value, lambda future: future.result())
