"""Artifacts of every kind: what the create functions return, what they accept."""

from __future__ import annotations

from uuid import UUID

from casekit import outcome, read_run_artifacts
from prefect import flow, task
from prefect.artifacts import (
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)


def case_artifacts_of_each_kind() -> dict:
    @task
    def report() -> list:
        return [
            create_table_artifact([{"a": 1, "b": 2}], key="rows", description="a table"),
            create_link_artifact("https://example.invalid/x", link_text="x", key="a-link"),
        ]

    @flow
    def main() -> dict:
        ids = [
            create_markdown_artifact("# Title\nbody", key="summary", description="md"),
            create_image_artifact("https://example.invalid/i.png", key="picture"),
            *report(),
        ]
        progress = create_progress_artifact(10.0, key="progress", description="going")
        updated = update_progress_artifact(progress, 55.5)
        table_of_columns = create_table_artifact({"a": [1, 2], "b": [3, 4]})
        table_of_rows = create_table_artifact([[1, 2], [3, 4]])
        return {
            "ids_are_uuids": [isinstance(i, UUID) for i in ids],
            "progress_is_uuid": isinstance(progress, UUID),
            "update_returns": type(updated).__name__,
            "tables": [isinstance(t, UUID) for t in (table_of_columns, table_of_rows)],
            "distinct": len({*ids, progress}) == len(ids) + 1,
            "stored": read_run_artifacts(),
        }

    return outcome(main)


def case_artifact_invalid_key() -> dict:
    @flow
    def main() -> None:
        create_markdown_artifact("x", key="Not Valid!")

    try:
        main()
    except Exception as exc:
        return {
            "is_value_error": isinstance(exc, ValueError),
            "mentions_rule": "lowercase letters, numbers, and dashes" in str(exc),
        }
    return {"raised": None}


def case_progress_out_of_range() -> dict:
    @flow
    def main() -> list:
        create_progress_artifact(150)
        return read_run_artifacts()

    return outcome(main)


def case_artifact_outside_a_run() -> dict:
    return {"markdown": outcome(lambda: isinstance(create_markdown_artifact("hi"), UUID))}
