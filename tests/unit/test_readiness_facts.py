"""The operator's readiness facts and their endpoint (baton.controller.readiness).

The endpoint is a real HTTP server on 127.0.0.1; the integration tier
(tests/integration/test_readiness.py) asks a running operator's.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from baton.controller.app import new_readiness
from baton.controller.readiness import Readiness, serve

pytestmark = pytest.mark.unit


def test_ready_only_when_every_fact_and_check_holds() -> None:
    ready = Readiness()
    assert ready.report() == (False, {})  # nothing known is not ready
    ready.require("login", "not signed in")
    ready.require("startup", "not started")
    assert ready.report() == (False, {"login": "not signed in", "startup": "not started"})
    ready.hold("login")
    ready.hold("startup")
    assert ready.report() == (True, {"login": "ok", "startup": "ok"})
    # require() never undoes a fact that already holds (a retried handler re-requires).
    ready.require("login", "not signed in")
    assert ready.report()[0] is True
    ready.lose("startup", "listing FlowRuns failed: 403")
    assert ready.report() == (False, {"login": "ok", "startup": "listing FlowRuns failed: 403"})
    ready.hold("startup")
    leader: list[str | None] = ["not the leader"]
    ready.add_check("leader", lambda: leader[0])
    assert ready.report() == (False, {"leader": "not the leader", "login": "ok", "startup": "ok"})
    leader[0] = None
    assert ready.report()[0] is True


def test_a_standby_is_ready_until_it_leads_then_its_facts_decide() -> None:
    ready = Readiness()
    ready.require("startup", "not started")
    ready.standby("waiting for Lease default/baton-operator")
    assert ready.report() == (True, {"standby": "waiting for Lease default/baton-operator"})
    ready.standby(None)  # took the Lease: now it must start like any replica
    assert ready.report() == (False, {"startup": "not started"})


def test_a_broken_check_is_not_ready_rather_than_an_error() -> None:
    ready = Readiness()
    ready.hold("login")
    ready.add_check("boom", lambda: str(1 / 0))
    assert ready.report() == (False, {"boom": "check failed: division by zero", "login": "ok"})


def test_the_operator_starts_not_ready() -> None:
    ready, facts = new_readiness().report()
    assert not ready
    assert set(facts) == {"login", "startup"}


@pytest.fixture
def endpoint() -> Iterator[tuple[Readiness, str]]:
    ready = Readiness()
    server = serve(ready, "http://127.0.0.1:0/readyz")  # port 0: a free one
    yield ready, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_endpoint_answers_503_until_ready_then_200(endpoint: tuple[Readiness, str]) -> None:
    ready, base = endpoint
    ready.require("login", "not signed in to the API server yet")
    assert get(f"{base}/readyz") == (
        503,
        {"ready": False, "facts": {"login": "not signed in to the API server yet"}},
    )
    ready.hold("login")
    assert get(f"{base}/readyz?verbose=1") == (200, {"ready": True, "facts": {"login": "ok"}})
    code, body = get(f"{base}/healthz")
    assert code == 404 and "/readyz" in body["error"]


def test_endpoint_must_be_a_full_http_url() -> None:
    for bad in ("0.0.0.0:8081", "https://0.0.0.0:8081/readyz", "http://0.0.0.0/readyz"):
        with pytest.raises(ValueError, match="http://host:port/path"):
            serve(Readiness(), bad)
