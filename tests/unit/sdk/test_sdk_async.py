"""Async flows and tasks: the async drivers of the one engine, and what only they do.

Prefect-visible behaviour is pinned by tests/conformance/cases/async_runs.py; these
tests cover what a conformance case cannot see: the observer's reports, the fake
clock's retry delays, cancellation at a timeout, runs started while a loop is
already running, the on_running hooks of tasks and the sync/async dispatch rule.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sdk_testkit import FakeClock, RecordingObserver

from baton import flow, task
from baton._engine.dispatch import in_async_context
from baton._engine.flow_engine import run_flow
from baton.artifacts import create_markdown_artifact
from baton.states import State

pytestmark = pytest.mark.unit


@task
async def double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


def test_async_flow_reports_the_same_states_as_a_sync_one(observer: RecordingObserver) -> None:
    @flow
    async def main() -> int:
        return await double(2) + double.submit(3).result()

    # run_flow is what the in-cluster runtime calls: it runs the coroutine itself.
    state = run_flow(main, {}, observer=observer)
    assert state.is_completed() and state._result() == 10
    assert [s.name for s in observer.flow_states] == ["Pending", "Running", "Completed"]
    names = [s.name for _, _, s, _, _ in observer.task_states]
    assert names.count("Completed") == 2 and names.count("Pending") == 2


def test_async_task_retry_delays_go_through_the_clock(clock: FakeClock) -> None:
    attempts: list[int] = []

    @task(retries=2, retry_delay_seconds=[5, 7])
    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ValueError("again")
        return "done"

    @flow
    async def main() -> str:
        return await flaky()

    assert asyncio.run(main()) == "done"
    assert clock.sleeps == [5, 7]


def test_async_task_timeout_cancels_the_body() -> None:
    reached: list[str] = []
    cancelled = threading.Event()

    @task(timeout_seconds=0.05)
    async def sleepy() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        reached.append("after sleep")

    @flow
    async def main() -> str:
        return (await sleepy(return_state=True)).name

    assert asyncio.run(main()) == "TimedOut"
    assert cancelled.is_set() and reached == []


def test_a_timeout_error_raised_by_the_body_is_not_a_timeout() -> None:
    @task(timeout_seconds=10)
    async def raises() -> None:
        raise TimeoutError("the body's own")

    @flow
    async def main() -> tuple[str, str | None]:
        state = await raises(return_state=True)
        return state.name, state.message

    name, message = asyncio.run(main())
    assert name == "Failed" and "the body's own" in (message or "")


def test_async_flow_timeout_cancels_the_body_and_a_retry_runs_again() -> None:
    attempts: list[int] = []

    @flow(timeout_seconds=0.05, retries=1)
    async def slow_then_fast() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            await asyncio.sleep(5)
        return await double(1) and "fast"

    assert asyncio.run(slow_then_fast()) == "fast"
    assert len(attempts) == 2


def test_run_flow_inside_a_running_loop_uses_a_thread_of_its_own() -> None:
    @flow
    async def inner() -> int:
        return await double(4)

    async def caller() -> int:
        # e.g. a notebook: a loop already runs in this thread.
        return run_flow(inner, {})._result()

    assert asyncio.run(caller()) == 8


def test_async_generators_are_refused_at_decoration() -> None:
    async def stream() -> Any:
        yield 1

    with pytest.raises(TypeError, match="async generator"):
        task(stream)
    with pytest.raises(TypeError, match="async generator"):
        flow(stream)


def test_task_on_running_hooks_run_on_every_attempt() -> None:
    seen: list[tuple[str, int]] = []

    def running(task: Any, task_run: Any, state: State[Any]) -> None:
        seen.append((state.name, task_run.run_count))

    async def async_running(task: Any, task_run: Any, state: State[Any]) -> None:
        await asyncio.sleep(0)
        seen.append(("async " + state.name, task_run.run_count))

    attempts: list[int] = []

    @task(retries=1, on_running=[running])
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first")
        return 1

    @task(on_running=[async_running])
    async def quick() -> int:
        return 2

    @flaky.on_running
    def decorated(task: Any, task_run: Any, state: State[Any]) -> None:
        seen.append(("decorated", task_run.run_count))

    @flow
    def main() -> int:
        return flaky() + asyncio.run(quick())

    assert main() == 3
    assert seen == [
        ("Running", 1),
        ("decorated", 1),
        ("Retrying", 2),
        ("decorated", 2),
        ("async Running", 1),
    ]


def test_dispatch_follows_the_innermost_run() -> None:
    seen: dict[str, Any] = {}

    @task
    def sync_inside() -> bool:
        return in_async_context()

    @flow
    async def main() -> None:
        seen["flow"] = in_async_context()
        seen["sync task"] = sync_inside()
        seen["artifact"] = await create_markdown_artifact("x")  # an awaitable here
        state = await double(1, return_state=True)
        seen["result"] = await state.result()

    asyncio.run(main())
    assert seen["flow"] is True and seen["sync task"] is False and seen["result"] == 2
    assert seen["artifact"] is not None
    assert in_async_context() is False
