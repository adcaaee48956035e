"""Task and flow retries: how many attempts, how long between them, which errors retry."""

from __future__ import annotations

from casekit import count, counts, describe_state, elapsed_between, mark, outcome, run_logs, within
from prefect import flow, task
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff


def case_retries_until_success() -> dict:
    @task(retries=3, retry_delay_seconds=0)
    def flaky() -> str:
        if count("flaky") < 3:
            raise ValueError(f"attempt {counts()['flaky']} failed")
        return "ok"

    @flow
    def main() -> str:
        return flaky()

    state = main(return_state=True)
    return {
        "state": describe_state(state),
        "result": state.result(),
        "counts": counts(),
        "logs": run_logs(),
    }


def case_retries_exhausted() -> dict:
    @task(retries=2, retry_delay_seconds=0)
    def broken() -> None:
        count("broken")
        raise ValueError("always broken")

    @flow
    def main() -> None:
        broken()

    return {"outcome": outcome(main), "counts": counts(), "logs": run_logs()}


def case_retry_delays_from_a_list() -> dict:
    @task(retries=3, retry_delay_seconds=[0.1, 0.3, 0.6])
    def flaky() -> int:
        mark("attempt")
        if count("flaky") < 4:
            raise RuntimeError("not yet")
        return 4

    @flow
    def main() -> int:
        return flaky()

    result = outcome(main)
    gaps = elapsed_between("attempt")
    return {
        "outcome": result,
        "counts": counts(),
        "gaps_as_configured": within(gaps, [0.1, 0.3, 0.6], [0.9, 1.1, 1.4]),
        "logs": run_logs(),
    }


def case_retry_delays_exponential_backoff() -> dict:
    @task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=0.1))
    def flaky() -> int:
        mark("attempt")
        if count("flaky") < 4:
            raise RuntimeError("not yet")
        return 4

    @flow
    def main() -> int:
        return flaky()

    result = outcome(main)
    gaps = elapsed_between("attempt")
    return {
        "outcome": result,
        "counts": counts(),
        # 0.1, 0.2, 0.4 seconds
        "gaps_as_configured": within(gaps, [0.1, 0.2, 0.4], [0.9, 1.0, 1.2]),
        "logs": run_logs(),
    }


def case_retry_jitter_stays_within_bound() -> dict:
    @task(retries=4, retry_delay_seconds=0.2, retry_jitter_factor=0.5)
    def flaky() -> int:
        mark("attempt")
        if count("flaky") < 5:
            raise RuntimeError("not yet")
        return 5

    @flow
    def main() -> int:
        return flaky()

    result = outcome(main)
    gaps = elapsed_between("attempt")
    # Never more than delay * (1 + jitter) = 0.3 s, plus engine overhead.
    return {"outcome": result, "counts": counts(), "bounded": within(gaps, [0.0] * 4, [1.0] * 4)}


def case_retry_condition_fn() -> dict:
    def only_value_errors(task, task_run, state) -> bool:
        try:
            state.result()
        except ValueError:
            return True
        except Exception:
            return False
        return False

    @task(retries=3, retry_delay_seconds=0, retry_condition_fn=only_value_errors)
    def fails_with(kind: str) -> None:
        n = count(kind)
        if kind == "value" and n < 3:
            raise ValueError("retry me")
        if kind == "type":
            raise TypeError("do not retry me")

    @flow
    def main(kind: str) -> None:
        fails_with(kind)

    return {
        "value": outcome(main, "value"),
        "type": outcome(main, "type"),
        "counts": counts(),
    }


def case_flow_retries() -> dict:
    @task
    def step() -> int:
        return count("step")

    @flow(retries=2, retry_delay_seconds=0)
    def main() -> dict:
        attempt = count("main")
        seen = {"run_count": flow_run.run_count, "step": step()}
        if attempt < 2:
            raise ValueError(f"flow attempt {attempt} failed")
        return seen

    state = main(return_state=True)
    return {
        "state": describe_state(state),
        "result": state.result(),
        "counts": counts(),
        "logs": run_logs(),
    }
