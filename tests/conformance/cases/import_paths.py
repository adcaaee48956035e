"""Prefect's import paths that user code relies on, and ``quote`` from its real home."""

from __future__ import annotations

import importlib

from casekit import outcome
from prefect import flow, task

# Names Prefect 3 code commonly imports, by module (the docs' and the SDK's own examples).
IMPORTS = {
    "prefect": ["flow", "task", "get_run_logger", "tags", "unmapped", "allow_failure"],
    "prefect.flows": ["flow", "Flow"],
    "prefect.tasks": ["task", "Task", "task_input_hash", "exponential_backoff"],
    "prefect.cache_policies": ["INPUTS", "TASK_SOURCE", "NO_CACHE", "DEFAULT", "RUN_ID"],
    "prefect.futures": ["wait", "as_completed", "PrefectFuture", "PrefectFutureList"],
    "prefect.states": ["State", "StateType", "Completed", "Failed", "Cancelled", "Pending"],
    "prefect.artifacts": ["create_markdown_artifact", "create_table_artifact"],
    "prefect.runtime": ["flow_run", "task_run", "deployment"],
    "prefect.task_runners": ["ThreadPoolTaskRunner"],
    "prefect.context": ["get_run_context", "FlowRunContext", "TaskRunContext"],
    "prefect.logging": ["get_run_logger"],
    "prefect.exceptions": [
        "FailedRun",
        "CrashedRun",
        "CancelledRun",
        "MissingContextError",
        "ParameterTypeError",
        "ParameterBindError",
        "UpstreamTaskError",
    ],
    "prefect.utilities.annotations": ["quote", "unmapped", "allow_failure"],
}


def case_common_import_paths() -> dict:
    missing = []
    for module_name, names in IMPORTS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            missing.append(f"{module_name} (module)")
            continue
        missing += [f"{module_name}.{name}" for name in names if not hasattr(module, name)]
    # Without the package name (prefect or baton), so the two runs compare.
    return {"missing": [name.partition(".")[2] for name in missing]}


def case_quote_passes_value_whole() -> dict:
    @task
    def size(rows: list) -> int:
        return len(rows)

    @flow
    def main() -> int:
        quote = importlib.import_module("prefect.utilities.annotations").quote
        return size(quote([[1, 2], [3]]))

    return outcome(main)
