"""Retries (delays, backoff, jitter, conditions) and timeouts, on a fake clock."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sdk_testkit import FakeClock, ListHandler, RecordingObserver

from baton import flow, task
from baton._engine.flow_engine import run_flow
from baton._engine.retries import jittered_delay, normalize_retry_delays, retry_delay_for
from baton.runtime import task_run
from baton.states import State
from baton.tasks import exponential_backoff

pytestmark = pytest.mark.unit


def flaky(failures: int) -> tuple[Any, list[int]]:
    """A function failing ``failures`` times, then returning the attempt count."""
    attempts: list[int] = []

    def fn() -> int:
        attempts.append(1)
        if len(attempts) <= failures:
            raise ConnectionError(f"attempt {len(attempts)}")
        return len(attempts)

    return fn, attempts


def test_task_retries_until_success(clock: FakeClock, logs: ListHandler) -> None:
    fn, _ = flaky(2)
    assert task(retries=2, retry_delay_seconds=5)(fn)() == 3
    assert clock.sleeps == [5, 5]
    assert "Retry 1/2 will start 5 second(s) from now" in logs.messages[0]
    assert logs.messages[0].startswith("Task run failed with exception: ConnectionError")


def test_task_retries_exhausted_fails_with_last_exception(logs: ListHandler) -> None:
    fn, attempts = flaky(10)
    state = task(retries=2)(fn)(return_state=True)
    assert state.is_failed() and len(attempts) == 3
    assert str(state.result(raise_on_failure=False)) == "attempt 3"
    assert any(m.endswith("Retries are exhausted") for m in logs.messages)
    assert "will start immediately" in logs.messages[0]


def test_task_without_retries_does_not_mention_them(logs: ListHandler) -> None:
    fn, _ = flaky(1)
    task(fn)(return_state=True)
    assert logs.messages[0] == "Task run failed with exception: ConnectionError('attempt 1')"


def test_retry_delay_list_repeats_last_value(clock: FakeClock) -> None:
    fn, _ = flaky(4)
    task(retries=4, retry_delay_seconds=[1, 2])(fn)()
    assert clock.sleeps == [1, 2, 2, 2]


def test_exponential_backoff(clock: FakeClock) -> None:
    assert exponential_backoff(backoff_factor=10)(3) == [10, 20, 40]
    fn, _ = flaky(3)
    task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=2))(fn)()
    assert clock.sleeps == [2, 4, 8]


def test_retry_states_reported(observer: RecordingObserver) -> None:
    fn, _ = flaky(1)
    retried = task(retries=1)(fn)

    @flow
    def f() -> int:
        return retried()

    run_flow(f, {}, observer=observer)
    assert observer.task_state_names("fn") == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]


def test_jitter_stays_within_bounds() -> None:
    rng = random.Random(7)
    samples = [jittered_delay(10, 0.5, rng) for _ in range(500)]
    assert min(samples) >= 5 and max(samples) <= 15
    assert 9 < sum(samples) / len(samples) < 11
    assert len(set(samples)) > 100
    assert jittered_delay(10, None) == 10


def test_jitter_applies_to_task_retries(clock: FakeClock) -> None:
    fn, _ = flaky(3)
    task(retries=3, retry_delay_seconds=10, retry_jitter_factor=0.5)(fn)()
    assert len(clock.sleeps) == 3
    assert all(5 <= s <= 15 for s in clock.sleeps)
    assert clock.sleeps != [10, 10, 10]


def test_retry_delay_validation() -> None:
    with pytest.raises(ValueError, match="50"):
        normalize_retry_delays([1] * 51, 51)
    with pytest.raises(ValueError, match="jitter"):
        task(retry_jitter_factor=-1)(lambda: None)
    assert retry_delay_for([], 3) == 0


def test_retry_condition_fn_decides(logs: ListHandler) -> None:
    seen: list[str] = []

    def only_connection_errors(tk: Any, task_run: Any, state: State[Any]) -> bool:
        seen.append(f"{tk.name}:{task_run.run_count}:{state.name}")
        try:
            state.result()
        except ConnectionError:
            return True
        except Exception:
            return False
        return True

    calls: list[int] = []

    @task(retries=5, retry_condition_fn=only_connection_errors)
    def sometimes() -> None:
        calls.append(1)
        raise ConnectionError if len(calls) == 1 else KeyError("fatal")

    assert sometimes(return_state=True).is_failed()
    assert len(calls) == 2
    assert seen == ["sometimes:1:Failed", "sometimes:2:Failed"]
    assert any("Retry condition not met" in m for m in logs.messages)


def test_flow_retries(clock: FakeClock, logs: ListHandler) -> None:
    fn, _ = flaky(2)
    retried = flow(retries=2, retry_delay_seconds=3)(fn)
    assert retried() == 3
    assert clock.sleeps == [3, 3]
    assert any("Received non-final state 'AwaitingRetry'" in m for m in logs.messages)


def test_flow_without_retries_runs_once() -> None:
    fn, attempts = flaky(1)
    assert flow(fn)(return_state=True).is_failed()
    assert len(attempts) == 1


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """An event timed-out bodies wait on; released at teardown so their threads end."""
    event = threading.Event()
    yield event
    event.set()


def test_task_timeout_fails_as_timed_out(gate: threading.Event, logs: ListHandler) -> None:
    @task(timeout_seconds=0.05)
    def stuck() -> None:
        gate.wait(5)

    state = stuck(return_state=True)
    assert state.is_failed() and state.name == "TimedOut"
    assert state.message == "Task run exceeded timeout of 0.05 second(s)"
    exc = state.result(raise_on_failure=False)
    assert isinstance(exc, TimeoutError) and str(exc) == "Scope timed out after 0.05 second(s)."


def test_task_timeout_is_retried(gate: threading.Event) -> None:
    attempts: list[int] = []

    @task(timeout_seconds=0.05, retries=1)
    def slow_then_fast() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            gate.wait(5)
        return "fast"

    assert slow_then_fast() == "fast"
    assert len(attempts) == 2


def test_task_within_timeout_returns_normally_with_context() -> None:
    @task(timeout_seconds=5)
    def quick() -> str | None:
        return task_run.task_name

    assert quick() == "quick"


def test_flow_timeout_fails_and_abandoned_body_cannot_start_tasks(
    gate: threading.Event, observer: RecordingObserver
) -> None:
    after_timeout: list[State[Any]] = []
    body_done = threading.Event()

    @task
    def later() -> str:
        return "should not run"

    @flow(timeout_seconds=0.05)
    def stuck() -> None:
        gate.wait(5)
        after_timeout.append(later(return_state=True))
        body_done.set()

    state = run_flow(stuck, {}, observer=observer)
    assert state.is_failed() and state.name == "TimedOut"
    assert state.message == "Flow run exceeded timeout of 0.05 second(s)"
    assert str(state.result(raise_on_failure=False)) == "Scope timed out after 0.05 second(s)."
    gate.set()
    assert body_done.wait(5)
    assert after_timeout[0].is_cancelled()


def test_flow_timeout_then_retry_runs_tasks_again(gate: threading.Event) -> None:
    attempts: list[int] = []

    @task
    def work() -> str:
        return "worked"

    @flow(timeout_seconds=0.1, retries=1)
    def first_attempt_hangs() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            gate.wait(5)
        return work()

    assert first_attempt_hangs() == "worked"
