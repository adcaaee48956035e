"""Retry, a Custom Run's name and start, work pools and workers, Flows, run filters.

In a real browser on ``baton ui`` against the real API server, with the operator and a
process worker running ``tests/ui/flows/weather.py``. Screenshots go to the test's tmp
directory (``screenshots/``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_tutorial import FLOWS, VIEWER_ROLE, deploy_weather, flowruns, shot
from ui_helpers import UiServer
from worker_helpers import WorkerProcess, adhoc_run, process_pool
from worker_helpers import apply as apply_baton

from clusterkit import Cluster, OperatorProcess
from kube_helpers import apply, flow_run, wait_for, wait_state

pytestmark = pytest.mark.ui

STATE = ".summary .current .state"


def _flow_of(cluster: Cluster, namespace: str) -> str:
    found = cluster.get_json("deployment.baton.dev", "weather", "-n", namespace)
    name: str = found["spec"]["flowRef"]["name"]
    return name


def _run(cluster: Cluster, namespace: str, name: str) -> dict[str, object]:
    found: dict[str, object] = cluster.get_json("flowrun", name, "-n", namespace)
    return found


def _retry(page: Page, old: str) -> str:
    """Click Retry on ``old``'s page; the name of the run it opened."""
    page.locator("#retry").click()
    page.wait_for_url(re.compile(r".*/runs/(?!" + re.escape(old) + r"$)[a-z0-9.-]+$"))
    return page.url.rsplit("/", 1)[1]


