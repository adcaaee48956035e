"""Kubernetes Events the operator records, with their reasons as constants.

Events are best effort: failing to record one is logged and never fails a reconcile.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from baton._kube.client import ApiError, Kind
from baton.resources._base import API_VERSION

logger = logging.getLogger("baton.events")

CORE_EVENTS = Kind("", "v1", "events")
COMPONENT = "baton-operator"

# Deployment
MISSED_RUNS = "MissedRuns"
INVALID_SCHEDULE = "InvalidSchedule"
INVALID_SPEC = "InvalidSpec"
# FlowRun
STATE_CHANGED = "StateChanged"
JOB_CREATED = "JobCreated"
INVALID_PARAMETERS = "InvalidParameters"
CANCELLED = "Cancelled"


def build_event(
    metadata: dict[str, Any], kind: str, reason: str, message: str, *, warning: bool, now: datetime
) -> dict[str, Any]:
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "generateName": f"{metadata['name'][:200]}.",
            "namespace": metadata["namespace"],
        },
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
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


async def post(
    client: Any,
    metadata: dict[str, Any],
    reason: str,
    message: str,
    *,
    warning: bool = False,
    kind: str = "Deployment",
) -> None:
    event = build_event(metadata, kind, reason, message, warning=warning, now=datetime.now(UTC))
    try:
        await client.create(CORE_EVENTS, event, metadata["namespace"])
    except ApiError as error:
        logger.warning("could not record event %s on %s: %s", reason, metadata["name"], error)
