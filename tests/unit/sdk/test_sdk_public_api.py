"""The public surface: complete, sorted exports and Prefect's import paths; cheap import."""

from __future__ import annotations
import __future__

import importlib
import subprocess
import sys
import types

import pytest

import baton

pytestmark = pytest.mark.unit

EXPECTED_TOP_LEVEL = {
    "BatonFuture",
    "Flow",
    "PrefectFuture",
    "State",
    "Task",
    "ThreadPoolTaskRunner",
    "__version__",
    "allow_failure",
    "flow",
    "get_run_context",
    "get_run_logger",
    "quote",
    "tags",
    "task",
    "unmapped",
}

PREFECT_PATHS = {
    "baton.tasks": ["task_input_hash", "exponential_backoff", "Task", "task"],
    "baton.flows": ["Flow", "flow"],
    "baton.cache_policies": [
        "INPUTS",
        "TASK_SOURCE",
        "FLOW_PARAMETERS",
        "NO_CACHE",
        "DEFAULT",
        "RUN_ID",
        "CachePolicy",
    ],
    "baton.artifacts": [
        "Artifact",
        "create_markdown_artifact",
        "create_table_artifact",
        "create_link_artifact",
        "create_progress_artifact",
        "update_progress_artifact",
    ],
    "baton.states": [
        "State",
        "Completed",
        "Failed",
        "Crashed",
        "Cancelled",
        "Pending",
        "Running",
        "Scheduled",
        "StateType",
    ],
    "baton.futures": ["wait", "as_completed", "BatonFuture", "PrefectFuture"],
    "baton.runtime": ["flow_run", "task_run", "deployment"],
    "baton.task_runners": ["ThreadPoolTaskRunner"],
    "baton.context": ["get_run_context", "FlowRunContext", "TaskRunContext"],
    "baton.exceptions": [
        "FailedRun",
        "UnfinishedRun",
        "MissingContextError",
        "ParameterTypeError",
        "ParameterBindError",
    ],
    "baton.logging": ["get_run_logger", "disable_run_logger"],
    "baton.testing.utilities": ["prefect_test_harness", "baton_test_harness"],
    "baton.transactions": ["transaction", "get_transaction", "Transaction", "CommitMode"],
    "baton.events": ["emit_event", "Event", "Resource", "RelatedResource"],
    "baton.utilities.annotations": ["quote", "unmapped", "allow_failure"],
}


def test_all_is_sorted_complete_and_importable() -> None:
    assert baton.__all__ == sorted(baton.__all__)
    assert set(baton.__all__) == EXPECTED_TOP_LEVEL
    public = {
        name
        for name, value in vars(baton).items()
        if not name.startswith("_")
        and not isinstance(value, (types.ModuleType, __future__._Feature))
    }
    assert public <= set(baton.__all__), public - set(baton.__all__)
    for name in baton.__all__:
        assert hasattr(baton, name)


@pytest.mark.parametrize("module", sorted(PREFECT_PATHS))
def test_prefect_import_paths(module: str) -> None:
    imported = importlib.import_module(module)
    for name in PREFECT_PATHS[module]:
        assert hasattr(imported, name), f"{module}.{name}"
    exported = getattr(imported, "__all__", None)
    if exported is not None:  # ordering is ruff's RUF022 job
        assert all(hasattr(imported, name) for name in exported)


def test_import_baton_stays_light() -> None:
    code = (
        "import sys, baton, baton.artifacts, baton.runtime, baton.cache_policies\n"
        "@baton.task\ndef t(): return 1\n"
        "@baton.flow\ndef f(): return t() + t.submit().result()\n"
        "f()\n"
        # asyncio: only async flows and tasks load it (about 4 MiB and 15 ms).
        "heavy = ('kubernetes', 'kopf', 'httpx', 'croniter', 'yaml', 'pydantic', 'asyncio')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_kept() -> None:
    assert baton.__version__ == "0.1.0"
