"""A local copy of the namespace's FlowRuns, kept current by list + watch.

The worker reads this cache instead of polling the API server: a run the operator marks
AwaitingWorker is seen within one watch event, and a cancel request reaches the running
process just as fast. The thread relists after the watch ends or fails (a 410 Gone, a
dropped connection, an API server restart), backing off up to ``MAX_BACKOFF`` seconds,
so a worker survives control-plane restarts without being restarted itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from baton._kube.client import FLOWRUNS, KubeClient

logger = logging.getLogger("baton.worker")

Json = dict[str, Any]
MAX_BACKOFF = 10.0
WATCH_TIMEOUT_SECONDS = 120


class RunCache:
    """FlowRuns by name, shared by the watch thread (writer) and the worker loop (reader)."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Json] = {}
        self._on_change = on_change
        self.synced = threading.Event()

    def replace(self, runs: list[Json]) -> None:
        with self._lock:
            self._runs = {r["metadata"]["name"]: r for r in runs}
        self.synced.set()
        self._on_change()

    def apply(self, event_type: str, body: Json) -> None:
        name = body["metadata"]["name"]
        with self._lock:
            if event_type == "DELETED":
                self._runs.pop(name, None)
            else:
                self._runs[name] = body
        self._on_change()

    def get(self, name: str) -> Json | None:
        with self._lock:
            return self._runs.get(name)

    def snapshot(self) -> list[Json]:
        with self._lock:
            return list(self._runs.values())


class RunWatcher(threading.Thread):
    """Lists then watches FlowRuns of ``namespace`` into ``cache`` until ``stop()``."""

    def __init__(self, client: KubeClient, namespace: str, cache: RunCache) -> None:
        super().__init__(name="baton-worker-watch", daemon=True)
        self._client = client
        self._namespace = namespace
        self._cache = cache
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self._client.close()

    def _list(self) -> str:
        items: list[Json] = []
        params: dict[str, str] = {"limit": "500"}
        while True:
            page = self._client.request("GET", FLOWRUNS.path(self._namespace), params=params)
            items.extend(page.get("items", []))
            cont = page.get("metadata", {}).get("continue")
            if not cont:
                self._cache.replace(items)
                return str(page.get("metadata", {}).get("resourceVersion", ""))
            params["continue"] = cont

    def _watch(self, version: str) -> str | None:
        """Follow events from ``version``; return the last version seen, None to relist."""
        for event in self._client.watch(
            FLOWRUNS,
            self._namespace,
            resource_version=version,
            timeout_seconds=WATCH_TIMEOUT_SECONDS,
        ):
            kind = event.get("type")
            body = event.get("object") or {}
            if kind == "ERROR":
                return None  # usually 410 Gone: our version is too old
            version = str(body.get("metadata", {}).get("resourceVersion") or version)
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self._cache.apply(kind, body)
        return version

    def run(self) -> None:
        backoff = 0.5
        version: str | None = None
        while not self._stopping.is_set():
            try:
                if version is None:
                    version = self._list()
                version = self._watch(version)
                backoff = 0.5
            except Exception as error:
                if self._stopping.is_set():
                    return
                logger.warning("watching flow runs failed (%s); retrying in %.1fs", error, backoff)
                version = None
                self._stopping.wait(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
