"""Artifacts: recorded on the run context and reported through the observer; keyed ones
kept for ``Artifact.get``; the test harness and ``disable_run_logger`` users test with."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sdk_testkit import ListHandler, RecordingObserver

from baton import flow, get_run_logger, task
from baton._engine.artifact_store import FileArtifactStore, set_artifact_store
from baton._engine.context import FlowRunContext
from baton._engine.flow_engine import run_flow
from baton._engine.observer import use_observer
from baton.artifacts import (
    Artifact,
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from baton.exceptions import MissingContextError
from baton.logging import disable_run_logger
from baton.testing.utilities import baton_test_harness, prefect_test_harness

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


def test_keyed_artifacts_outlive_their_run_in_the_local_store(tmp_path: Path) -> None:
    @flow
    def publish(n: int) -> None:
        create_markdown_artifact(f"v{n}", key="kept")
        create_markdown_artifact("not kept")  # unkeyed: stays with its run

    publish(1)
    publish(2)
    stored = FileArtifactStore(tmp_path / "artifacts").latest("kept")  # conftest's directory
    assert stored is not None and stored["data"] == "v2"
    found = Artifact.get("kept")
    assert found is not None and found.data == "v2" and found.flow_run_id is not None
    assert len(list((tmp_path / "artifacts").iterdir())) == 1


def test_a_store_that_refuses_costs_artifact_get_not_the_run(logs: ListHandler) -> None:
    class Refusing:
        def latest(self, key: str) -> dict[str, Any] | None:
            return None

        def put(self, artifact: dict[str, Any]) -> None:
            raise PermissionError("configmaps is forbidden")

    previous = set_artifact_store(Refusing())
    try:

        @flow
        def main() -> str | None:
            create_markdown_artifact("x", key="refused")
            seen = Artifact.get("refused")  # this run's own version
            return seen.data if seen else None

        assert main() == "x"
    finally:
        set_artifact_store(previous)
    assert any("could not keep artifact 'refused'" in m for m in logs.messages)
    assert Artifact.get("refused") is None


def test_test_harness_isolates_cache_and_artifacts(tmp_path: Path) -> None:
    computed: list[int] = []

    @task(cache_key_fn=lambda context, parameters: "fixed")
    def cached() -> int:
        computed.append(1)
        return len(computed)

    @flow
    def main() -> int:
        create_markdown_artifact("inside", key="harnessed")
        return cached()

    assert main() == 1
    with prefect_test_harness():
        assert main() == 2  # a cache of its own: computed again
        assert main() == 2
        inside = Artifact.get("harnessed")
        harness_dir = Path(os.environ["BATON_ARTIFACT_DIR"]).parent
    assert baton_test_harness is prefect_test_harness
    assert inside is not None and not harness_dir.exists()
    assert main() == 1  # the outer cache is untouched
    assert os.environ["BATON_ARTIFACT_DIR"] == str(tmp_path / "artifacts")


def test_disable_run_logger_lets_a_task_function_run_alone() -> None:
    @task
    def talk() -> str:
        get_run_logger().info("hello")
        return "done"

    with pytest.raises(MissingContextError):
        talk.fn()
    with disable_run_logger():
        assert talk.fn() == "done"
    assert not logging.getLogger("baton.task_runs").disabled
