"""The task graph's layout: nodes, the edges between listed task runs, the bound."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from baton.resources.flowrun import TaskRuns
from baton.ui.graph import FILLS, task_graph

pytestmark = pytest.mark.unit


def runs(*items: dict[str, Any], omitted: int = 0) -> TaskRuns:
    return TaskRuns.model_validate(
        {"total": len(items) + omitted, "omitted": omitted, "items": list(items)}
    )


def item(id_: str, state: str = "Completed", *upstream: str) -> dict[str, Any]:
    return {"id": id_, "name": f"task-{id_}", "state": state, "upstream": list(upstream)}


def test_no_task_runs_no_graph() -> None:
    assert task_graph(None) is None
    assert task_graph(runs()) is None


def test_edges_point_down_between_listed_runs_only() -> None:
    graph = task_graph(
        runs(
            item("a"),
            item("b", "Failed"),
            item("c", "Running", "a", "b", "gone", "c"),
            item("d", "Pending", "c"),
            omitted=4,
        )
    )
    assert graph is not None
    assert [(e.source, e.target) for e in graph.edges] == [("a", "c"), ("b", "c"), ("c", "d")]
    nodes = {n.id: n for n in graph.nodes}
    assert nodes["b"].fill == FILLS["Failed"]
    assert nodes["a"].y == nodes["b"].y < nodes["c"].y < nodes["d"].y
    for edge in graph.edges:
        assert edge.y2 > edge.y1
    assert graph.not_shown == 4


def test_unconnected_runs_sit_side_by_side_inside_the_picture() -> None:
    graph = task_graph(runs(item("a"), item("b"), item("c", "Completed", "a")))
    assert graph is not None
    boxes = sorted(graph.nodes, key=lambda n: n.x)
    for left, right in itertools.pairwise(boxes):
        if left.y == right.y:
            assert left.x + left.width <= right.x
    for n in graph.nodes:
        assert n.x >= 0 and n.x + n.width <= graph.width
        assert n.y >= 0 and n.y + n.height <= graph.height


def test_two_runs_sharing_an_id_are_one_node() -> None:
    graph = task_graph(runs(item("a"), item("a", "Failed")))
    assert graph is not None
    assert [n.id for n in graph.nodes] == ["a"]
