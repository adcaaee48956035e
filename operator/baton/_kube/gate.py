"""A priority gate for API requests: a few in flight, the most urgent admitted first.

The operator's writes are not equal. At a fire time across thousands of Deployments the
FlowRun creations are what the skew is measured on; the Jobs that start those runs come
next; status summaries and Events can wait a second. Requests name a priority (lower
is sooner), and a freed slot goes to the most urgent waiter, first come first served
within one priority.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

#: FlowRun creation by the scheduler: what the scheduling skew measures.
URGENT = 0
#: Moving admitted runs forward: Jobs, run status, reads.
NORMAL = 1
#: Summaries derived from other objects: Deployment and WorkPool status.
REPORT = 2
#: Narration: Kubernetes Events.
BACKGROUND = 3


class PriorityGate:
    """At most ``slots`` holders at once; waiters leave by (priority, arrival)."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("a gate needs at least one slot")
        self._free = slots
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = 0

    @asynccontextmanager
    async def slot(self, priority: int = NORMAL) -> AsyncIterator[None]:
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: int) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._arrivals += 1
        heapq.heappush(self._waiters, (priority, self._arrivals, future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # the slot was handed over just as we were cancelled
            raise

    def _release(self) -> None:
        """Hand the slot to the most urgent live waiter, or free it."""
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():  # cancelled waiters are skipped here
                future.set_result(None)
                return
        self._free += 1
