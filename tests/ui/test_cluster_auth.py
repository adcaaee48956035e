"""The UI in the cluster: every call is the signed-in user's, never the UI's own.

The chart is installed with ``ui.enabled`` on the real API server; ``baton ui`` runs with
the chart's UI ServiceAccount token (what its pod mounts), in the two in-cluster modes:

- ``--auth proxy``: requests carry an authenticating proxy's ``X-Forwarded-User`` and
  ``X-Forwarded-Groups``; the UI impersonates that user, so the API server applies the
  user's RBAC (buttons, refusals with the API server's reason naming the user).
- ``--auth token``: users sign in with a bearer token; pages are made with it.

Pages are fetched with httpx: these are the API-facing rules, the browser walk is
test_tutorial.py's.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest
import yaml

from clusterkit import ROOT, Cluster
from kube_helpers import apply, deployment, flow

sys.path.insert(0, str(ROOT / "tests" / "integration"))

from chart_support import Installed, can_i, install, service_account_kubeconfig
from ui_helpers import UiServer

pytestmark = pytest.mark.integration

VIEW = ["get", "list", "watch"]


@pytest.fixture(scope="module")
def installed(crds: Cluster) -> Iterator[Installed]:
    with install(crds, values={"ui.enabled": "true"}) as inst:
        ns = inst.namespace
        apply(crds, ns, flow(), deployment())
        rules = [{"apiGroups": ["baton.dev"], "resources": ["*"], "verbs": VIEW}]
        create = {"apiGroups": ["baton.dev"], "resources": ["flowruns"], "verbs": ["create"]}
        run_rules = [*rules, create]
        for name, role_rules, subject in (
            ("viewer", rules, {"kind": "User", "name": "carol"}),
            ("runner", run_rules, {"kind": "Group", "name": "data-team"}),
            ("alice-viewer", rules, {"kind": "User", "name": "alice"}),
        ):
            apply(
                crds,
                ns,
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": {"name": name},
                    "rules": role_rules,
                },
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {"name": name},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": name,
                    },
                    "subjects": [{**subject, "apiGroup": "rbac.authorization.k8s.io"}],
                },
            )
        yield inst


def _ui(crds: Cluster, inst: Installed, tmp_path: Path, auth: str) -> UiServer:
    sa = service_account_kubeconfig(
        crds, inst.namespace, f"{inst.release}-ui", tmp_path / "ui-sa.yaml"
    )
    log = tmp_path / f"ui-{auth}.log"
    return UiServer(crds, inst.namespace, None, log, kubeconfig=sa, extra=("--auth", auth))


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]*)"', html)
    assert found, html[:2000]
    return found.group(1)


def _runs(crds: Cluster, namespace: str) -> list[str]:
    return [r["metadata"]["name"] for r in crds.get_json("flowruns", "-n", namespace)["items"]]


def test_proxy_mode_calls_the_api_as_the_proxys_user(
    crds: Cluster, installed: Installed, tmp_path: Path
) -> None:
    ns = installed.namespace
    ui_sa = f"system:serviceaccount:{ns}:{installed.release}-ui"
    # The UI's own identity can impersonate and nothing else.
    assert can_i(crds, ui_sa, "impersonate", "users")
    assert not can_i(crds, ui_sa, "list", "flowruns.baton.dev", "-n", ns)
    assert not can_i(crds, ui_sa, "create", "flowruns.baton.dev", "-n", ns)
    server = _ui(crds, installed, tmp_path, "proxy")
    try:
        page = f"{server.url}/namespaces/{ns}/deployments"

        def get(user: str | None, groups: str = "") -> httpx.Response:
            headers = {"X-Forwarded-User": user} if user else {}
            if groups:
                headers["X-Forwarded-Groups"] = groups
            return httpx.get(page, headers=headers, timeout=30)

        anonymous = get(None)
        assert anonymous.status_code == 401
        assert "expects an authenticating proxy" in unescape(anonymous.text)
        carol = get("carol")
        assert carol.status_code == 200 and 'id="user">carol<' in carol.text
        assert ">d<" in carol.text or "/deployments/d" in carol.text
        assert "Quick Run" not in carol.text  # her access review says no
        erin = get("erin", "data-team, contractors")
        assert erin.status_code == 200 and "Quick Run" in erin.text  # through her group
        mallory = get("mallory")
        assert mallory.status_code == 403
        assert 'User "mallory" cannot list' in unescape(mallory.text)  # the API server's reason
        masters = get("eve", "system:masters")
        assert masters.status_code == 403 and "does not act as system:masters" in unescape(
            masters.text
        )

        # A crafted post: carol's own form token, her identity: the API server refuses.
        before = _runs(crds, ns)
        post = httpx.post(
            f"{server.url}/namespaces/{ns}/deployments/d/runs",
            headers={"X-Forwarded-User": "carol"},
            data={"csrf": _csrf(carol.text), "mode": "quick"},
            timeout=30,
        )
        assert post.status_code == 403, post.text[:500]
        assert 'User "carol" cannot create resource "flowruns"' in unescape(post.text)
        # Erin's form token is bound to erin: carol cannot borrow it.
        borrowed = httpx.post(
            f"{server.url}/namespaces/{ns}/deployments/d/runs",
            headers={"X-Forwarded-User": "carol"},
            data={"csrf": _csrf(erin.text), "mode": "quick"},
            timeout=30,
        )
        assert borrowed.status_code == 403 and "did not come from this Baton UI" in unescape(
            borrowed.text
        )
        assert _runs(crds, ns) == before
        # Erin may: the run is created, as her.
        created = httpx.post(
            f"{server.url}/namespaces/{ns}/deployments/d/runs",
            headers={"X-Forwarded-User": "erin", "X-Forwarded-Groups": "data-team, contractors"},
            data={"csrf": _csrf(erin.text), "mode": "quick"},
            timeout=30,
        )
        assert created.status_code == 303, created.text[:500]
        # (The UI's ServiceAccount may not create FlowRuns, so erin's identity did.)
        assert len(set(_runs(crds, ns)) - set(before)) == 1
    finally:
        server.stop()
    assert "Traceback" not in server.output(), server.output()[-3000:]


def _token_of(crds: Cluster, user: str) -> str:
    config = yaml.safe_load(crds.kubeconfig.read_text())
    return str(next(u["user"]["token"] for u in config["users"] if u["name"] == user))


def test_token_mode_pages_are_made_with_the_signed_in_token(
    crds: Cluster, installed: Installed, tmp_path: Path
) -> None:
    ns = installed.namespace
    server = _ui(crds, installed, tmp_path, "token")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as browser:
            first = browser.get(f"/namespaces/{ns}/deployments")
            assert first.status_code == 303
            assert first.headers["location"].startswith("/sign-in?next=")
            refused = browser.post("/sign-in", data={"token": "not-a-token", "next": "/"})
            assert refused.status_code == 401
            assert "the API server refused this token: 401" in refused.text
            signed = browser.post(
                "/sign-in",
                data={"token": _token_of(crds, "alice"), "next": f"/namespaces/{ns}/deployments"},
            )
            assert signed.status_code == 303
            assert signed.headers["location"] == f"/namespaces/{ns}/deployments"
            cookie = signed.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
            page = browser.get(f"/namespaces/{ns}/deployments")
            assert page.status_code == 200 and 'id="user">alice<' in page.text
            assert "Quick Run" not in page.text  # alice may view, not run
            # Elsewhere alice has no rights: the API server's refusal, naming her.
            other = browser.get(f"/namespaces/{installed.other}/deployments")
            assert other.status_code == 403 and 'User "alice" cannot list' in unescape(other.text)
            out = browser.post("/sign-out", data={"csrf": _csrf(page.text)})
            assert out.status_code == 303
            assert browser.get(f"/namespaces/{ns}/deployments").status_code == 303
    finally:
        server.stop()
    output = server.output()
    assert "Traceback" not in output, output[-3000:]
    assert _token_of(crds, "alice") not in output  # the token is never logged
