"""The run page's task graph, from the upstream task runs the runtime recorded.

A process worker runs ``tests/ui/flows/fan_in.py`` for real: three ``fetch`` futures go
into ``merge``, its future into ``publish``, and ``audit`` waits for ``publish``
(``wait_for``). The page's inline SVG must have exactly those edges; a run with more task
runs than the status lists says how many the graph does not show.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from test_tutorial import FLOWS, shot
from ui_helpers import UiServer
from worker_helpers import WorkerProcess, baton

from clusterkit import OperatorProcess
from kube_helpers import apply, flow_run, run_status, wait_for

pytestmark = pytest.mark.ui

STATE = ".summary .current .state"


def test_task_graph_edges_and_bound(
    operator: OperatorProcess,
    namespace: str,
    ui_server: Callable[[str], UiServer],
    browser: Browser,
    tmp_path: Path,
) -> None:
    cluster = operator.cluster
    baton(
        cluster, "deploy", "fan_in.py:fan_in", "--name", "fan-in", "--pool", "ui",
        "--pool-type", "process", "-n", namespace, cwd=FLOWS,
    )  # fmt: skip
    worker = WorkerProcess(cluster, namespace, "ui", tmp_path, work_dir=FLOWS)
    ui = ui_server("admin")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        apply(cluster, namespace, flow_run("small", "fan-in", parameters={"parts": 3}))
        wait_for(
            lambda: (
                run_status(cluster, namespace, "small").get("state") == "Completed"
                and len(
                    (run_status(cluster, namespace, "small").get("taskRuns") or {}).get("items")
                    or []
                )
                == 6
            ),
            timeout=120,
            what="run small Completed with its 6 task runs listed",
        )
        page.goto(f"{ui.url}/namespaces/{namespace}/runs/small")
        expect(page.locator(STATE)).to_have_text("Completed")
        graph = page.locator("#task-graph svg")
        expect(graph.locator("g.node")).to_have_count(6)
        items = run_status(cluster, namespace, "small")["taskRuns"]["items"]
        name_of = {item["id"]: item["name"] for item in items}
        edges = {
            (
                name_of[line.get_attribute("data-from") or ""],
                name_of[line.get_attribute("data-to") or ""],
            )
            for line in graph.locator("line.edge").all()
        }
        assert edges == {
            ("fetch-0", "merge"),
            ("fetch-1", "merge"),
            ("fetch-2", "merge"),
            ("merge", "publish"),
            ("publish", "audit"),
        }, edges
        for node in graph.locator("g.node").all():
            state = node.get_attribute("data-state")
            assert state == "Completed", state
            expect(node.locator("rect")).to_have_attribute("fill", "#c9efd4")
        # Layered top to bottom: every edge points down.
        for line in graph.locator("line.edge").all():
            assert float(line.get_attribute("y2") or 0) > float(line.get_attribute("y1") or 0)
        expect(page.locator("#graph-not-shown")).to_have_count(0)
        shot(page, tmp_path, "task-graph")

        # More task runs than the status lists: the graph says how many it leaves out.
        apply(cluster, namespace, flow_run("large", "fan-in", parameters={"parts": 60}))
        wait_for(
            lambda: (
                run_status(cluster, namespace, "large").get("state") == "Completed"
                and (run_status(cluster, namespace, "large").get("taskRuns") or {}).get("total")
                == 63
            ),
            timeout=180,
            what="run large Completed with its 63 task runs counted",
        )
        page.goto(f"{ui.url}/namespaces/{namespace}/runs/large")
        task_runs = run_status(cluster, namespace, "large")["taskRuns"]
        listed, omitted = len(task_runs["items"]), task_runs["omitted"]
        assert omitted == 63 - listed > 0, task_runs
        expect(page.locator("#task-graph svg g.node")).to_have_count(listed)
        expect(page.locator("#graph-not-shown")).to_contain_text(f"{omitted} more not shown")
    finally:
        page.close()
        worker.stop()
