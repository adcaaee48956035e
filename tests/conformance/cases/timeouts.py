"""``timeout_seconds`` on tasks and flows: the TimedOut state, its message, retries."""

from __future__ import annotations

import time

from casekit import count, counts, describe_error, describe_state, run_logs
from prefect import flow, task


def case_task_timeout() -> dict:
    @task(timeout_seconds=1)
    def slow() -> str:
        count("slow")
        time.sleep(3)
        return "too late"

    @flow
    def main() -> dict:
        state = slow(return_state=True)
        try:
            state.result()
        except BaseException as exc:
            raised = describe_error(exc)
        return {"task_state": describe_state(state), "result_raises": raised}

    state = main(return_state=True)
    return {
        "flow_state": describe_state(state),
        "result": state.result(),
        "counts": counts(),
        "logs": run_logs(),
    }


def case_task_timeout_is_retried() -> dict:
    @task(timeout_seconds=1, retries=1, retry_delay_seconds=0)
    def slow_then_fast() -> str:
        if count("slow_then_fast") == 1:
            time.sleep(3)
        return "second attempt"

    @flow
    def main() -> str:
        return slow_then_fast()

    state = main(return_state=True)
    return {"state": describe_state(state), "result": state.result(), "counts": counts()}


def case_flow_timeout() -> dict:
    @flow(timeout_seconds=1)
    def main() -> str:
        count("main")
        time.sleep(3)
        return "too late"

    state = main(return_state=True)
    try:
        state.result()
    except BaseException as exc:
        raised = describe_error(exc)
    return {
        "state": describe_state(state),
        "result_raises": raised,
        "counts": counts(),
        "logs": run_logs(),
    }
