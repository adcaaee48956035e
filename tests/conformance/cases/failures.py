"""Failing tasks and flows: what raises, what the final states are, what the flow returns."""

from __future__ import annotations

from casekit import count, counts, describe_error, describe_state, jsonable, outcome, run_logs
from prefect import flow, task
from prefect.states import Cancelled, Completed, Failed


def case_task_failure_fails_the_flow() -> dict:
    @task
    def broken() -> None:
        raise KeyError("missing")

    @task
    def after() -> None:
        count("after")

    @flow
    def main() -> None:
        broken()
        after()

    state = main(return_state=True)
    return {
        "state": describe_state(state),
        "outcome": outcome(main),
        "counts": counts(),
        "logs": run_logs(),
    }


def case_task_failure_handled() -> dict:
    @task
    def broken() -> None:
        raise ValueError("handled")

    @flow
    def main() -> str:
        try:
            broken()
        except ValueError as exc:
            return f"recovered from {exc}"
        return "not reached"

    state = main(return_state=True)
    return {"state": describe_state(state), "result": state.result()}


def case_return_state_true() -> dict:
    @task
    def broken(x: int) -> int:
        raise ZeroDivisionError(f"cannot divide {x}")

    @task
    def fine(x: int) -> int:
        return x * 2

    @flow
    def main() -> dict:
        bad = broken(1, return_state=True)
        good = fine(2, return_state=True)
        return {
            "bad": describe_state(bad),
            "bad_is_failed": bad.is_failed(),
            "bad_result": bad.result(raise_on_failure=False),
            "good": describe_state(good),
            "good_result": good.result(),
        }

    state = main(return_state=True)
    return {"state": describe_state(state), "result": jsonable(state.result())}


def case_flow_raises_in_body() -> dict:
    @flow
    def main(x: int) -> int:
        raise RuntimeError(f"bad input {x}")

    state = main(7, return_state=True)
    return {"state": describe_state(state), "outcome": outcome(main, 7), "logs": run_logs()}


def case_flow_returns_a_state_built_by_hand() -> dict:
    @flow
    def completes() -> object:
        return Completed(message="all good", data=42)

    @flow
    def fails() -> object:
        return Failed(message="went wrong on purpose")

    done = completes(return_state=True)
    failed = fails(return_state=True)
    return {
        "completed": describe_state(done),
        "completed_result": done.result(),
        "failed": describe_state(failed),
        "failed_outcome": outcome(fails),
    }


def case_flow_returns_a_list_of_states_built_by_hand() -> dict:
    @flow
    def one_failed() -> list:
        return [Completed(data=1), Failed(message="second failed")]

    @flow
    def one_cancelled() -> list:
        return [Completed(data=1), Cancelled(message="stopped")]

    return {
        "one_failed": describe_state(one_failed(return_state=True)),
        "one_cancelled": describe_state(one_cancelled(return_state=True)),
    }


def case_flow_returning_failed_task_states() -> dict:
    @task
    def maybe(x: int) -> int:
        if x == 2:
            raise ValueError("two is bad")
        return x

    @flow
    def main() -> list:
        return [maybe(x, return_state=True) for x in (1, 2)]

    state = main(return_state=True)
    try:
        state.result()
        raised = None
    except Exception as exc:
        raised = describe_error(exc)
    return {"state": describe_state(state), "result_raises": raised}


def case_exception_types_preserved() -> dict:
    class DomainError(Exception):
        pass

    @task
    def broken() -> None:
        raise DomainError("domain specific")

    @flow
    def main() -> None:
        broken()

    try:
        main()
    except DomainError as exc:
        caught = {"caught_as": "DomainError", **describe_error(exc)}
    return caught
