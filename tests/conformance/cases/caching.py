"""Caching: key functions, policies and their combinations, expiration, refresh."""

from __future__ import annotations

import time
from datetime import timedelta

from casekit import count, counts, describe_state, run_logs
from prefect import flow, task
from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE
from prefect.tasks import task_input_hash


def _states(states: list) -> list:
    return [describe_state(s) for s in states]


def case_cache_key_fn_task_input_hash() -> dict:
    @task(cache_key_fn=task_input_hash)
    def double(x: int) -> int:
        count(f"double({x})")
        return 2 * x

    @flow
    def main() -> list:
        states = [double(x, return_state=True) for x in (1, 1, 2, 1)]
        return [{**describe_state(s), "result": s.result()} for s in states]

    return {"states": main(), "counts": counts(), "logs": run_logs()}


def case_cache_policy_inputs_across_flow_runs() -> dict:
    @task(cache_policy=INPUTS)
    def load(name: str) -> str:
        count(name)
        return name.upper()

    @flow
    def main(name: str) -> dict:
        state = load(name, return_state=True)
        return {"state": describe_state(state), "result": state.result()}

    runs = [main("a"), main("a"), main("b")]
    return {"runs": runs, "counts": counts()}


def case_cache_policy_inputs_minus_an_argument() -> dict:
    @task(cache_policy=INPUTS - "verbose")
    def load(name: str, verbose: bool) -> str:
        count(name)
        return name

    @flow
    def main() -> list:
        return [
            describe_state(load("a", verbose=v, return_state=True)) for v in (True, False, True)
        ]

    return {"states": main(), "counts": counts()}


def case_cache_policy_inputs_plus_task_source() -> dict:
    @task(cache_policy=INPUTS + TASK_SOURCE)
    def one(x: int) -> int:
        count("one")
        return x

    @task(cache_policy=INPUTS + TASK_SOURCE)
    def other(x: int) -> int:
        count("other")
        return x

    @flow
    def main() -> list:
        states = [one(1, return_state=True), one(1, return_state=True)]
        # Same inputs, different source: not a hit.
        states.append(other(1, return_state=True))
        return _states(states)

    return {"states": main(), "counts": counts()}


def case_cache_policy_task_source_only() -> dict:
    @task(cache_policy=TASK_SOURCE)
    def constant(x: int) -> int:
        count("constant")
        return x

    @flow
    def main() -> list:
        return [constant(1), constant(2)]

    return {"results": main(), "counts": counts()}


def case_no_cache_policy() -> dict:
    @task(cache_policy=NO_CACHE)
    def tick(x: int) -> int:
        return count("tick")

    @flow
    def main() -> list:
        states = [tick(1, return_state=True), tick(1, return_state=True)]
        return [{**describe_state(s), "result": s.result()} for s in states]

    return {"states": main(), "counts": counts()}


def case_no_caching_by_default() -> dict:
    @task
    def tick(x: int) -> int:
        return count("tick")

    @flow
    def main() -> list:
        return [describe_state(tick(1, return_state=True)) for _ in range(2)]

    first, second = main(), main()
    return {"first_run": first, "second_run": second, "counts": counts()}


def case_cache_expiration() -> dict:
    @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(seconds=1))
    def fetch(x: int) -> int:
        return count("fetch")

    @flow
    def main() -> list:
        states = [fetch(1, return_state=True), fetch(1, return_state=True)]
        time.sleep(1.5)
        states.append(fetch(1, return_state=True))
        return [{**describe_state(s), "result": s.result()} for s in states]

    return {"states": main(), "counts": counts()}


def case_refresh_cache() -> dict:
    @task(cache_policy=INPUTS)
    def fetch(x: int) -> int:
        return count("fetch")

    @flow
    def main() -> list:
        states = [
            fetch(1, return_state=True),
            fetch.with_options(refresh_cache=True)(1, return_state=True),
            fetch(1, return_state=True),
        ]
        return [{**describe_state(s), "result": s.result()} for s in states]

    return {"states": main(), "counts": counts()}


def case_cache_hit_skips_retries_and_hooks() -> dict:
    def on_done(task, task_run, state) -> None:
        count(f"hook:{state.name}")

    @task(cache_policy=INPUTS, retries=2, on_completion=[on_done])
    def work(x: int) -> int:
        return count("work")

    @flow
    def main() -> list:
        return [describe_state(work(5, return_state=True)) for _ in range(3)]

    return {"states": main(), "counts": counts()}


def case_persist_result_with_default_policy() -> dict:
    @task(persist_result=True)
    def tick(x: int) -> int:
        return count("tick")

    @flow
    def main() -> list:
        return [describe_state(tick(1, return_state=True)) for _ in range(2)]

    # The default policy includes the flow run id: a hit within a run, not across runs.
    first, second = main(), main()
    return {"first_run": first, "second_run": second, "counts": counts()}
