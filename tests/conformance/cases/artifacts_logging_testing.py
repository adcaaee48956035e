"""``Artifact.get`` (the latest version of a keyed artifact), ``Artifact(...).create()``,
``get_or_create``, and ``disable_run_logger`` for testing a task's function alone.

``prefect_test_harness`` is not a case: under Prefect it starts a second API server,
which on this machine does not come up within its 30 s (tests/unit/sdk covers Baton's).
"""

from __future__ import annotations

import asyncio

from casekit import jsonable, outcome, run_logs
from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    Artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
)
from prefect.logging import disable_run_logger


def describe(artifact: object) -> dict | None:
    if artifact is None:
        return None
    return {
        "key": artifact.key,
        "type": artifact.type,
        "description": artifact.description,
        "data": jsonable(artifact.data),
        "from_flow": artifact.flow_run_id is not None,
        "from_task": artifact.task_run_id is not None,
    }


def case_artifact_get_latest_version() -> dict:
    keys = ["ag-report", "ag-table", "ag-progress", "ag-link", "ag-missing"]

    @task
    def publish(n: int) -> None:
        create_markdown_artifact(f"# version {n}", key="ag-report", description=f"v{n}")

    @flow
    def producer() -> None:
        publish(1)
        publish(2)
        create_table_artifact([{"a": 1}, {"a": 2}], key="ag-table")
        create_progress_artifact(42.0, key="ag-progress")
        create_link_artifact("https://example.com/x", "x", key="ag-link")

    @flow
    def consumer() -> dict:
        return {key: describe(Artifact.get(key)) for key in keys}

    producer()
    return {"inside": consumer(), "outside": describe(Artifact.get("ag-report"))}


def case_artifact_class_create_and_get_or_create() -> dict:
    @flow
    def main() -> dict:
        Artifact(type="markdown", key="ag-made", description="by hand", data="**bold**").create()
        first, created = Artifact.get_or_create(key="ag-new", description="new", data={"n": 1})
        again, created_again = Artifact.get_or_create(key="ag-new", data={"n": 2})
        return {
            "made": describe(Artifact.get("ag-made")),
            "first": [describe(first), created],
            "again": [describe(again), created_again],
        }

    return {"outcome": outcome(main)}


def case_artifact_get_is_awaited_in_async_code() -> dict:
    @flow
    async def main() -> dict:
        await create_markdown_artifact("async text", key="ag-async")
        return describe(await Artifact.get("ag-async"))

    return {"outcome": outcome(asyncio.run, main())}


def case_disable_run_logger() -> dict:
    @task
    def talk(x: int) -> int:
        get_run_logger().info("talking %s", x)
        return x + 1

    def outside_with() -> int:
        with disable_run_logger():
            return talk.fn(2)

    @flow
    def main() -> int:
        with disable_run_logger():
            return talk(3)

    return {
        "without": outcome(talk.fn, 1),
        "with": outcome(outside_with),
        "in_flow": outcome(main),
        "logs": run_logs(),
    }
