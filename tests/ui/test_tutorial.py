"""The tutorial, walked in a real browser against the real API server.

The operator and a process worker run the flow for real; the UI is ``baton ui`` started
as the user (the test control plane's static-token users ``admin`` and ``alice``).
Screenshots of each page go to the test's tmp directory (``screenshots/``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from ui_helpers import UiServer
from worker_helpers import WorkerProcess, baton

from clusterkit import Cluster, OperatorProcess
from kube_helpers import apply, flow_run

pytestmark = pytest.mark.ui

FLOWS = Path(__file__).parent / "flows"
#: Records each state the run page shows, and survives only if the page never reloads.
STATE_RECORDER = """
window.__seen = [];
document.addEventListener("DOMContentLoaded", () => {
  const note = () => {
    const el = document.querySelector(".summary .current .state");
    const text = el ? el.textContent.trim() : null;
    if (text && window.__seen[window.__seen.length - 1] !== text) window.__seen.push(text);
  };
  const all = {subtree: true, childList: true, characterData: true};
  new MutationObserver(note).observe(document.body, all);
  note();
});
"""

VIEWER_ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: baton-viewer}
rules:
- apiGroups: [baton.dev]
  resources: [flows, deployments, flowruns, workpools]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-views}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: baton-viewer}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}
"""


def flowruns(cluster: Cluster, namespace: str) -> list[str]:
    items = cluster.get_json("flowruns", "-n", namespace)["items"]
    return [item["metadata"]["name"] for item in items]


def shot(page: Page, tmp_path: Path, name: str) -> None:
    (tmp_path / "screenshots").mkdir(exist_ok=True)
    page.screenshot(path=str(tmp_path / "screenshots" / f"{name}.png"), full_page=True)


def deploy_weather(cluster: Cluster, namespace: str) -> None:
    baton(
        cluster,
        "deploy",
        "weather.py:weather",
        "--name",
        "weather",
        "--pool",
        "ui",
        "--pool-type",
        "process",
        "--param",
        "city=Lisbon",
        "--cron",
        "0 9 * * *",
        "-n",
        namespace,
        cwd=FLOWS,
    )


