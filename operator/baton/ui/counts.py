"""Runs per state, kept current by a watch: the dashboard's counts without a scan per view.

The first dashboard view of a namespace lists its FlowRuns once (pages of 500) and keeps
two facts of each — state and scheduled (else creation) time — then follows a watch from
that list's resourceVersion, so later views count in memory (10,000 runs: a few ms). The
list and the watch are made with the user's credentials like every other call. A watch
that ends is resumed; one whose version has been compacted (410) lists again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from baton._kube.client import FLOWRUNS, AsyncKubeClient

Json = dict[str, Any]
PAGE = 500
log = logging.getLogger(__name__)


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _facts(item: Json) -> tuple[str, datetime | None]:
    spec, status = item.get("spec") or {}, item.get("status") or {}
    when = _time(spec.get("scheduledTime") or item["metadata"].get("creationTimestamp"))
    return str(status.get("state") or "New"), when


class RunIndex:
    """State and time of every FlowRun in one namespace, followed by a watch."""

    def __init__(self, client: AsyncKubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.runs: dict[str, tuple[str, datetime | None]] = {}
        self._ready = asyncio.Event()
        self._failure: BaseException | None = None
        self._task = asyncio.create_task(self._follow())

    async def counts(self, since: datetime) -> dict[str, int]:
        """Runs per state whose time is at or after ``since``."""
        await self._ready.wait()
        if self._failure is not None:
            raise self._failure
        counts: dict[str, int] = {}
        for state, when in self.runs.values():
            if when is not None and when >= since:
                counts[state] = counts.get(state, 0) + 1
        return counts

    async def _list(self) -> str:
        runs: dict[str, tuple[str, datetime | None]] = {}
        cont: str | None = None
        while True:
            page = await self.client.request(
                "GET",
                FLOWRUNS.path(self.namespace),
                params={"limit": str(PAGE), **({"continue": cont} if cont else {})},
            )
            for item in page.get("items", []):
                runs[item["metadata"]["name"]] = _facts(item)
            cont = page.get("metadata", {}).get("continue")
            if not cont:
                self.runs = runs
                return str(page["metadata"]["resourceVersion"])

    async def _follow(self) -> None:
        try:
            version = await self._list()
        except Exception as error:  # e.g. a 403: the dashboard page shows it
            self._failure = error
            self._ready.set()
            return
        self._ready.set()
        while True:
            try:
                version = await self._watch(version)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("run index of %s: %s; listing again", self.namespace, error)
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    version = await self._list()

    async def _watch(self, version: str) -> str:
        params = {
            "watch": "1",
            "resourceVersion": version,
            "timeoutSeconds": "240",
            "allowWatchBookmarks": "true",
        }
        async for event in self.client.stream_lines(FLOWRUNS.path(self.namespace), params):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":  # 410 Gone: the version was compacted away
                return await self._list()
            version = obj.get("metadata", {}).get("resourceVersion", version)
            name = obj.get("metadata", {}).get("name")
            if kind == "DELETED" and name:
                self.runs.pop(name, None)
            elif kind in ("ADDED", "MODIFIED") and name:
                self.runs[name] = _facts(obj)
        return version

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