def test_custom_run_options_retry_pools_flows_and_filters(
    operator: OperatorProcess,
    namespace: str,
    ui_server: Callable[[str], UiServer],
    browser: Browser,
    tmp_path: Path,
) -> None:
    cluster = operator.cluster
    deploy_weather(cluster, namespace)
    flow_name = _flow_of(cluster, namespace)
    worker = WorkerProcess(cluster, namespace, "ui", tmp_path, work_dir=FLOWS)
    ui = ui_server("admin")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        deployment_page = f"{ui.url}/namespaces/{namespace}/deployments/weather"
        # A name Kubernetes would refuse: beside its field, the form kept, no FlowRun.
        page.goto(deployment_page)
        page.fill("#run-name", "Bad_Name")
        page.click("#custom-run button")
        expect(page.locator('p.error[data-field="run.name"]')).to_contain_text(
            "'Bad_Name' is not a valid name"
        )
        expect(page.locator("#run-name")).to_have_value("Bad_Name")
        assert flowruns(cluster, namespace) == []

        # A named run that starts later: Scheduled by the operator for that time.
        later = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
        page.fill("#run-name", "weather-later")
        page.fill("#run-start", later.strftime("%Y-%m-%dT%H:%M:%S"))
        shot(page, tmp_path, "custom-run-options")
        page.click("#custom-run button")
        page.wait_for_url(re.compile(r".*/runs/weather-later$"))
        expect(page.locator(STATE)).to_have_text("Scheduled", timeout=60_000)
        spec = _run(cluster, namespace, "weather-later")["spec"]
        assert isinstance(spec, dict)
        assert spec["scheduledTime"] == later.strftime("%Y-%m-%dT%H:%M:%SZ"), spec
        expect(page.locator(".summary")).to_contain_text(later.strftime("%Y-%m-%d %H:%M:%S"))
        expect(page.locator("#retry")).to_have_count(0)  # not terminal: nothing to retry

        # A start in the past is now: no scheduled time, the worker runs it at once.
        page.goto(deployment_page)
        page.fill("#run-name", "weather-now")
        page.fill("#run-start", "2020-01-01T08:30:15")
        page.fill("#param-days", "1")
        page.fill("#param-pause", "0")
        page.click("#custom-run button")
        page.wait_for_url(re.compile(r".*/runs/weather-now$"))
        expect(page.locator(STATE)).to_have_text("Completed", timeout=90_000)
        first = _run(cluster, namespace, "weather-now")
        assert isinstance(first["spec"], dict)
        assert "scheduledTime" not in first["spec"], first["spec"]

        # Retry: a new run of the same Deployment with the same parameters, run for real.
        retried = _retry(page, "weather-now")
        assert retried.startswith("weather-custom-"), retried
        expect(page.locator("h1")).to_have_text(f"Flow run {retried}")
        again = _run(cluster, namespace, retried)
        assert again["spec"] == {
            "deploymentRef": {"name": "weather"},
            "parameters": first["spec"]["parameters"],
            "cancelRequested": False,
        }, again["spec"]
        parameters = first["spec"]["parameters"]
        assert (parameters["days"], parameters["pause"]) == (1, 0), parameters
        expect(page.locator(STATE)).to_have_text("Completed", timeout=90_000)
        expect(page.locator("#result")).to_contain_text("Lisbon: 1 days")
        shot(page, tmp_path, "run-retried")

        # An ad-hoc run (a Flow in a pool, no Deployment) the operator fails for its
        # parameters: its retry is an ad-hoc run of the same Flow, pool and parameters.
        apply_baton(cluster, namespace, adhoc_run("adhoc-bad", flow_name, "ui", days="lots"))
        page.goto(f"{ui.url}/namespaces/{namespace}/runs/adhoc-bad")
        expect(page.locator(STATE)).to_have_text("Failed", timeout=60_000)
        adhoc_retry = _retry(page, "adhoc-bad")
        assert adhoc_retry.startswith(f"{flow_name}-custom-"), adhoc_retry
        assert _run(cluster, namespace, adhoc_retry)["spec"] == {
            "flowRef": {"name": flow_name},
            "workPoolRef": {"name": "ui"},
            "parameters": {"days": "lots"},
            "cancelRequested": False,
        }
        expect(page.locator(STATE)).to_have_text("Failed", timeout=60_000)
        expect(page.locator(".summary")).to_contain_text("'lots' is not of type 'integer'")

        # The runs list by Flow and by pool: label selectors on the API server.
        runs_page = f"{ui.url}/namespaces/{namespace}/runs"
        page.goto(f"{runs_page}?flow={flow_name}")
        listed = page.locator("#runs")
        for name in ("weather-later", "weather-now", retried, adhoc_retry):
            expect(listed).to_contain_text(name)
        expect(page.locator('input[name="flow"]')).to_have_value(flow_name)
        page.goto(f"{runs_page}?flow=other")
        expect(listed).to_contain_text("No runs match.")
        page.goto(f"{runs_page}?pool=ui&state=Completed")
        expect(listed).to_contain_text("weather-now")
        expect(listed).to_contain_text(retried)
        expect(listed).not_to_contain_text("weather-later")
        page.goto(f"{runs_page}?pool=elsewhere&deployment=weather")
        expect(listed).to_contain_text("No runs match.")
        page.goto(f"{runs_page}?deployment=weather&flow={flow_name}")
        expect(listed).to_contain_text("weather-now")
        expect(listed).not_to_contain_text(adhoc_retry)

        # Work pools: the live worker of `ui`; a pool whose only worker went silent.
        apply_baton(cluster, namespace, process_pool("spare", concurrencyLimit=2))
        silent = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        entry = {"name": "gone-host/4242", "lastHeartbeat": silent, "running": 0}
        cluster.kubectl(
            "patch", "workpool", "spare", "-n", namespace, "--subresource=status",
            "--type=merge", "-p", json.dumps({"status": {"workers": [entry]}}),
        )  # fmt: skip
        wait_for(
            lambda: any(
                c["type"] == "Ready" and c["status"] == "False"
                for c in cluster.get_json("workpool", "spare", "-n", namespace)
                .get("status", {})
                .get("conditions", [])
            ),
            timeout=60,
            what="the operator's Ready=False on pool spare",
        )
        page.click("nav >> text=Work pools")
        rows = page.locator("#pools tr")
        ui_row = rows.filter(has=page.locator("a", has_text=re.compile(r"^ui$")))
        expect(ui_row).to_contain_text("process")
        expect(ui_row).to_contain_text("Ready")
        expect(ui_row).to_contain_text("1 healthy")
        spare = rows.filter(has=page.locator("a", has_text="spare"))
        expect(spare).to_contain_text("0 healthy, 1 lost")
        expect(spare).to_contain_text("Not ready")
        expect(spare.locator("td").nth(4)).to_have_text("2")
        shot(page, tmp_path, "pools")
        ui_row.locator("a").click()
        expect(page.locator("h1")).to_have_text("Work pool ui")
        workers = page.locator("#workers")
        expect(workers).to_contain_text(worker.name)
        expect(workers.locator(".worker-healthy")).to_have_count(1)
        expect(page.locator("#ready")).to_contain_text("worker(s) heartbeating")
        expect(page.locator("#runs")).to_contain_text("weather-now")
        shot(page, tmp_path, "pool")
        page.goto(f"{ui.url}/namespaces/{namespace}/pools/spare")
        expect(page.locator("#workers")).to_contain_text("gone-host/4242")
        expect(page.locator("#workers .worker-lost")).to_have_text("lost")
        expect(page.locator("#ready")).to_contain_text("no process worker has heartbeated")

        # Flows: source, Ready, and the parameter schema as a table.
        page.click("nav >> text=Flows")
        flow_row = page.locator("#flows tr", has_text=flow_name)
        expect(flow_row).to_contain_text("weather.py:weather")
        expect(flow_row).to_contain_text("Ready")
        flow_row.locator("a", has_text=flow_name).click()
        expect(page.locator("h1")).to_have_text(f"Flow {flow_name}")
        params = page.locator("#parameters tr")
        expect(params).to_have_count(5)  # the header and city, days, unit, pause in order
        expect(params.nth(1)).to_contain_text("city")
        expect(params.nth(1)).to_contain_text("string")
        expect(params.nth(1)).to_contain_text("required")
        expect(params.nth(2)).to_contain_text("days")
        expect(params.nth(2)).to_contain_text("integer")
        expect(params.nth(2).locator("code")).to_have_text("3")
        expect(params.nth(2)).not_to_contain_text("required")
        expect(params.nth(3)).to_contain_text("unit")
        expect(params.nth(3)).to_contain_text("C, F")
        expect(page.locator("#flow-deployments")).to_contain_text("weather")
        shot(page, tmp_path, "flow")
    finally:
        page.close()
        worker.stop()