def test_custom_run_walkthrough(
    operator: OperatorProcess,
    namespace: str,
    ui_server: Callable[[str], UiServer],
    browser: Browser,
    tmp_path: Path,
) -> None:
    cluster = operator.cluster
    deploy_weather(cluster, namespace)
    worker = WorkerProcess(cluster, namespace, "ui", tmp_path, work_dir=FLOWS)
    ui = ui_server("admin")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{ui.url}/")
        expect(page.locator("h1")).to_have_text("Dashboard")
        expect(page.locator("header .where")).to_contain_text(namespace)
        shot(page, tmp_path, "dashboard-empty")

        page.click("nav >> text=Deployments")
        row = page.locator("#deployments tr", has_text="weather")
        expect(row).to_contain_text("0 9 * * *")
        shot(page, tmp_path, "deployments")
        row.locator("a", has_text="weather").click()
        expect(page.locator("h1")).to_have_text("Deployment weather")

        # An invalid value first: the operator's validator refuses it, no run is created.
        expect(page.locator("#param-city")).to_have_value("Lisbon")
        expect(page.locator("#param-days")).to_have_value("3")
        page.fill("#param-days", "many")
        page.click("#custom-run button")
        error = page.locator('p.error[data-field="days"]')
        expect(error).to_contain_text("'many' is not of type 'integer'")
        expect(page.locator("#param-days")).to_have_value("many")
        shot(page, tmp_path, "custom-run-invalid")
        assert flowruns(cluster, namespace) == []

        # Then a valid one: the run page follows it to Completed without a reload.
        page.fill("#param-days", "2")
        page.fill("#param-city", "Porto")
        page.select_option("#param-unit", "F")
        page.add_init_script(STATE_RECORDER)
        page.click("#custom-run button")
        page.wait_for_url(re.compile(r".*/runs/weather-custom-[a-z0-9]{5}$"))
        (run_name,) = flowruns(cluster, namespace)
        assert page.url.endswith(run_name)
        page.evaluate("window.__marker = 'same page'")
        expect(page.locator(".summary .current .state")).to_have_text("Completed", timeout=90_000)
        seen = page.evaluate("window.__seen")
        assert page.evaluate("window.__marker") == "same page", "the page reloaded"
        assert seen[-1] == "Completed", seen
        assert "Running" in seen, seen
        assert len(seen) >= 3, seen

        # Task runs, artifacts, parameters and the result, as the runtime reported them.
        tasks = page.locator("#task-runs")
        expect(tasks).to_contain_text("forecast")
        expect(tasks).to_contain_text("report")
        table = page.locator(".artifact-table")
        expect(table).to_contain_text("forecast-table")
        expect(table.locator("th", has_text="temperature")).to_be_visible()
        markdown = page.locator(".artifact-markdown")
        expect(markdown.locator("h1")).to_have_text("Forecast for Porto")
        expect(markdown.locator("strong")).to_contain_text("F")
        expect(page.locator("#result")).to_contain_text("Porto: 2 days")
        # The log kept with the run (it outlives the worker's file and the pod).
        expect(page.locator("#run-log pre.log")).to_contain_text(
            f"Flow run '{run_name}' - Finished in state Completed()"
        )
        expect(page.locator("text=Cancel")).to_have_count(0)
        shot(page, tmp_path, "run-completed")

        # The runs list filters on the API server (status.state is a selectable field).
        page.goto(f"{ui.url}/namespaces/{namespace}/runs?state=Completed")
        expect(page.locator("#runs")).to_contain_text(run_name)
        page.goto(f"{ui.url}/namespaces/{namespace}/runs?state=Failed")
        expect(page.locator("#runs")).not_to_contain_text(run_name)
        page.goto(f"{ui.url}/namespaces/{namespace}/runs?deployment=other")
        expect(page.locator("#runs")).not_to_contain_text(run_name)

        page.goto(f"{ui.url}/namespaces/{namespace}/")
        expect(page.locator("#counts")).to_contain_text("Completed")
        shot(page, tmp_path, "dashboard")
    finally:
        page.close()
        worker.stop()


def test_read_only_user_sees_no_actions_and_cannot_craft_one(
    operator: OperatorProcess,
    namespace: str,
    ui_server: Callable[[str], UiServer],
    browser: Browser,
    tmp_path: Path,
) -> None:
    cluster = operator.cluster
    deploy_weather(cluster, namespace)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=VIEWER_ROLE)
    ui = ui_server("alice")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{ui.url}/namespaces/{namespace}/deployments")
        expect(page.locator("#deployments")).to_contain_text("weather")
        expect(page.locator("button")).to_have_count(0)
        page.goto(f"{ui.url}/namespaces/{namespace}/deployments/weather")
        expect(page.locator("h1")).to_have_text("Deployment weather")
        expect(page.locator("#no-run")).to_be_visible()
        expect(page.locator("#custom-run")).to_have_count(0)
        shot(page, tmp_path, "read-only")

        # A crafted post, with this UI's own form token: the API server refuses it.
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        assert token
        response = page.request.post(
            f"{ui.url}/namespaces/{namespace}/deployments/weather/runs",
            form={"csrf": token, "mode": "custom", "param.days": "2"},
            max_redirects=0,
        )
        assert response.status == 403, response.text()
        body = html.unescape(response.text())
        assert 'User "alice" cannot create resource "flowruns"' in body, body
        assert "the Kubernetes API server" in body
        assert f"/namespaces/{namespace}/deployments" in body
        assert flowruns(cluster, namespace) == []

        # Without the token, the UI itself refuses (a page elsewhere cannot post as alice).
        forged = page.request.post(
            f"{ui.url}/namespaces/{namespace}/deployments/weather/runs",
            form={"mode": "quick"},
            max_redirects=0,
        )
        assert forged.status == 403
        assert "did not come from this Baton UI" in forged.text()

        # A post that names another host (DNS rebinding onto 127.0.0.1) is refused too.
        rebound = httpx.post(
            f"{ui.url}/namespaces/{namespace}/deployments/weather/runs",
            data={"csrf": token, "mode": "quick"},
            headers={"Host": f"attacker.invalid:{ui.port}"},
        )
        assert rebound.status_code == 400, rebound.text
        assert "unexpected Host header" in html.unescape(rebound.text)
        assert flowruns(cluster, namespace) == []
    finally:
        page.close()


