"""``.submit()``, ``.map()``, ``unmapped``, ``wait``, ``as_completed``, futures as inputs."""

from __future__ import annotations

import time

from casekit import count, counts, describe_error, describe_state, jsonable, outcome
from prefect import allow_failure, flow, task, unmapped
from prefect.futures import as_completed, wait
from prefect.task_runners import ThreadPoolTaskRunner

# Prefect gives the caller the *states* of returned futures; Baton gives their values.
DIFFERENCES = {
    "case_flow_returns_futures": {
        "returned": {
            "prefect": [
                {"state": {"type": "COMPLETED", "name": "Completed", "message": None}},
                {"state": {"type": "COMPLETED", "name": "Completed", "message": None}},
            ],
            "baton": [1, 4],
            "why": "compatibility.md#returned-futures-and-states",
        },
        "returned_states_built_by_tasks": {
            "prefect": [{"state": {"type": "COMPLETED", "name": "Completed", "message": None}}],
            "baton": [4],
            "why": "compatibility.md#returned-futures-and-states",
        },
    }
}


def case_submit_and_result() -> dict:
    @task
    def square(x: int) -> int:
        return x * x

    @flow
    def main() -> dict:
        future = square.submit(7)
        observed = {
            "future_type_has_task_run_id": hasattr(future, "task_run_id"),
            "result": future.result(),
            "state": describe_state(future.state),
        }
        future.wait()
        return observed

    return outcome(main)


def case_map_with_unmapped() -> dict:
    @task
    def scale(x: int, factor: int, extra: list) -> int:
        count("scale")
        return x * factor + len(extra)

    @flow
    def main() -> dict:
        futures = scale.map([1, 2, 3], factor=unmapped(10), extra=unmapped([0, 0]))
        return {
            "len": len(futures),
            "results": futures.result(),
            "states": [describe_state(f.state) for f in futures],
        }

    return {"outcome": outcome(main), "counts": counts()}


def case_map_zips_iterables_and_rejects_mismatch() -> dict:
    @task
    def add(x: int, y: int) -> int:
        return x + y

    @flow
    def zipped() -> list:
        return add.map([1, 2, 3], [10, 20, 30]).result()

    @flow
    def mismatched() -> list:
        return add.map([1, 2], [10, 20, 30]).result()

    @flow
    def nothing_iterable() -> list:
        return add.map(1, 2).result()

    return {
        "zipped": outcome(zipped),
        "mismatched": outcome(mismatched)["raised"]["error"],
        "nothing_iterable": outcome(nothing_iterable)["raised"]["error"],
    }


def case_map_over_a_future() -> dict:
    @task
    def numbers() -> list:
        return [1, 2, 3]

    @task
    def inc(x: int) -> int:
        return x + 1

    @flow
    def main() -> list:
        return inc.map(numbers.submit()).result()

    return outcome(main)


def case_wait_and_as_completed() -> dict:
    @task
    def sleepy(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=4))
    def main() -> dict:
        futures = [sleepy.submit(s) for s in (0.3, 0.0, 0.1)]
        done_early = wait(futures, timeout=0.01)
        done = wait(futures)
        order = [f.result() for f in as_completed(futures)]
        return {
            "done_after_timeout": len(done_early.done) < 3,
            "done": len(done.done),
            "not_done": len(done.not_done),
            "as_completed_all": sorted(order),
        }

    return outcome(main)


def case_futures_as_arguments() -> dict:
    @task
    def produce(x: int) -> int:
        return x

    @task
    def combine(values: list, extra: dict) -> int:
        return sum(values) + sum(extra.values())

    @flow
    def main() -> int:
        a, b, c = produce.submit(1), produce.submit(2), produce.submit(3)
        return combine.submit([a, b], {"c": c}).result()

    return outcome(main)


def case_failed_upstream_future() -> dict:
    @task
    def broken() -> int:
        raise ValueError("upstream broke")

    @task
    def downstream(x: int) -> int:
        count("downstream")
        return x

    @task
    def tolerant(x: object) -> str:
        count("tolerant")
        return type(x).__name__

    @flow
    def main() -> dict:
        upstream = broken.submit()
        blocked = downstream.submit(upstream)
        allowed = tolerant.submit(allow_failure(upstream))
        blocked.wait()
        try:
            blocked.result()
            blocked_raises = None
        except Exception as exc:
            blocked_raises = describe_error(exc)
        return {
            "upstream": describe_state(upstream.state),
            "blocked": {**describe_state(blocked.state), "message": None},
            "blocked_raises_type": blocked_raises["error"] if blocked_raises else None,
            "allowed": allowed.result(),
        }

    state = main(return_state=True)
    return {"flow": describe_state(state), "result": state.result(), "counts": counts()}


def case_wait_for_orders_without_data() -> dict:
    @task
    def first() -> None:
        time.sleep(0.2)
        count("first")

    @task
    def second() -> dict:
        return counts()

    @flow
    def main() -> dict:
        f = first.submit()
        return second.submit(wait_for=[f]).result()

    return outcome(main)


def case_submitted_task_failure_not_returned() -> dict:
    @task
    def broken() -> None:
        raise ValueError("nobody looked")

    @flow
    def main() -> str:
        future = broken.submit()
        future.wait()
        return "done"

    state = main(return_state=True)
    return {"state": describe_state(state), "result": state.result()}


def case_flow_returns_futures() -> dict:
    @task
    def square(x: int) -> int:
        return x * x

    @flow
    def returns_futures() -> list:
        return [square.submit(1), square.submit(2)]

    @flow
    def returns_states() -> list:
        return [square(2, return_state=True)]

    state = returns_futures(return_state=True)
    return {
        "state": describe_state(state),
        "returned": jsonable(returns_futures()),
        "returned_states_built_by_tasks": jsonable(returns_states()),
    }


def case_map_return_state_and_failures() -> dict:
    @task
    def check(x: int) -> int:
        if x % 2:
            raise ValueError(f"odd {x}")
        return x

    @flow
    def main() -> dict:
        futures = check.map([1, 2, 3, 4])
        futures.wait()
        return {
            "states": [describe_state(f.state)["name"] for f in futures],
            "results": [f.result(raise_on_failure=False).__class__.__name__ for f in futures],
        }

    state = main(return_state=True)
    return {"state": describe_state(state), "result": state.result()}
