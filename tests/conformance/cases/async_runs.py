"""``async def`` flows and tasks: awaited tasks, gathered coroutines, submitted async tasks,
async hooks, async subflows, retries and timeouts of coroutines."""

from __future__ import annotations

import asyncio
import time

from casekit import count, counts, describe_state, outcome, read_run_artifacts, run_logs, within
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

_WHY_GATHER = "compatibility.md#async-subflows-gathered-run-concurrently"

DIFFERENCES = {
    "case_async_subflows": {
        "concurrent": {"prefect": [False], "baton": [True], "why": _WHY_GATHER},
        "logs": {
            "prefect": [
                "INFO flow: Beginning flow run <run> for flow 'parent'",
                "INFO flow: Beginning subflow run <run> for flow 'child'",
                "INFO task: Finished in state Completed()",
                "INFO flow: Finished in state Completed()",
                "INFO flow: Beginning subflow run <run> for flow 'child'",
                "INFO task: Finished in state Completed()",
                "INFO flow: Finished in state Completed()",
                "INFO flow: Beginning subflow run <run> for flow <run>",
                "INFO flow: Finished in state Completed()",
                "INFO flow: Finished in state Completed()",
            ],
            "baton": [
                "INFO flow: Beginning flow run <run> for flow 'parent'",
                "INFO flow: Beginning subflow run <run> for flow 'child'",
                "INFO flow: Beginning subflow run <run> for flow 'child'",
                "INFO task: Finished in state Completed()",
                "INFO task: Finished in state Completed()",
                "INFO flow: Finished in state Completed()",
                "INFO flow: Finished in state Completed()",
                "INFO flow: Beginning subflow run <run> for flow <run>",
                "INFO flow: Finished in state Completed()",
                "INFO flow: Finished in state Completed()",
            ],
            "why": _WHY_GATHER,
        },
    },
}


def case_async_flow_awaits_tasks() -> dict:
    @task
    async def double(x: int) -> int:
        await asyncio.sleep(0.01)
        count("double")
        return 2 * x

    @task
    def plain(x: int) -> int:
        return x + 1

    @flow
    async def main(x: int) -> dict:
        doubled = await double(x)
        state = await double(doubled, return_state=True)
        get_run_logger().info("doubled twice: %s", await state.result())
        return {"doubled": doubled, "state": describe_state(state), "plain": plain(doubled)}

    async def both() -> dict:
        value = await main(3)
        state = await main(4, return_state=True)
        return {"value": value, "state": describe_state(state), "result": await state.result()}

    return {"outcome": outcome(asyncio.run, both()), "counts": counts(), "logs": run_logs()}


def case_async_gather_runs_tasks_concurrently() -> dict:
    @task
    async def nap(i: int) -> int:
        await asyncio.sleep(0.4)
        count("nap")
        return i

    @flow
    async def main() -> dict:
        started = time.monotonic()
        values = await asyncio.gather(*[nap(i) for i in range(4)])
        return {"values": values, "overlapped": within([time.monotonic() - started], [0], [1.2])}

    return {"outcome": outcome(asyncio.run, main()), "counts": counts(), "logs": run_logs()}


def case_async_tasks_submitted_from_a_sync_flow() -> dict:
    @task
    async def square(x: int) -> int:
        await asyncio.sleep(0.01)
        count("square")
        return x * x

    @task
    def add(a: int, b: int) -> int:
        return a + b

    @flow
    def main() -> dict:
        one = square.submit(3)
        many = square.map([1, 2, 3])
        total = add.submit(one, many[2])
        return {
            "one": one.result(),
            "many": many.result(),
            "total": total.result(),
            "state": describe_state(one.state),
        }

    return {"outcome": outcome(main), "counts": counts()}


def case_async_task_submitted_from_an_async_flow() -> dict:
    @task
    async def square(x: int) -> int:
        await asyncio.sleep(0.01)
        return x * x

    @flow
    async def main() -> list:
        futures = [square.submit(x) for x in range(3)]
        return [future.result() for future in futures]

    return {"outcome": outcome(asyncio.run, main())}


def case_async_task_retries_then_fails() -> dict:
    @task(retries=2, retry_delay_seconds=0.1)
    async def flaky() -> int:
        count("flaky")
        await asyncio.sleep(0)
        raise ValueError("not yet")

    @task(retries=1, retry_delay_seconds=0)
    async def recovers() -> str:
        if count("recovers") < 2:
            raise RuntimeError("first try")
        return "second try"

    @flow
    async def main() -> dict:
        state = await flaky(return_state=True)
        return {"flaky": describe_state(state), "recovers": await recovers()}

    return {"outcome": outcome(asyncio.run, main()), "counts": counts(), "logs": run_logs()}


