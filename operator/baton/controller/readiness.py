"""Readiness: is this operator replica doing its job yet, as opposed to merely alive?

kopf's liveness endpoint (``--liveness``, ``/healthz``) says the process and its loops
run; a failing liveness probe restarts the container, so it must stay cheap and must
not fail for reasons a restart cannot fix. Readiness is a different question: has the
operator signed in to the API server, finished its start-up listing, and are its
watches running? That gates ``helm install --wait``, ``kubectl rollout status`` and a
rolling update's progress, and it answers ``503`` (with what is missing) for as long
as, say, the operator's RBAC is wrong, where liveness would have restarted it in a loop.

The answer is a set of named facts, each held or not with a reason (``require``,
``hold``, ``lose``), plus checks computed on each request (``add_check``): a later
condition, such as holding a leader-election lease, is one more fact or check, and
nothing else changes. The endpoint is served by a small stdlib HTTP server in a thread
of its own, started before kopf, so it answers (``503``) while kopf is still starting.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: A check computed when asked: None when it holds, else why it does not.
Check = Callable[[], str | None]


class Readiness:
    """Named facts that must all hold for the operator to be ready."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facts: dict[str, str | None] = {}  # name -> None when held, else the reason
        self._checks: dict[str, Check] = {}
        #: Set while this replica waits for the leader Lease: a hot standby is ready (to
        #: take over), as Kubernetes' own controllers report, so a rollout of two
        #: replicas never waits for the one that must not act.
        self._standby: str | None = None

    def standby(self, reason: str | None) -> None:
        """Report ready as a standby (``reason`` names the holder), or stop (None)."""
        with self._lock:
            self._standby = reason

    def require(self, name: str, reason: str) -> None:
        """Add a fact that does not hold yet (``reason`` says what is awaited)."""
        with self._lock:
            self._facts.setdefault(name, reason)

    def hold(self, name: str) -> None:
        """The fact holds now (added if it was not required before)."""
        with self._lock:
            self._facts[name] = None

    def lose(self, name: str, reason: str) -> None:
        """The fact no longer holds, for ``reason``."""
        with self._lock:
            self._facts[name] = reason

    def add_check(self, name: str, check: Check) -> None:
        """A condition evaluated on every request; it must be cheap and never block."""
        with self._lock:
            self._checks[name] = check

    def report(self) -> tuple[bool, dict[str, str]]:
        """(ready, name -> "ok" or the reason it is not), facts and checks alike."""
        with self._lock:
            facts = dict(self._facts)
            checks = dict(self._checks)
            standby = self._standby
        if standby is not None:
            return True, {"standby": standby}
        for name, check in checks.items():
            try:
                facts[name] = check()
            except Exception as error:  # a broken check means not ready, never a 500
                facts[name] = f"check failed: {error}"
        ready = bool(facts) and all(reason is None for reason in facts.values())
        return ready, {name: reason or "ok" for name, reason in sorted(facts.items())}


def serve(readiness: Readiness, endpoint: str) -> ThreadingHTTPServer:
    """Answer GET ``endpoint`` (``http://host:port/path``) with 200 or 503 and the facts.

    The body is JSON: ``{"ready": bool, "facts": {name: "ok" | reason}}``. Any other
    path is 404. The server runs in a daemon thread until the process ends.
    """
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme != "http" or parts.port is None:
        raise ValueError(f"readiness endpoint must be http://host:port/path, not {endpoint!r}")
    path = parts.path or "/"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if urllib.parse.urlsplit(self.path).path != path:
                self._send(404, {"error": f"not found; readiness is at {path}"})
                return
            ready, facts = readiness.report()
            self._send(200 if ready else 503, {"ready": ready, "facts": facts})

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """One line per probe every few seconds is noise: log nothing."""

    server = ThreadingHTTPServer((parts.hostname or "0.0.0.0", parts.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="baton-readiness", daemon=True).start()
    return server
