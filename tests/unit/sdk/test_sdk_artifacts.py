"""Artifacts: recorded on the run context and reported through the observer."""

from __future__ import annotations

import logging
import math
from typing import Any
from uuid import UUID

import pytest
from sdk_testkit import RecordingObserver

from baton import flow, task
from baton._engine.context import FlowRunContext
from baton._engine.flow_engine import run_flow
from baton._engine.observer import use_observer
from baton.artifacts import (
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

pytestmark = pytest.mark.unit


def test_artifacts_are_kept_on_the_run_and_sent_to_the_observer(
    observer: RecordingObserver,
) -> None:
    kept: list[dict[str, Any]] = []

    @task
    def publish() -> UUID:
        return create_table_artifact([{"a": 1, "b": math.nan}], key="scores")

    @flow
    def f() -> UUID:
        create_markdown_artifact("# Report", key="report", description="the *summary*")
        create_link_artifact("https://example.com/data.csv", link_text="data")
        table_id = publish()
        ctx = FlowRunContext.get()
        assert ctx is not None
        kept.extend(ctx.artifacts)
        return table_id

    state = run_flow(f, {}, observer=observer)
    table_id = state.result()
    # A link is stored as markdown, as Prefect stores it, and keeps its URL under "link".
    assert [a["type"] for a in kept] == ["markdown", "markdown", "table"]
    assert kept == observer.created
    report, link, table = kept
    assert report["data"] == "# Report" and report["description"] == "the *summary*"
    assert link["data"] == "[data](https://example.com/data.csv)"
    assert link["link"] == "https://example.com/data.csv" and "link" not in report
    assert table["data"] == [{"a": 1, "b": None}] and table["id"] == str(table_id)
    flow_run_id = str(observer.flow_states[0].state_details.flow_run_id)
    assert {a["flow_run_id"] for a in kept} == {flow_run_id}
    assert report["task_run_id"] is None and table["task_run_id"] is not None


def test_progress_artifact_updates(observer: RecordingObserver) -> None:
    @flow
    def f() -> list[dict[str, Any]]:
        progress_id = create_progress_artifact(0.0, description="loading")
        for i in range(1, 4):
            update_progress_artifact(progress_id, progress=i * 25)
        ctx = FlowRunContext.get()
        assert ctx is not None
        return ctx.artifacts

    artifacts = run_flow(f, {}, observer=observer).result()
    assert len(artifacts) == 1 and artifacts[0]["data"] == 75.0
    assert [u["data"] for u in observer.updated] == [25.0, 50.0, 75.0]
    assert observer.updated[-1]["description"] == "loading"


def test_validation() -> None:
    with pytest.raises(ValueError, match="lowercase"):
        create_markdown_artifact("x", key="Bad_Key")
    with pytest.raises(TypeError, match="table"):
        create_table_artifact("not a table")  # type: ignore[arg-type]


def test_progress_out_of_range_is_clamped_with_a_warning(
    observer: RecordingObserver, caplog: pytest.LogCaptureFixture
) -> None:
    with use_observer(observer), caplog.at_level(logging.WARNING, logger="baton.artifacts"):
        progress_id = create_progress_artifact(150)
        update_progress_artifact(progress_id, -5)
    assert observer.created[0]["data"] == 100.0
    assert observer.updated[0]["data"] == 0.0
    assert [r.getMessage() for r in caplog.records] == [
        "ProgressArtifact received an invalid value, Progress: 150.0%",
        "Interpreting as 100.0% progress",
        "ProgressArtifact received an invalid value, Progress: -5.0%",
        "Interpreting as 0.0% progress",
    ]


def test_outside_a_run_only_the_observer_sees_it(observer: RecordingObserver) -> None:
    with use_observer(observer):
        artifact_id = create_image_artifact("https://example.com/a.png", key="pic")
    assert observer.created[0]["id"] == str(artifact_id)
    assert observer.created[0]["flow_run_id"] is None