def case_async_flow_failure_and_retry() -> dict:
    @flow(retries=1, retry_delay_seconds=0)
    async def shaky() -> str:
        if count("shaky") < 2:
            raise ValueError("first attempt fails")
        return "second attempt"

    @flow
    async def broken() -> None:
        await asyncio.sleep(0)
        raise KeyError("missing")

    def broken_state() -> dict:
        return describe_state(asyncio.run(broken(return_state=True)))

    return {
        "shaky": outcome(asyncio.run, shaky()),
        "broken": outcome(asyncio.run, broken()),
        "broken_state": outcome(broken_state),
        "counts": counts(),
        "logs": run_logs(),
    }


def case_async_hooks() -> dict:
    async def task_completed(task, task_run, state) -> None:
        await asyncio.sleep(0)
        count(f"task completed:{task.name}:{state.name}")

    async def task_failed(task, task_run, state) -> None:
        await asyncio.sleep(0)
        count(f"task failed:{task.name}:{state.name}")

    async def flow_hook(flow, flow_run, state) -> None:
        await asyncio.sleep(0)
        count(f"flow:{flow.name}:{state.name}")

    @task(on_completion=[task_completed], on_failure=[task_failed])
    async def good_async() -> int:
        return 1

    @task(on_completion=[task_completed], on_failure=[task_failed])
    def bad_sync() -> int:
        raise ValueError("bad")

    @flow(on_completion=[flow_hook], on_running=[flow_hook])
    async def async_main() -> int:
        await good_async()
        return 1

    @flow(on_failure=[flow_hook])
    def sync_main() -> int:
        return bad_sync()

    return {
        "async": outcome(asyncio.run, async_main()),
        "sync": outcome(sync_main),
        "counts": counts(),
        "logs": run_logs(),
    }


def case_async_subflows() -> dict:
    @task
    async def tag(name: str) -> str:
        await asyncio.sleep(0.2)
        return name

    @flow
    async def child(name: str) -> dict:
        return {"name": await tag(name), "has_parent": flow_run.parent_flow_run_id is not None}

    @flow
    def sync_child() -> str:
        return flow_run.flow_name

    timing: dict = {}

    @flow
    async def parent() -> dict:
        started = time.monotonic()
        both = await asyncio.gather(child("a"), child("b"))
        timing["concurrent"] = within([time.monotonic() - started], [0], [0.6])
        return {
            "children": both,
            "sync_child": sync_child(),
            "parent_has_parent": flow_run.parent_flow_run_id is not None,
        }

    result = outcome(asyncio.run, parent())
    return {"outcome": result, "concurrent": timing.get("concurrent"), "logs": run_logs()}


def case_async_timeouts() -> dict:
    @task(timeout_seconds=0.3)
    async def slow_task() -> str:
        await asyncio.sleep(5)
        count("slow task finished")
        return "late"

    @flow(timeout_seconds=0.3)
    async def slow_flow() -> str:
        await asyncio.sleep(5)
        count("slow flow finished")
        return "late"

    @flow
    async def main() -> dict:
        started = time.monotonic()
        state = await slow_task(return_state=True)
        elapsed = time.monotonic() - started
        return {"task": describe_state(state), "prompt": within([elapsed], [0.25], [2])}

    def flow_state() -> dict:
        started = time.monotonic()
        state = asyncio.run(slow_flow(return_state=True))
        elapsed = time.monotonic() - started
        return {"flow": describe_state(state), "prompt": within([elapsed], [0.25], [2])}

    return {
        "task": outcome(asyncio.run, main()),
        "flow": outcome(flow_state),
        "counts": counts(),
        "logs": run_logs(),
    }


def case_async_task_log_prints_and_logger() -> dict:
    @task(log_prints=True)
    async def talk(word: str) -> str:
        print(f"said {word}")
        get_run_logger().warning("warned about %s", word)
        return word

    @flow
    async def main() -> str:
        return await talk("hello")

    return {"outcome": outcome(asyncio.run, main()), "logs": run_logs()}


def case_async_results_and_artifacts_are_awaited() -> dict:
    @task
    async def report(n: int) -> int:
        await create_table_artifact([{"n": n}], key="numbers")
        return n

    @task
    def sync_report() -> str:
        create_markdown_artifact("from a sync task")  # no coroutine in a sync task
        return "sync"

    @flow
    async def main() -> dict:
        state = await report(1, return_state=True)
        await create_markdown_artifact("# done", key="summary", description="async flow")
        return {
            "result": await state.result(),
            "aresult": await state.aresult(),
            "sync": sync_report(),
            "artifacts": read_run_artifacts(),
        }

    return {"outcome": outcome(asyncio.run, main())}
