"""Subflows, and the on_completion/on_failure hooks of tasks and flows."""

from __future__ import annotations

from casekit import count, counts, describe_state, outcome, run_logs
from prefect import flow, task
from prefect.runtime import flow_run
from prefect.states import Cancelled


def case_subflow_returns_value() -> dict:
    @task
    def inc(x: int) -> int:
        return x + 1

    @flow
    def child(x: int) -> dict:
        return {
            "value": inc(x),
            "has_parent": flow_run.parent_flow_run_id is not None,
            "flow_name": flow_run.flow_name,
        }

    @flow
    def parent() -> dict:
        inner = child(1)
        return {
            "child": inner,
            "parent_has_parent": flow_run.parent_flow_run_id is not None,
            "flow_name": flow_run.flow_name,
        }

    state = parent(return_state=True)
    return {"state": describe_state(state), "result": state.result(), "logs": run_logs()}


def case_subflow_failure_raises_in_parent() -> dict:
    @flow
    def child() -> None:
        raise ValueError("child failed")

    @flow
    def parent() -> str:
        try:
            child()
        except ValueError as exc:
            count("caught")
            return f"parent saw: {exc}"
        return "not reached"

    @flow
    def parent_state() -> dict:
        state = child(return_state=True)
        return describe_state(state)

    return {"caught": outcome(parent), "as_state": outcome(parent_state), "counts": counts()}


def case_task_hooks() -> dict:
    def completed(task, task_run, state) -> None:
        count(f"completed:{task.name}:{state.name}")

    def failed(task, task_run, state) -> None:
        count(f"failed:{task.name}:{state.name}")

    @task(on_completion=[completed], on_failure=[failed])
    def ok() -> int:
        return 1

    @task(on_completion=[completed], on_failure=[failed], retries=1, retry_delay_seconds=0)
    def broken() -> int:
        raise ValueError("broken")

    @flow
    def main() -> list:
        return [describe_state(ok(return_state=True)), describe_state(broken(return_state=True))]

    return {"outcome": outcome(main), "counts": counts()}


def case_flow_hooks() -> dict:
    def completed(flow, flow_run, state) -> None:
        count(f"completed:{flow.name}:{state.name}")

    def failed(flow, flow_run, state) -> None:
        count(f"failed:{flow.name}:{state.name}")

    @flow(on_completion=[completed], on_failure=[failed])
    def good() -> int:
        return 1

    @flow(on_completion=[completed], on_failure=[failed])
    def bad() -> int:
        raise RuntimeError("bad")

    return {"good": outcome(good), "bad": outcome(bad), "counts": counts(), "logs": run_logs()}


def case_hook_that_raises_is_ignored() -> dict:
    def angry(task, task_run, state) -> None:
        count("angry")
        raise RuntimeError("hook failed")

    @task(on_completion=[angry])
    def ok() -> int:
        return 5

    @flow
    def main() -> int:
        return ok()

    state = main(return_state=True)
    return {
        "state": describe_state(state),
        "result": state.result(),
        "counts": counts(),
        "logs": run_logs(),
    }


def case_hook_decorator_form() -> dict:
    @task
    def ok() -> int:
        return 1

    @ok.on_completion
    def remember(task, task_run, state) -> None:
        count("decorated")

    @flow
    def main() -> int:
        return ok()

    return {"outcome": outcome(main), "counts": counts()}


def case_task_on_running_hooks() -> dict:
    def running(task, task_run, state) -> None:
        count(f"running:{task.name}:{state.name}:{task_run.run_count}")

    @task(on_running=[running], retries=2, retry_delay_seconds=0)
    def flaky() -> int:
        if count("flaky") < 2:
            raise ValueError("first")
        return 1

    @task(on_running=[running], retries=1, retry_delay_seconds=0.1)
    def delayed() -> int:
        if count("delayed") < 2:
            raise ValueError("first")
        return 2

    @task
    def plain() -> int:
        return 3

    @plain.on_running
    def decorated(task, task_run, state) -> None:
        count(f"decorated:{state.type.value}")

    @flow
    def main() -> list:
        return [flaky(), delayed(), plain()]

    return {"outcome": outcome(main), "counts": counts(), "logs": run_logs()}


def case_retried_flow_on_running_sees_running() -> dict:
    def running(flow, flow_run, state) -> None:
        count(f"running:{state.name}:{state.type.value}:{flow_run.run_count}")

    @flow(retries=1, retry_delay_seconds=0, on_running=[running])
    def shaky() -> str:
        count(f"state seen by body:{flow_run.run_count}")
        if count("shaky") < 2:
            raise ValueError("first")
        return "ok"

    return {"outcome": outcome(shaky), "counts": counts(), "logs": run_logs()}


def case_returned_cancelled_does_not_run_on_cancellation() -> dict:
    def cancelled_hook(flow, flow_run, state) -> None:
        count("on_cancellation")

    @flow(on_cancellation=[cancelled_hook])
    def gives_up() -> object:
        return Cancelled(message="not today")

    state = gives_up(return_state=True)
    return {"state": describe_state(state), "counts": counts(), "logs": run_logs()}
