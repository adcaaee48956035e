"""Real receivers on 127.0.0.1 for the automations tests, the component under test, and
the steps that drive runs to Failed, Crashed and Completed.

``HttpReceiver`` is an HTTP server standing in for Slack's incoming webhook (or any
webhook): it records every request with its arrival time and answers what the test
tells it to (200, or 500 for a while). ``SmtpReceiver`` is aiosmtpd's SMTP server,
recording each message. ``AutomationsProcess`` runs ``baton automations`` as a real
subprocess, like ``clusterkit.OperatorProcess`` does for the operator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from clusterkit import Cluster, controlplane, stop_all
from kube_helpers import (
    pod_of,
    report,
    run_status,
    set_pod_status,
    terminated,
    wait_for,
    wait_state,
)


@dataclass
class Arrival:
    time: float  # time.time() on arrival
    path: str
    body: str
    answered: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """A webhook endpoint; ``fail_next`` requests get 500, then 200 again."""

    arrivals: list[Arrival] = field(default_factory=list)
    fail_next: int = 0
    fail_always: bool = False
    delay: float = 0.0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                with receiver._lock:
                    failing = receiver.fail_always or receiver.fail_next > 0
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                code = 500 if failing else 200
                if receiver.delay and not failing:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    receiver.arrivals.append(Arrival(time.time(), self.path, body, code))
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if code == 200 else b"receiver down")

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def accepted(self, path: str | None = None) -> list[Arrival]:
        with self._lock:
            return [
                a for a in self.arrivals if a.answered == 200 and (path is None or a.path == path)
            ]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class Mail:
    time: float
    sender: str
    to: list[str]
    subject: str
    body: str


class _Handler:
    def __init__(self, inbox: list[Mail]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        payload = message.get_payload(decode=True)
        body = payload.decode() if isinstance(payload, bytes) else str(payload)
        self.inbox.append(
            Mail(time.time(), envelope.mail_from, list(envelope.rcpt_tos), message["Subject"], body)
        )
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """aiosmtpd's SMTP server on 127.0.0.1 (no TLS: actions set ``starttls: false``)."""

    def __init__(self) -> None:
        self.inbox: list[Mail] = []
        self.port = controlplane.free_port()
        self._controller = Controller(_Handler(self.inbox), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


class AutomationsProcess:
    """``baton automations`` as a real subprocess against the test cluster."""

    def __init__(self, cluster: Cluster, namespaces: list[str], log_dir: Path) -> None:
        self.cluster = cluster
        self.namespaces = namespaces
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig)}
        argv = [
            sys.executable,
            "-m",
            "baton.cli",
            "automations",
            *(arg for ns in self.namespaces for arg in ("-n", ns)),
        ]
        with open(self.log_dir / f"automations-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        return proc

    def kill9(self) -> None:
        self.procs[-1].kill()
        self.procs[-1].wait(timeout=10)

    def stop(self) -> None:
        stop_all(self.procs)

    def alive(self) -> bool:
        return bool(self.procs) and self.procs[-1].poll() is None

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.log_dir.glob("automations-*.log"))
        )


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """``kube_helpers.wait_for`` polling every 50 ms: delivery latency is measured with it."""
    return wait_for(predicate, timeout=timeout, what=what, interval=0.05)


def secret(cluster: Cluster, namespace: str, name: str, **data: str) -> None:
    cluster.kubectl(
        "create",
        "secret",
        "generic",
        name,
        "-n",
        namespace,
        *(f"--from-literal={k}={v}" for k, v in data.items()),
    )


def automation(name: str, trigger: dict[str, Any], *actions: dict[str, Any], **spec: Any) -> Any:
    return {
        "apiVersion": "baton.dev/v1alpha1",
        "kind": "Automation",
        "metadata": {"name": name},
        "spec": {"trigger": trigger, "actions": list(actions), **spec},
    }


def automation_status(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return dict(cluster.get_json("automation", name, "-n", namespace).get("status") or {})


def ready(status: dict[str, Any], type_: str = "Ready") -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), {})


def started(cluster: Cluster, namespace: str, name: str) -> str:
    """Wait for the run's Job; its name."""
    try:
        status = wait_state(cluster, namespace, name, "Pending", reason="JobCreated", timeout=60)
    except AssertionError as error:
        raise AssertionError(f"{error}; status: {run_status(cluster, namespace, name)}") from None
    return str(status["jobName"])


def fail(cluster: Cluster, namespace: str, name: str) -> None:
    started(cluster, namespace, name)
    report(cluster, namespace, name, "Failed", "boom")


def crash(cluster: Cluster, namespace: str, name: str) -> None:
    job = started(cluster, namespace, name)
    pod = wait_for(lambda: pod_of(cluster, namespace, job), what=f"the pod of {job}")
    set_pod_status(cluster, namespace, pod["metadata"]["name"], terminated(137, "OOMKilled"))


def complete(cluster: Cluster, namespace: str, name: str) -> None:
    job = started(cluster, namespace, name)
    report(cluster, namespace, name, "Completed")
    pod = wait_for(lambda: pod_of(cluster, namespace, job), what=f"the pod of {job}")
    set_pod_status(cluster, namespace, pod["metadata"]["name"], terminated(0))


def observed(cluster: Cluster, namespace: str, *deployments: str) -> None:
    """Wait until the operator has seen these Deployments (their Ready condition).

    A FlowRun applied before the operator's cache holds its Deployment may be admitted
    to the default pool instead of the Deployment's (the run's pool is indexed when the
    run is seen), so tests that use other pools wait for this first.
    """
    for name in deployments:
        wait_for(
            lambda n=name: any(
                c.get("type") == "Ready"
                for c in (
                    cluster.get_json("deployments.baton.dev", n, "-n", namespace).get("status")
                    or {}
                ).get("conditions", [])
            ),
            what=f"the operator to observe Deployment {name}",
        )


def watching(cluster: Cluster, namespace: str, name: str) -> None:
    """Wait until the Automation is Ready: only events after that are promised."""

    def is_ready() -> bool:
        found = cluster.kubectl(
            "get", "-o", "json", "automation", name, "-n", namespace, check=False
        )
        if found.returncode != 0:
            return False  # not created yet (an expanded one appears a moment later)
        conditions = (json.loads(found.stdout).get("status") or {}).get("conditions", [])
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    wait_for(is_ready, what=f"Automation {name} to be Ready")
