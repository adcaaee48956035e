"""Schedules from the Deployment's page: preview, add, remove, pause, as the user.

``baton ui`` against the real API server with the operator running. The tutorial's step:
add ``0 9 * * *`` and see it listed with its next fire time (the operator's, in the
Deployment's status). A typed schedule is checked by the operator's own validator; an
edit made meanwhile is a 409 from the API server, never overwritten; a read-only user
sees no controls and a crafted post is refused by the API server; a Deployment tracked by
Argo CD says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from html import unescape
from typing import Any

import httpx
import pytest
from test_tutorial import VIEWER_ROLE
from ui_helpers import UiServer

from clusterkit import Cluster, OperatorProcess
from kube_helpers import apply, deployment, flow, wait_for

pytestmark = pytest.mark.integration


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]*)"', text)
    assert found
    return found.group(1)


def _version(text: str) -> str:
    found = re.search(r'name="generation" value="([^"]*)"', text)
    assert found
    return found.group(1)


def _spec(crds: Cluster, namespace: str) -> dict[str, Any]:
    return dict(crds.get_json("deployments.baton.dev", "d", "-n", namespace)["spec"])


def test_add_preview_remove_and_pause_a_schedule(
    operator: OperatorProcess,
    crds: Cluster,
    namespace: str,
    ui_server: Callable[[str], UiServer],
) -> None:
    apply(crds, namespace, flow(), deployment())
    crds.kubectl("apply", "-n", namespace, "-f", "-", stdin=VIEWER_ROLE)
    server = ui_server("admin")
    base = f"{server.url}/namespaces/{namespace}/deployments/d"
    with httpx.Client(timeout=30) as http:
        page = http.get(base).text
        assert "No schedules" in page
        # The preview: the operator's validator and fire-time search, nothing saved.
        shown = unescape(
            http.get(
                f"{base}/schedules/preview", params={"kind": "cron", "value": "0 9 * * *"}
            ).text
        )
        times = re.findall(r"<time>([^<]+)</time>", shown)
        assert len(times) == 5 and all(t.endswith("09:00:00 UTC") for t in times), shown
        first = datetime.strptime(times[0], "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
        assert 0 < (first - datetime.now(UTC)).total_seconds() <= 86400
        bad = http.get(f"{base}/schedules/preview", params={"kind": "cron", "value": "61 * * * *"})
        assert 'id="schedule-problem"' in bad.text
        never = http.get(
            f"{base}/schedules/preview",
            params={"kind": "rrule", "value": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"},
        )
        assert 'id="schedule-problem"' in never.text and "never" in never.text.lower()
        assert _spec(crds, namespace).get("schedules", []) == []

        form = {"csrf": _csrf(page), "generation": _version(page)}
        refused = http.post(
            f"{base}/schedules", data={**form, "kind": "cron", "value": "61 * * * *"}
        )
        assert refused.status_code == 422 and 'id="schedule-problem"' in refused.text
        assert _spec(crds, namespace).get("schedules", []) == []
        added = http.post(f"{base}/schedules", data={**form, "kind": "cron", "value": "0 9 * * *"})
        assert added.status_code == 303, added.text[:500]
        stored = _spec(crds, namespace)["schedules"]
        assert [(s.get("cron"), s["timezone"]) for s in stored] == [("0 9 * * *", "UTC")]

        # Listed, with the operator's next fire time (its status) at 09:00.
        def listed() -> str | None:
            text = http.get(base).text
            return text if times[0] in text and "0 9 * * *" in text else None

        page = wait_for(listed, what="the schedule listed with its next fire time")
        # A form rendered before the add is stale now (another generation of the spec):
        # the API server refuses the patch, the page says so (409); the operator's status
        # writes in between did not matter.
        stale = http.post(f"{base}/schedules", data={**form, "kind": "interval", "value": "60"})
        assert stale.status_code == 409, stale.text[:300]
        assert "changed since this page was loaded" in unescape(stale.text)
        assert len(_spec(crds, namespace)["schedules"]) == 1

        form = {"csrf": _csrf(page), "generation": _version(page)}
        paused = http.post(f"{base}/pause", data={**form, "paused": "true"})
        assert paused.status_code == 303 and _spec(crds, namespace)["paused"] is True
        page = http.get(base).text
        assert ">Resume<" in page
        form = {"csrf": _csrf(page), "generation": _version(page)}
        removed = http.post(f"{base}/schedules/remove", data={**form, "index": "0"})
        assert removed.status_code == 303 and _spec(crds, namespace)["schedules"] == []

    # Read-only: no controls, and a crafted post is the API server's to refuse.
    alice = ui_server("alice")
    with httpx.Client(timeout=30) as http:
        page = http.get(f"{alice.url}/namespaces/{namespace}/deployments/d").text
        assert 'id="no-edit"' in page and "Add schedule" not in page
        crafted = http.post(
            f"{alice.url}/namespaces/{namespace}/deployments/d/schedules",
            data={"csrf": _csrf(page), "generation": "1", "kind": "cron", "value": "* * * * *"},
        )
        assert crafted.status_code == 403
        assert 'User "alice" cannot patch' in unescape(crafted.text)
    assert _spec(crds, namespace)["schedules"] == []


def test_a_deployment_tracked_by_argo_cd_says_so_before_editing(
    crds: Cluster, namespace: str, ui_server: Callable[[str], UiServer]
) -> None:
    tracked = deployment()
    tracked["metadata"]["annotations"] = {
        "argocd.argoproj.io/tracking-id": "etl:baton.dev/Deployment:ns/d"
    }
    apply(crds, namespace, flow(), tracked)
    server = ui_server("admin")
    page = httpx.get(f"{server.url}/namespaces/{namespace}/deployments/d", timeout=30).text
    assert 'id="gitops"' in page and "Argo CD" in page
