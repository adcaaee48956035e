"""The UI's calls to the API server, all made with the user's own credentials.

Pages read through ``Access``: one page of a list at a time (never a whole kind), a
SelfSubjectAccessReview per action button (cached briefly: a page asks several), a
watch on one FlowRun for the live view, and the dashboard's counts from a watched index
of state and time per run (``counts``). Writes go through the same client, so the API
server — not the UI — decides whether the user may create or cancel a run.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from baton._kube.client import FLOWRUNS, AsyncKubeClient, Kind, NotFound
from baton.contract import GROUP
from baton.ui.counts import RunIndex

Json = dict[str, Any]

#: An access review's answer is reused this long (seconds): buttons on one page share it.
REVIEW_TTL = 10.0
_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


@dataclass(frozen=True)
class Page:
    """One page of a list and the token of the next one (None on the last page)."""

    items: list[Json]
    cont: str | None


class Access:
    """What the UI may read and do, asked of the API server as the user."""

    def __init__(self, client: AsyncKubeClient) -> None:
        self.client = client
        self._reviews: dict[tuple[str, str, str], tuple[float, bool]] = {}
        self._indexes: dict[str, RunIndex] = {}

    async def run_counts(self, namespace: str, since: datetime) -> dict[str, int]:
        """Runs per state since ``since``, from the namespace's watched index (``counts``)."""
        index = self._indexes.get(namespace)
        if index is None:
            index = self._indexes[namespace] = RunIndex(self.client, namespace)
        try:
            return await index.counts(since)
        except Exception:
            # Refused (or unreachable): the next view tries again, e.g. after a RoleBinding.
            self._indexes.pop(namespace, None)
            raise

    async def close(self) -> None:
        for index in self._indexes.values():
            await index.close()

    async def page(
        self,
        kind: Kind,
        namespace: str,
        *,
        limit: int,
        cont: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Page:
        items, token = await self.client.list_page(
            kind,
            namespace,
            limit=limit,
            cont=cont,
            label_selector=label_selector,
            field_selector=field_selector,
        )
        return Page(items, token)

    async def get(self, kind: Kind, name: str, namespace: str) -> Json | None:
        try:
            return await self.client.get(kind, name, namespace)
        except NotFound:
            return None

    async def can(self, verb: str, resource: str, namespace: str, group: str = GROUP) -> bool:
        """Whether the user may ``verb`` ``resource`` in ``namespace`` (SelfSubjectAccessReview)."""
        key = (verb, resource, namespace)
        cached = self._reviews.get(key)
        if cached and time.monotonic() - cached[0] < REVIEW_TTL:
            return cached[1]
        review = await self.client.request(
            "POST",
            _REVIEWS,
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {
                    "resourceAttributes": {
                        "namespace": namespace,
                        "verb": verb,
                        "group": group,
                        "resource": resource,
                    }
                },
            },
        )
        allowed = bool((review.get("status") or {}).get("allowed"))
        self._reviews[key] = (time.monotonic(), allowed)
        return allowed

    async def follow_run(self, name: str, namespace: str) -> AsyncIterator[Json]:
        """The run now, then each version of it the API server reports, until it is deleted.

        A watch ends after ``timeoutSeconds``; it is resumed from the last resourceVersion,
        or from a fresh read when that version has been compacted away (410 Gone).
        """
        run = await self.client.get(FLOWRUNS, name, namespace)
        yield run
        version = run["metadata"]["resourceVersion"]
        while True:
            params = {
                "watch": "1",
                "fieldSelector": f"metadata.name={name}",
                "resourceVersion": version,
                "timeoutSeconds": "240",
                "allowWatchBookmarks": "true",
            }
            async for event in self.client.stream_lines(FLOWRUNS.path(namespace), params):
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    run = await self.client.get(FLOWRUNS, name, namespace)
                    version = run["metadata"]["resourceVersion"]
                    yield run
                    break
                version = obj.get("metadata", {}).get("resourceVersion", version)
                if kind == "DELETED":
                    return
                if kind in ("ADDED", "MODIFIED"):
                    yield obj
