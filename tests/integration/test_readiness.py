"""The operator's readiness endpoint (/readyz) on the real API server.

One real ``baton operator`` process signs in as a ServiceAccount of the test's namespace
that has no rights at first: it cannot list FlowRuns, so it is not ready, and /readyz
says why (the API server's 403) while kopf's liveness endpoint is not even up. Once the
ServiceAccount is granted rights, the operator's retried start-up succeeds, its Job and
pod watches list, and /readyz answers 200 with every fact held.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import controlplane
import pytest
from chart_support import service_account_kubeconfig, wait_for

from clusterkit import Cluster

pytestmark = pytest.mark.integration


def probe(url: str) -> tuple[int, dict[str, Any]] | None:
    """(status, JSON body) of a GET, or None while nothing listens there."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except (urllib.error.URLError, ConnectionError):
        return None


def test_readyz_reports_not_ready_until_the_operator_can_watch(
    crds: Cluster, namespace: str, tmp_path: Path
) -> None:
    crds.kubectl("create", "serviceaccount", "op", "-n", namespace)
    kubeconfig = service_account_kubeconfig(crds, namespace, "op", tmp_path / "op.kubeconfig")
    health, ready_port = controlplane.free_port(), controlplane.free_port()
    readyz = f"http://127.0.0.1:{ready_port}/readyz"
    log = tmp_path / "operator.log"
    binding = f"{namespace}-op"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "baton.cli",
                "operator",
                "-n",
                namespace,
                f"--liveness=http://127.0.0.1:{health}/healthz",
                f"--readiness={readyz}",
                # The start-up facts are the subject here; a Lease it could not read would
                # be its own fact (test_leader_election.py covers the Lease).
                "--no-leader-elect",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        )

    def answer(predicate: Any) -> Any:
        if proc.poll() is not None:
            raise AssertionError(f"the operator exited:\n{log.read_text()[-3000:]}")
        got = probe(readyz)
        return got if got is not None and predicate(*got) else None

    try:
        # Not ready, and saying why: the start-up listing is forbidden (kopf signs its
        # watches in only after start-up, so that fact is pending too).
        code, body = wait_for(
            lambda: answer(lambda c, b: "403" in b.get("facts", {}).get("startup", "")),
            "/readyz to report the forbidden start-up listing",
        )
        assert code == 503 and body["ready"] is False
        assert body["facts"]["login"] == "not signed in to the API server yet"
        assert "Forbidden" in body["facts"]["startup"] or "forbidden" in body["facts"]["startup"]
        # kopf serves liveness only after start-up: a liveness probe would not pass either.
        assert probe(f"http://127.0.0.1:{health}/healthz") is None

        crds.kubectl(
            "create",
            "clusterrolebinding",
            binding,
            "--clusterrole=cluster-admin",
            f"--serviceaccount={namespace}:op",
        )
        code, body = wait_for(
            lambda: answer(lambda c, b: c == 200), "/readyz to turn 200", timeout=60
        )
        assert body == {
            "ready": True,
            "facts": {
                "jobs watch in " + namespace: "ok",
                "login": "ok",
                "loops": "ok",
                "pods watch in " + namespace: "ok",
                "startup": "ok",
            },
        }
        # Liveness is the other, cheap endpoint (kopf's), up now that start-up is done.
        alive = wait_for(lambda: probe(f"http://127.0.0.1:{health}/healthz"), "liveness")
        assert alive[0] == 200
        assert probe(f"http://127.0.0.1:{ready_port}/healthz") == (
            404,
            {"error": "not found; readiness is at /readyz"},
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        crds.kubectl("delete", "clusterrolebinding", binding, "--ignore-not-found", check=False)
