"""The body of a core/v1 Event about a Baton resource: one home for the operator and the runtime.

The operator records Events on the resources it reconciles (``controller/events.py``);
the in-pod runtime records the events a flow emits (``reporting.py``). Both write the
same shape, so ``kubectl describe`` and anything watching Events see one format.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from baton._kube.client import Kind
from baton.contract import API_VERSION, format_time

__all__ = ["CORE_EVENTS", "build_event"]

CORE_EVENTS = Kind("", "v1", "events")


def build_event(
    metadata: dict[str, Any],
    kind: str,
    reason: str,
    message: str,
    *,
    warning: bool,
    now: datetime,
    component: str,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An Event about the object with ``metadata`` (name, namespace, uid) of ``kind``."""
    stamp = format_time(now)
    event_metadata: dict[str, Any] = {
        "generateName": f"{metadata['name'][:200]}.",
        "namespace": metadata["namespace"],
    }
    if annotations:
        event_metadata["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": event_metadata,
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": kind,
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion"),
        },
        "reason": reason,
        "message": message[:1024],
        "type": "Warning" if warning else "Normal",
        "source": {"component": component},
        "reportingComponent": component,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
