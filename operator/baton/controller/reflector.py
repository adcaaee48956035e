"""List-then-watch of the Jobs and pods Baton created, by server-side label selector.

kopf watches a whole resource type; for Jobs and pods that would make the operator's
memory and CPU grow with every unrelated workload in the cluster. This reflector asks
the API server only for objects labelled ``app.kubernetes.io/managed-by=baton``,
resumes from the last resourceVersion after a dropped connection, and re-lists (telling
the handler which objects vanished) when the server says that version is gone (410).
Each (kind, namespace) it follows is a readiness fact: held once listed and watching,
lost while the list or watch fails (readiness.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from baton._kube.client import ApiError, AsyncKubeClient, Kind
from baton.controller.readiness import Readiness

logger = logging.getLogger("baton.reflector")

Handler = Callable[[str, dict[str, Any]], None]


async def reflect(
    client: AsyncKubeClient,
    kind: Kind,
    label_selector: str,
    handler: Handler,
    *,
    namespaces: list[str] | None = None,
    readiness: Readiness | None = None,
) -> None:
    """Run forever: keep ``handler`` told of every object matching the selector."""
    scopes: list[str | None] = list(namespaces) if namespaces else [None]
    ready = readiness or Readiness()
    await asyncio.gather(
        *(_reflect_one(client, kind, label_selector, handler, ns, readiness=ready) for ns in scopes)
    )


async def _reflect_one(
    client: AsyncKubeClient,
    kind: Kind,
    selector: str,
    handler: Handler,
    namespace: str | None,
    *,
    readiness: Readiness,
) -> None:
    known: dict[tuple[str, str], dict[str, Any]] = {}
    backoff = 1.0
    fact = f"{kind.plural} watch" + (f" in {namespace}" if namespace else "")
    readiness.require(fact, "not listed yet")
    while True:
        try:
            page = await client.request(
                "GET", kind.path(namespace), params={"labelSelector": selector}
            )
            version = page["metadata"]["resourceVersion"]
            current = {
                (o["metadata"]["namespace"], o["metadata"]["name"]): o
                for o in page.get("items", [])
            }
            for key, obj in known.items():
                if key not in current:
                    handler("DELETED", obj)
            for obj in current.values():
                handler("ADDED", obj)
            known = current
            backoff = 1.0
            readiness.hold(fact)
            while True:
                version = await _watch(
                    client,
                    kind,
                    selector,
                    handler,
                    namespace=namespace,
                    version=version,
                    known=known,
                )
        except _Gone:
            logger.info("%s watch expired; re-listing", kind.plural)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # network, API server restart: retry with backoff
            readiness.lose(fact, f"list/watch failed: {error}")
            logger.warning("%s watch failed (%s); retrying in %.0fs", kind.plural, error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)


class _Gone(Exception):
    pass


async def _watch(
    client: AsyncKubeClient,
    kind: Kind,
    selector: str,
    handler: Handler,
    *,
    namespace: str | None,
    version: str,
    known: dict[tuple[str, str], dict[str, Any]],
) -> str:
    params = {
        "labelSelector": selector,
        "watch": "1",
        "resourceVersion": version,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "300",
    }
    async for event in client.stream_lines(kind.path(namespace), params):
        obj = event.get("object") or {}
        kind_of = event.get("type")
        if kind_of == "ERROR":
            if obj.get("code") == 410:
                raise _Gone
            raise ApiError(
                int(obj.get("code", 500)), str(obj.get("reason")), str(obj.get("message"))
            )
        version = obj.get("metadata", {}).get("resourceVersion", version)
        if kind_of == "BOOKMARK":
            continue
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if kind_of == "DELETED":
            known.pop(key, None)
        else:
            known[key] = obj
        handler(str(kind_of), obj)
    return version
