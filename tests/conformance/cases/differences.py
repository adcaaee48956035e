"""Where Baton differs on purpose (docs/sdk.md): each case pins both behaviours.

Every key below that differs is declared in ``DIFFERENCES`` with what Prefect and
Baton each do; docs/compatibility.md explains why. Keys not declared must match.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from casekit import count, counts, describe_state, jsonable, outcome, run_logs
from prefect import flow, task

_WHY_DICT = "compatibility.md#failed-futures-inside-a-returned-dict"
_WHY_DATACLASS = "compatibility.md#futures-inside-dataclasses-and-models"
_WHY_COROUTINE = "compatibility.md#a-coroutine-returned-by-a-sync-flow-runs-inside-its-run"

DIFFERENCES = {
    "case_failed_future_inside_returned_dict": {
        "state": {
            "prefect": {"type": "COMPLETED", "name": "Completed", "message": None},
            "baton": {"type": "FAILED", "name": "Failed", "message": "1/2 states failed."},
            "why": _WHY_DICT,
        },
    },
    "case_sync_flow_returns_an_async_tasks_coroutine": {
        "logs": {
            "prefect": [
                "INFO flow: Beginning flow run <run> for flow <run>",
                "INFO flow: Finished in state Completed()",
                "INFO task: Finished in state Completed()",
            ],
            "baton": [
                "INFO flow: Beginning flow run <run> for flow <run>",
                "INFO task: Finished in state Completed()",
                "INFO flow: Finished in state Completed()",
            ],
            "why": _WHY_COROUTINE,
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


def case_sync_flow_returns_an_async_tasks_coroutine() -> dict:
    @task
    async def double(x: int) -> int:
        return 2 * x

    @flow
    def sync_main() -> int:
        return double(1)  # a coroutine: Prefect runs a returned one to its end

    return {"outcome": outcome(sync_main), "logs": run_logs()}


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
