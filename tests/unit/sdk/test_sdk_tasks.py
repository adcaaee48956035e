"""Tasks: calling, submitting, mapping, futures, dependencies, options and hooks."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from sdk_testkit import RecordingObserver

from baton import allow_failure, flow, tags, task, unmapped
from baton._engine.flow_engine import run_flow
from baton.exceptions import MappingLengthMismatch, MappingMissingIterable, ReservedArgumentError
from baton.futures import BatonFuture, as_completed, wait
from baton.runtime import task_run
from baton.states import State

pytestmark = pytest.mark.unit


@task
def add(x: int, y: int = 1) -> int:
    return x + y


@task
def boom(x: int = 0) -> int:
    raise ValueError(f"boom {x}")


def test_direct_call_returns_value_inside_and_outside_a_flow() -> None:
    @flow
    def f() -> int:
        return add(1, 2)

    assert add(1) == 2
    assert f() == 3


def test_task_keeps_fn_name_and_description() -> None:
    @task
    def documented(a: int) -> int:
        """Doubles a."""
        return a * 2

    assert documented.fn(3) == 6
    assert documented.name == "documented"
    assert documented.description == "Doubles a."
    assert task(name="custom")(documented.fn).name == "custom"


def test_return_state_gives_the_state_and_does_not_raise() -> None:
    state = boom(return_state=True)
    assert isinstance(state, State)
    assert state.is_failed()
    assert state.message == "Task run encountered an exception ValueError: boom 0"
    ok = add(1, return_state=True)
    assert ok.is_completed() and ok.result() == 2


def test_task_run_names_are_task_name_and_three_hex(observer: RecordingObserver) -> None:
    @flow
    def f() -> None:
        add(1)

    run_flow(f, {}, observer=observer)
    names = {name for _, name, _, _, _ in observer.task_states}
    assert len(names) == 1
    assert re.fullmatch(r"add-[0-9a-f]{3}", names.pop())


def test_task_run_name_template_and_callable(observer: RecordingObserver) -> None:
    templated = add.with_options(task_run_name="add-{x}-and-{y}")
    called = add.with_options(task_run_name=lambda: "from-callable")

    @flow
    def f() -> None:
        templated(4, 5)
        called(1)

    run_flow(f, {}, observer=observer)
    names = {name for _, name, _, _, _ in observer.task_states}
    assert names == {"add-4-and-5", "from-callable"}


def test_failing_task_fails_the_flow_unless_handled() -> None:
    @flow
    def unhandled() -> int:
        return boom(1)

    @flow
    def handled() -> str:
        try:
            boom(2)
        except ValueError:
            return "recovered"
        return "unreachable"

    state = unhandled(return_state=True)
    assert state.is_failed()
    assert state.message == "Flow run encountered an exception: ValueError: boom 1"
    with pytest.raises(ValueError, match="boom 1"):
        unhandled()
    assert handled() == "recovered"


def test_submit_runs_on_threads_and_futures_resolve() -> None:
    both_started = threading.Barrier(2, timeout=5)

    @task
    def meet(i: int) -> int:
        both_started.wait()  # deadlocks (then times out) unless the two run concurrently
        return i

    @flow
    def f() -> list[int]:
        futures = [meet.submit(1), meet.submit(2)]
        assert all(isinstance(fut, BatonFuture) for fut in futures)
        return [fut.result() for fut in futures]

    assert f() == [1, 2]


def test_futures_passed_as_arguments_are_resolved_even_nested() -> None:
    @task
    def total(numbers: list[int], extra: dict[str, int]) -> int:
        return sum(numbers) + sum(extra.values())

    @flow
    def f() -> int:
        a = add.submit(1)
        b = add.submit(2)
        return total([a, b], {"c": add.submit(10)})

    assert f() == 2 + 3 + 11


def test_returning_futures_gives_their_values() -> None:
    @flow
    def f() -> Any:
        return [add.submit(1), add.submit(2)]

    assert f() == [2, 3]


def test_returned_failed_future_fails_the_flow() -> None:
    @flow
    def f() -> Any:
        return [add.submit(1), boom.submit(3)]

    state = f(return_state=True)
    assert state.is_failed()
    assert state.message == "1/2 states failed."
    with pytest.raises(ValueError, match="boom 3"):
        state.result()


def test_failed_future_not_returned_does_not_fail_the_flow_but_is_waited_for() -> None:
    finished = threading.Event()

    @task
    def slow_failure() -> None:
        finished.wait(0.05)
        finished.set()
        raise RuntimeError("ignored")

    @flow
    def f() -> str:
        slow_failure.submit()
        return "done"

    assert f() == "done"
    assert finished.is_set()


def test_upstream_failure_skips_downstream_with_not_ready() -> None:
    ran: list[int] = []
    seen: list[State[Any]] = []

    @task
    def downstream(value: int) -> None:
        ran.append(value)

    @flow
    def f() -> None:
        future = downstream.submit(boom.submit())
        future.wait()
        seen.append(future.state)

    assert f(return_state=True).is_completed()  # nothing failed was returned or raised
    assert ran == []
    assert seen[0].name == "NotReady" and seen[0].is_pending()
    assert "did not reach a 'COMPLETED' state" in (seen[0].message or "")


def test_returning_a_not_ready_future_fails_the_flow() -> None:
    @task
    def downstream(value: int) -> int:
        return value

    @flow
    def f() -> Any:
        return downstream.submit(boom.submit())

    state = f(return_state=True)
    assert state.is_failed() and state.message == "1/1 states are not final."


def test_allow_failure_passes_the_exception_downstream() -> None:
    @task
    def inspect_error(value: Any) -> str:
        return type(value).__name__

    @flow
    def f() -> str:
        return inspect_error(allow_failure(boom.submit()))

    assert f() == "ValueError"


def test_wait_for_orders_runs_without_data() -> None:
    order: list[str] = []

    @task
    def first() -> None:
        order.append("first")

    @task
    def second() -> None:
        order.append("second")

    @flow
    def f() -> None:
        upstream = first.submit()
        second.submit(wait_for=[upstream]).wait()

    f()
    assert order == ["first", "second"]


def test_map_with_unmapped_and_static_arguments() -> None:
    @task
    def combine(x: int, items: list[int], scale: int = 1) -> int:
        return (x + sum(items)) * scale

    @flow
    def f() -> list[int]:
        return combine.map([1, 2, 3], unmapped([10, 10]), scale=2).result()

    assert f() == [42, 44, 46]


def test_map_over_a_future_result() -> None:
    @task
    def numbers() -> list[int]:
        return [1, 2]

    @flow
    def f() -> list[int]:
        return add.map(numbers.submit()).result()

    assert f() == [2, 3]


def test_map_errors() -> None:
    @flow
    def mismatch() -> None:
        add.map([1, 2], [1])

    @flow
    def no_iterable() -> None:
        add.map(1, 2)

    with pytest.raises(MappingLengthMismatch):
        mismatch()
    with pytest.raises(MappingMissingIterable):
        no_iterable()


def test_submit_and_map_outside_a_flow_raise() -> None:
    with pytest.raises(RuntimeError, match="inside a flow run"):
        add.submit(1)
    with pytest.raises(RuntimeError, match="inside a flow run"):
        add.map([1])


def test_wait_and_as_completed() -> None:
    @flow
    def f() -> tuple[int, list[int]]:
        futures = add.map([1, 2, 3])
        done, not_done = wait(futures)
        return len(done) + len(not_done), sorted(fut.result() for fut in as_completed(futures))

    assert f() == (3, [2, 3, 4])


def test_with_options_copies_and_overrides() -> None:
    renamed = add.with_options(name="plus", retries=2)
    assert (renamed.name, renamed.retries, add.name, add.retries) == ("plus", 2, "add", 0)
    assert renamed(1) == 2
    with pytest.raises(TypeError, match="Unknown task option"):
        add.with_options(nope=1)


def test_reserved_argument_names_are_rejected() -> None:
    def uses_reserved(wait_for: int) -> int:
        return wait_for

    with pytest.raises(ReservedArgumentError):
        task(uses_reserved)


def test_task_hooks_receive_task_run_and_state() -> None:
    seen: list[tuple[str, str]] = []

    def on_ok(tk: Any, task_run: Any, state: State[Any]) -> None:
        seen.append((tk.name, state.name))

    def on_bad(tk: Any, task_run: Any, state: State[Any]) -> None:
        seen.append((task_run.name.split("-")[0], state.name))

    def broken_hook(tk: Any, task_run: Any, state: State[Any]) -> None:
        raise RuntimeError("hook errors are logged, not raised")

    add.with_options(on_completion=[on_ok, broken_hook])(1)
    boom.with_options(on_failure=on_bad)(return_state=True)
    assert seen == [("add", "Completed"), ("boom", "Failed")]


def test_tags_context_applies_to_task_runs() -> None:
    @task(tags=["own"])
    def read_tags() -> list[str]:
        return task_run.tags

    with tags("outer"):
        assert read_tags() == ["outer", "own"]


def test_task_states_reported_in_order(observer: RecordingObserver) -> None:
    @flow
    def f() -> None:
        add(1)

    run_flow(f, {}, observer=observer)
    assert observer.task_state_names("add") == ["Pending", "Running", "Completed"]
    _, _, final, started, ended = observer.task_states[-1]
    assert started is not None and ended is not None and started <= ended
    assert final.state_details.flow_run_id == observer.flow_states[-1].state_details.flow_run_id
