"""Tasks outside flows, bad arguments, run-name callables, ``quote``, states from tasks."""

from __future__ import annotations

from casekit import count, counts, describe_error, describe_state, outcome, run_logs
from prefect import flow, task
from prefect.runtime import task_run
from prefect.states import Completed, Failed


def case_task_called_outside_a_flow() -> dict:
    @task(retries=1, retry_delay_seconds=0)
    def flaky(x: int) -> int:
        if count("flaky") == 1:
            raise ValueError("first try")
        return x * 10

    return {"outcome": outcome(flaky, 4), "counts": counts(), "logs": run_logs()}


def case_task_missing_argument() -> dict:
    @task
    def add(x: int, y: int) -> int:
        return x + y

    @flow
    def main() -> int:
        return add(1)  # type: ignore[call-arg]

    try:
        main()
    except TypeError as exc:
        return {
            "is_type_error": True,
            "error": type(exc).__name__,
            "first_line": str(exc).splitlines()[0],
        }
    return {"is_type_error": False}


def case_task_run_name_callable() -> dict:
    def name_from_parameters() -> str:
        return f"load-{task_run.parameters['table']}"

    @task(task_run_name=name_from_parameters)
    def load(table: str) -> str:
        return task_run.name

    @flow
    def main() -> list:
        return [load("users"), load("orders")]

    return outcome(main)


def case_task_returns_a_state() -> dict:
    @task
    def done() -> object:
        return Completed(message="custom done", data="payload")

    @task
    def refused() -> object:
        return Failed(message="refused on purpose")

    @flow
    def main() -> dict:
        good, bad = done(return_state=True), refused(return_state=True)
        return {
            "good": describe_state(good),
            "good_result": good.result(),
            "bad": describe_state(bad),
            "bad_raises": outcome(bad.result)["raised"]["error"],
        }

    return outcome(main)


def case_result_without_raising() -> dict:
    @task
    def broken() -> None:
        raise LookupError("nothing here")

    @flow
    def main() -> dict:
        state = broken(return_state=True)
        value = state.result(raise_on_failure=False)
        return {"value": describe_error(value), "is_exception": isinstance(value, Exception)}

    return outcome(main)


def case_submit_outside_a_flow() -> dict:
    @task
    def double(x: int) -> int:
        return 2 * x

    try:
        future = double.submit(2)
        return {"result": future.result()}
    except Exception as exc:
        return {"raised": type(exc).__name__}
