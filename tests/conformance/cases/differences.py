"""Where Baton differs on purpose (docs/sdk.md): each case pins both behaviours.

Every key below that differs is declared in ``DIFFERENCES`` with what Prefect and
Baton each do; docs/compatibility.md explains why. Keys not declared must match.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from casekit import count, counts, describe_state, jsonable, outcome
from prefect import flow, task

_WHY_DICT = "compatibility.md#failed-futures-inside-a-returned-dict"
_WHY_ASYNC = "compatibility.md#async-flows-and-tasks"
_WHY_DATACLASS = "compatibility.md#futures-inside-dataclasses-and-models"

DIFFERENCES = {
    "case_failed_future_inside_returned_dict": {
        "state": {
            "prefect": {"type": "COMPLETED", "name": "Completed", "message": None},
            "baton": {"type": "FAILED", "name": "Failed", "message": "1/2 states failed."},
            "why": _WHY_DICT,
        },
    },
    "case_async_task_and_flow": {
        "task": {
            "prefect": {"returned": 2},
            "baton": {"raised": {"error": "TypeError", "message": "<async refused>"}},
            "why": _WHY_ASYNC,
        },
        "flow": {
            "prefect": {"returned": 3},
            "baton": {"raised": {"error": "TypeError", "message": "<async refused>"}},
            "why": _WHY_ASYNC,
        },
    },
    "case_future_inside_a_dataclass_argument": {
        "outcome": {
            "prefect": {"returned": "int"},
            "baton": {"returned": "BatonFuture"},
            "why": _WHY_DATACLASS,
        },
    },
}


def case_failed_future_inside_returned_dict() -> dict:
    @task
    def maybe(x: int) -> int:
        if x == 2:
            raise ValueError("two")
        return x

    @flow
    def main() -> dict:
        return {"one": maybe.submit(1), "two": maybe.submit(2)}

    state = main(return_state=True)
    return {"state": describe_state(state)}


def case_async_task_and_flow() -> dict:
    @task
    async def double(x: int) -> int:
        return 2 * x

    @flow
    async def main() -> int:
        return 3

    @flow
    def sync_main() -> int:
        return double(1)  # Prefect runs an async task called from a sync flow to completion

    def refused(result: dict) -> dict:
        raised = result.get("raised")
        if raised and raised["error"] == "TypeError" and "async" in raised["message"]:
            return {"raised": {"error": "TypeError", "message": "<async refused>"}}
        return result

    def run_async_flow() -> int:
        return asyncio.run(main())

    def run_sync_flow_with_async_task() -> object:
        value = sync_main()
        return asyncio.run(value) if asyncio.iscoroutine(value) else value

    return {
        "task": refused(outcome(run_sync_flow_with_async_task)),
        "flow": refused(outcome(run_async_flow)),
    }


@dataclass
class Box:
    content: object


def case_future_inside_a_dataclass_argument() -> dict:
    @task
    def produce() -> int:
        return 1

    @task
    def inspect_box(box: Box) -> str:
        return type(box.content).__name__

    @flow
    def main() -> str:
        return inspect_box(Box(produce.submit()))

    return {"outcome": outcome(main)}


def case_unreturned_submitted_tasks_finish() -> dict:
    @task
    def slow() -> None:
        time.sleep(0.3)
        count("slow finished")

    @flow
    def main() -> str:
        slow.submit()
        return "returned early"

    result = outcome(main)
    time.sleep(0.6)
    return {"outcome": result, "counts": counts()}


def case_result_storage_options_accepted() -> dict:
    @task(persist_result=True, result_storage_key="double-{parameters[x]}")
    def double(x: int) -> int:
        count("double")
        return 2 * x

    @flow(persist_result=True)
    def main() -> list:
        return [double(2), double(3)]

    return {"outcome": outcome(main), "counts": counts(), "returned": jsonable(main())}
