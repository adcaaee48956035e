"""Kubernetes Events the operator records, with their reasons as constants.

Events are best effort: failing to record one is logged and never fails a reconcile.
Reconciles hand them to a ``Recorder``, which posts them in the background (as
client-go's event broadcaster does), so a burst of state changes never waits behind its
own Events and the writes that move runs forward go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from baton._kube.client import ApiError
from baton._kube.events import CORE_EVENTS
from baton._kube.events import build_event as _build_event
from baton._kube.gate import BACKGROUND

logger = logging.getLogger("baton.events")

COMPONENT = "baton-operator"

# Deployment
MISSED_RUNS = "MissedRuns"
INVALID_SCHEDULE = "InvalidSchedule"
INVALID_SPEC = "InvalidSpec"
# Flow (also the reason of its runs that fail because of it)
INVALID_PARAMETER_SCHEMA = "InvalidParameterSchema"
PARAMETER_SCHEMA_VALID = "ParameterSchemaValid"
# FlowRun (its JobCreated and AwaitingWorker reasons are the run contract's: baton.contract)
STATE_CHANGED = "StateChanged"
INVALID_PARAMETERS = "InvalidParameters"
CANCELLED = "Cancelled"


def build_event(
    metadata: dict[str, Any], kind: str, reason: str, message: str, *, warning: bool, now: datetime
) -> dict[str, Any]:
    """An Event from the operator (the shape lives in ``baton._kube.events``)."""
    return _build_event(
        metadata, kind, reason, message, warning=warning, now=now, component=COMPONENT
    )


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
        await client.create(CORE_EVENTS, event, metadata["namespace"], priority=BACKGROUND)
    except ApiError as error:
        logger.warning("could not record event %s on %s: %s", reason, metadata["name"], error)


class Recorder:
    """Posts Events off the reconcile path: a bounded queue and a few senders.

    When the queue is full (the API server is far behind), new Events are dropped and
    counted rather than held in memory without limit.
    """

    def __init__(self, client: Any, *, senders: int = 2, capacity: int = 5000) -> None:
        self._client = client
        self._senders = senders
        self._queue: asyncio.Queue[tuple[dict[str, Any], str, str, bool, str]] = asyncio.Queue(
            capacity
        )
        self.dropped = 0

    def record(
        self,
        metadata: dict[str, Any],
        reason: str,
        message: str,
        *,
        warning: bool = False,
        kind: str = "Deployment",
    ) -> None:
        try:
            self._queue.put_nowait((metadata, reason, message, warning, kind))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                logger.warning("event queue full: %d event(s) dropped so far", self.dropped)

    async def run(self) -> None:
        await asyncio.gather(*(self._send() for _ in range(self._senders)))

    async def _send(self) -> None:
        while True:
            metadata, reason, message, warning, kind = await self._queue.get()
            try:
                await post(self._client, metadata, reason, message, warning=warning, kind=kind)
            except Exception as error:  # an Event must never stop the sender
                logger.warning(
                    "could not record event %s on %s: %s", reason, metadata["name"], error
                )
            finally:
                self._queue.task_done()

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for queued Events to be posted (at shutdown)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):  # not wait_for: see queue.WorkQueue._loop
                await self._queue.join()