def test_quick_run_cancel_and_failures_first(
    operator: OperatorProcess,
    namespace: str,
    ui_server: Callable[[str], UiServer],
    browser: Browser,
    tmp_path: Path,
) -> None:
    """Quick Run from the list, Cancel on the run page (live to Cancelled), a run the
    operator failed for its parameters and one whose flow raised (with its traceback),
    Failed shown first on the dashboard."""
    cluster = operator.cluster
    deploy_weather(cluster, namespace)
    cluster.kubectl(
        "patch", "deployment.baton.dev", "weather", "-n", namespace, "--type=merge",
        "-p", '{"spec": {"parameters": {"city": "Lisbon", "pause": 120}}}',
    )  # fmt: skip
    worker = WorkerProcess(cluster, namespace, "ui", tmp_path, work_dir=FLOWS)
    ui = ui_server("admin")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{ui.url}/namespaces/{namespace}/deployments")
        page.locator("#deployments tr", has_text="weather").locator("text=Quick Run").click()
        page.wait_for_url(re.compile(r".*/runs/weather-custom-[a-z0-9]{5}$"))
        (run_name,) = flowruns(cluster, namespace)
        expect(page.locator(".summary .current .state")).to_have_text("Running", timeout=60_000)
        page.locator("button", has_text="Cancel").click()
        expect(page.locator(".summary .current .state")).to_have_text("Cancelled", timeout=60_000)
        run = cluster.get_json("flowrun", run_name, "-n", namespace)
        assert run["spec"]["cancelRequested"] is True
        expect(page.locator("button", has_text="Cancel")).to_have_count(0)

        # A run with a bad parameter, made outside the UI: the operator fails it.
        apply(cluster, namespace, flow_run("bad-days", "weather", parameters={"days": "lots"}))
        page.goto(f"{ui.url}/namespaces/{namespace}/runs/bad-days")
        expect(page.locator(".summary .current .state")).to_have_text("Failed", timeout=60_000)
        expect(page.locator(".summary")).to_contain_text("'lots' is not of type 'integer'")
        # A run whose flow raises: the error and its traceback, as the runtime reported them.
        apply(
            cluster,
            namespace,
            flow_run("atlantis", "weather", parameters={"city": "Atlantis", "pause": 0}),
        )
        page.goto(f"{ui.url}/namespaces/{namespace}/runs/atlantis")
        expect(page.locator(".summary .current .state")).to_have_text("Failed", timeout=60_000)
        expect(page.locator("p.error")).to_contain_text("ValueError: no forecast for Atlantis")
        expect(page.locator(".traceback")).to_contain_text("raise ValueError")
        shot(page, tmp_path, "run-failed")

        page.goto(f"{ui.url}/namespaces/{namespace}/")
        cards = page.locator("#counts .card")
        expect(cards).to_have_count(2)
        expect(cards.nth(0)).to_contain_text("Failed2")
        expect(cards.nth(1)).to_contain_text("Cancelled1")
        expect(page.locator("h2", has_text="Failed")).to_be_visible()
        expect(page.locator("table", has_text="bad-days")).to_be_visible()
        shot(page, tmp_path, "dashboard-attention")
    finally:
        page.close()
        worker.stop()
