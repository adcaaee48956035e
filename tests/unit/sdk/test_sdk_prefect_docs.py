"""Examples from Prefect 3's documentation, changed only in the import (prefect -> baton).

Each test names the documentation page the example comes from. The code between
the markers is the documentation's, imports included (hence the file-wide noqa);
the assertions are ours.
"""
# ruff: noqa: PLC0415

from __future__ import annotations

import random
from typing import Any

import pytest
from pydantic import BaseModel
from sdk_testkit import FakeClock, ListHandler, RecordingObserver

from baton._engine.flow_engine import run_flow

pytestmark = pytest.mark.unit


def test_map_over_customers(observer: RecordingObserver) -> None:
    """docs.prefect.io/v3/get-started/quickstart (task mapping)."""
    # --- from the documentation ---
    from baton import flow, task

    @task
    def get_customer_ids() -> list[str]:
        # Fetch customer IDs from a database or API
        return [f"customer{n}" for n in random.choices(range(100), k=10)]

    @task
    def process_customer(customer_id: str) -> str:
        # Process a single customer
        return f"Processed {customer_id}"

    @flow
    def main() -> list[str]:
        customer_ids = get_customer_ids()
        # Map the process_customer task across all customer IDs
        results = process_customer.map(customer_ids)
        return results

    # --- end ---

    state = run_flow(main, {}, observer=observer)
    assert state.is_completed()
    assert len(state.result()) == 10
    assert all(r.startswith("Processed customer") for r in state.result())
    assert len(observer.task_state_names("process_customer")) == 30  # 10 runs x 3 states


def test_exponential_backoff_with_jitter(clock: FakeClock) -> None:
    """docs.prefect.io/v3/develop/write-tasks (retries with exponential backoff)."""
    attempts: list[int] = []
    # --- from the documentation ---
    from baton import task
    from baton.tasks import exponential_backoff

    @task(
        retries=3,
        retry_delay_seconds=exponential_backoff(backoff_factor=10),
        retry_jitter_factor=1,
    )
    def some_task_with_exponential_backoff_retries():  # type: ignore[no-untyped-def]
        # (rest of code follows)
        attempts.append(1)
        raise ConnectionError

    # --- end ---

    assert some_task_with_exponential_backoff_retries(return_state=True).is_failed()
    assert len(attempts) == 4
    assert [0 <= s <= 2 * base for s, base in zip(clock.sleeps, [10, 20, 40], strict=True)]


def test_cache_with_task_input_hash(logs: ListHandler) -> None:
    """docs.prefect.io/v3/develop/task-caching (cache_key_fn + cache_expiration)."""
    # --- from the documentation ---
    from datetime import timedelta

    from baton import flow, task
    from baton.tasks import task_input_hash

    @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(days=1))
    def hello_task(name_input):  # type: ignore[no-untyped-def]
        # Doing some work
        print("Saying hello")
        return "hello " + name_input

    @flow(log_prints=True)
    def hello_flow(name_input):  # type: ignore[no-untyped-def]
        hello_task(name_input)

    # --- end ---

    hello_flow("Marvin")
    hello_flow("Marvin")
    assert logs.messages.count("Saying hello") == 1
    assert any("Finished in state Cached(type=COMPLETED)" in m for m in logs.messages)


def test_cache_policy_composition() -> None:
    """docs.prefect.io/v3/develop/task-caching (cache policies)."""
    # --- from the documentation ---
    from baton import task
    from baton.cache_policies import INPUTS, TASK_SOURCE

    @task(cache_policy=TASK_SOURCE + INPUTS)
    def my_cached_task(x: int):  # type: ignore[no-untyped-def]
        return x + 42

    # --- end ---

    assert my_cached_task(1) == 43
    assert my_cached_task(1, return_state=True).name == "Cached"


def test_failed_task_state_does_not_fail_flow() -> None:
    """docs.prefect.io/v3/develop/manage-states (final state determination)."""
    # --- from the documentation ---
    from baton import flow, task

    @task
    def add_one(x):  # type: ignore[no-untyped-def]
        return x + 1

    @flow
    def my_flow():  # type: ignore[no-untyped-def]
        # avoided raising an exception via `return_state=True`
        state = add_one("1", return_state=True)
        assert state.is_failed()

        # the flow function returns successfully!
        return

    # --- end ---

    assert my_flow(return_state=True).is_completed()