def test_read_only_user_sees_no_retry_and_cannot_craft_one(
    operator: OperatorProcess,
    namespace: str,
    ui_server: Callable[[str], UiServer],
    browser: Browser,
    tmp_path: Path,
) -> None:
    cluster = operator.cluster
    deploy_weather(cluster, namespace)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=VIEWER_ROLE)
    # Failed by the operator for its parameters: terminal with no worker at all.
    apply(cluster, namespace, flow_run("bad-days", "weather", parameters={"days": "lots"}))
    wait_state(cluster, namespace, "bad-days", "Failed", timeout=60)
    ui = ui_server("alice")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{ui.url}/namespaces/{namespace}/runs/bad-days")
        expect(page.locator(STATE)).to_have_text("Failed")
        expect(page.locator("h2", has_text="History")).to_be_visible()
        expect(page.locator("#retry")).to_have_count(0)
        expect(page.locator("button")).to_have_count(0)

        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        assert token
        response = page.request.post(
            f"{ui.url}/namespaces/{namespace}/runs/bad-days/retry",
            form={"csrf": token},
            max_redirects=0,
        )
        assert response.status == 403, response.text()
        body = html.unescape(response.text())
        assert 'User "alice" cannot create resource "flowruns"' in body, body
        assert "the Kubernetes API server" in body
        assert flowruns(cluster, namespace) == ["bad-days"]

        # She may read pools and flows (the viewer Role), with no buttons there either.
        page.goto(f"{ui.url}/namespaces/{namespace}/pools")
        expect(page.locator("#pools")).to_contain_text("ui")
        page.goto(f"{ui.url}/namespaces/{namespace}/flows")
        expect(page.locator("#flows")).to_contain_text("weather")
        expect(page.locator("button")).to_have_count(0)
    finally:
        page.close()
