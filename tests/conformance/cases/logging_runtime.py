"""Run loggers, log_prints, tags, with_options, run names and ``prefect.runtime``."""

from __future__ import annotations

import logging
import sys
from datetime import datetime

from casekit import describe_error, outcome, run_logs
from prefect import flow, get_run_logger, tags, task
from prefect.runtime import deployment, flow_run, task_run


def case_run_logger_lines() -> dict:
    @task
    def work(x: int) -> int:
        logger = get_run_logger()
        logger.info("working on %s", x)
        logger.warning("careful with %d", x)
        logger.debug("not shown at INFO")
        return x

    @flow
    def main() -> int:
        get_run_logger().info("flow says hello")
        return work(3)

    result = outcome(main)
    return {"outcome": result, "logs": run_logs()}


def case_run_logger_outside_a_run() -> dict:
    try:
        get_run_logger()
    except Exception as exc:
        return describe_error(exc)
    return {"raised": None}


def case_log_prints_inherited_by_tasks() -> dict:
    @task
    def inherits() -> None:
        print("from a task", 1, sep="|")

    @task(log_prints=False)
    def opts_out() -> None:
        print("not captured")

    @flow(log_prints=True)
    def main() -> None:
        print("from the flow")
        inherits()
        opts_out()

    result = outcome(main)
    return {"outcome": result, "logs": run_logs()}


def case_log_prints_print_arguments() -> dict:
    @flow(log_prints=True)
    def main() -> None:
        print("to stderr", file=sys.stderr)
        print("a", "b", sep="-", end="!\n")
        print("multi\nline")

    result = outcome(main)
    return {"outcome": result, "logs": run_logs()}


def case_tags_context_and_task_tags() -> dict:
    @task(tags=["own"])
    def tagged() -> list:
        return task_run.tags

    @flow
    def main() -> dict:
        with tags("outer"):
            inside = tagged()
        return {"task_tags": sorted(inside), "flow_tags": sorted(flow_run.tags)}

    with tags("at-call"):
        result = outcome(main)
    return result


def case_with_options() -> dict:
    @task(name="original", retries=0)
    def work() -> dict:
        return {"task_name": task_run.task_name, "run_count": task_run.run_count}

    @flow(name="first-name")
    def main() -> dict:
        renamed = work.with_options(name="renamed")
        return {"task": renamed(), "flow_name": flow_run.flow_name, "default": work()}

    other = main.with_options(name="second-name")
    return {
        "first": outcome(main),
        "second": outcome(other),
        "task_option_kept": work_options(work),
    }


def work_options(original) -> dict:
    copy = original.with_options(retries=3, retry_delay_seconds=0)
    return {"name": copy.name, "retries": copy.retries}


def case_run_names_and_runtime() -> dict:
    @task(task_run_name="sum-{x}-{y}")
    def add(x: int, y: int) -> dict:
        return {"name": task_run.name, "parameters": task_run.parameters}

    @flow(flow_run_name="nightly-{day}", version="1.2")
    def main(day: str) -> dict:
        return {
            "flow_run_name": flow_run.name,
            "flow_name": flow_run.flow_name,
            "parameters": flow_run.parameters,
            "run_count": flow_run.run_count,
            "parent": flow_run.parent_flow_run_id,
            "has_id": flow_run.id is not None,
            "scheduled_start_time_is_datetime": isinstance(flow_run.scheduled_start_time, datetime),
            "task": add(1, 2),
        }

    outside = {"flow_run_name": flow_run.name, "task_run_name": task_run.name}
    return {"inside": outcome(main, "monday"), "outside": outside, "logs": run_logs()}


def case_flow_name_from_function() -> dict:
    @flow
    def my_etl_flow() -> str:
        return flow_run.flow_name

    return {"name": my_etl_flow.name, "outcome": outcome(my_etl_flow)}


def case_logging_levels_of_engine_lines() -> dict:
    @task
    def ok() -> int:
        return 1

    @task
    def bad() -> int:
        raise ValueError("bad")

    @flow
    def main() -> None:
        ok()
        bad(return_state=True)

    outcome(main)
    return {"warnings_and_up": run_logs(level=logging.WARNING)}


def case_runtime_deployment_parameters_in_a_run() -> dict:
    @flow
    def f(x: int, y: int = 2) -> dict:
        return {"deployment": deployment.parameters, "flow_run": flow_run.parameters}

    return {"outcome": outcome(f, 1)}