def test_unmapped_static_argument() -> None:
    """docs.prefect.io/v3/develop/task-runners (mapping with unmapped)."""
    # --- from the documentation ---
    from baton import flow, task, unmapped

    @task
    def sum_plus(x, static_iterable):  # type: ignore[no-untyped-def]
        return x + sum(static_iterable)

    @flow
    def sum_it(numbers, static_iterable):  # type: ignore[no-untyped-def]
        futures = sum_plus.map(numbers, unmapped(static_iterable))
        return futures

    resulting_futures = sum_it([1, 2, 3], [4, 5, 6])
    # --- end ---

    # Prefect returns the task runs' states here; Baton returns their values (docs/sdk.md).
    assert resulting_futures == [16, 17, 18]


def test_runtime_context(logs: ListHandler) -> None:
    """docs.prefect.io/v3/develop/runtime-context."""
    # --- from the documentation ---
    from baton import flow, runtime, task

    @flow(log_prints=True)
    def my_flow(x):  # type: ignore[no-untyped-def]
        print("My name is", runtime.flow_run.name)
        print("I belong to deployment", runtime.deployment.name)
        my_task(2)

    @task
    def my_task(y):  # type: ignore[no-untyped-def]
        print("My name is", runtime.task_run.name)
        print("Flow run parameters:", runtime.flow_run.parameters)

    # --- end ---

    my_flow(1)
    printed = [m for m in logs.messages if m.startswith(("My name", "I belong", "Flow run p"))]
    assert printed[1] == "I belong to deployment None"
    assert printed[2].startswith("My name is my_task-")
    assert printed[3] == "Flow run parameters: {'x': 1}"


def test_subflow_hello_world(logs: ListHandler) -> None:
    """docs.prefect.io/v3/develop/write-flows (nested flows)."""
    # --- from the documentation ---
    from baton import flow, task

    @task(name="Print Hello")
    def print_hello(name):  # type: ignore[no-untyped-def]
        msg = f"Hello {name}!"
        print(msg)
        return msg

    @flow(name="Subflow")
    def my_subflow(msg):  # type: ignore[no-untyped-def]
        print(f"Subflow says: {msg}")

    @flow(name="Hello Flow")
    def hello_world(name="world"):  # type: ignore[no-untyped-def]
        message = print_hello(name)
        my_subflow(message)

    hello_world("Marvin")
    # --- end ---

    assert any(m.endswith("for flow 'Subflow'") and "subflow run" in m for m in logs.messages)
    assert any(m.endswith("for flow 'Hello Flow'") for m in logs.messages)


# --- from the documentation (docs.prefect.io/v3/develop/write-flows) ---
class Model(BaseModel):
    a: int
    b: float
    c: str


# --- end ---


def test_pydantic_model_parameter() -> None:
    """docs.prefect.io/v3/develop/write-flows (parameter type conversion)."""
    # --- from the documentation ---
    from baton import flow

    @flow
    def model_validator(model: Model):  # type: ignore[no-untyped-def]
        print(model)

    # --- end ---

    @flow
    def echo(model: Model) -> Model:
        return model

    assert model_validator({"a": 42, "b": 0, "c": "55"}, return_state=True).is_completed()
    assert echo({"a": "42", "b": 0, "c": "55"}) == Model(a=42, b=0.0, c="55")  # type: ignore[arg-type]


def test_state_change_hook(logs: ListHandler) -> None:
    """docs.prefect.io/v3/develop/manage-states (state change hooks)."""
    # --- from the documentation ---
    from baton import flow

    def my_success_hook(flow, flow_run, state):  # type: ignore[no-untyped-def]
        print("Flow run succeeded!")

    @flow(on_completion=[my_success_hook])
    def my_flow():  # type: ignore[no-untyped-def]
        return 42

    my_flow()
    # --- end ---

    assert "Hook 'my_success_hook' finished running successfully" in logs.messages


def test_tags_context_manager(observer: RecordingObserver) -> None:
    """docs.prefect.io/v3/develop/write-tasks (tags)."""
    seen: list[list[str]] = []
    # --- from the documentation ---
    from baton import flow, tags, task

    @task
    def my_task():  # type: ignore[no-untyped-def]
        print("Hello, I'm a task")

    @flow
    def my_flow():  # type: ignore[no-untyped-def]
        with tags("test"):
            my_task()

    # --- end ---

    from baton.runtime import task_run

    @task
    def read_tags() -> None:
        seen.append(task_run.tags)

    @flow
    def check() -> Any:
        my_flow()
        with tags("test"):
            read_tags()

    run_flow(check, {}, observer=observer)
    assert seen == [["test"]]
