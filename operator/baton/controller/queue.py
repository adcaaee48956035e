"""A work queue of object keys: reconcile now (dirty) or at a given time (wake-ups).

Both controllers are level-based: an event or a timer only says *which* object to look
at; the reconcile function reads the current state and decides. This queue coalesces
repeated marks of one key, runs at most ``concurrency`` reconciles at once, never runs
two reconciles of the same key at the same time, and sleeps exactly until the earliest
wake-up — no polling interval. Its depth, the latency from a key becoming due to its
reconcile, and each reconcile's duration are exported (``metrics``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from baton._kube.client import transient
from baton.controller import metrics

K = TypeVar("K", bound=Hashable)

logger = logging.getLogger("baton.queue")


def utcnow() -> datetime:
    return datetime.now(UTC)


class WorkQueue(Generic[K]):
    """Keys to reconcile, now or later; ``run()`` drives ``reconcile(key)``."""

    def __init__(
        self,
        reconcile: Callable[[K], Awaitable[datetime | None]],
        *,
        name: str,
        clock: Callable[[], datetime] = utcnow,
        concurrency: int = 64,
        retry_delay: timedelta = timedelta(seconds=5),
    ) -> None:
        self._reconcile = reconcile
        self._name = name
        self._clock = clock
        self._concurrency = concurrency
        self._retry_delay = retry_delay
        self._dirty: dict[K, None] = {}  # insertion-ordered set
        self._heap: list[tuple[datetime, int, K]] = []
        self._wake_at: dict[K, datetime] = {}
        self._busy: set[K] = set()
        self._wake = asyncio.Event()
        self._counter = 0
        # When each dirty key became due (monotonic), for the queue-latency histogram.
        self._due_since: dict[K, float] = {}
        self._depth = metrics.QUEUE_DEPTH.labels(name)
        self._latency = metrics.QUEUE_LATENCY.labels(name)
        self._duration = metrics.RECONCILE_DURATION.labels(name)

    def mark(self, key: K) -> None:
        """Reconcile ``key`` as soon as possible."""
        self._dirty[key] = None
        self._due_since.setdefault(key, time.monotonic())
        self._wake.set()

    def wake_at(self, key: K, at: datetime | None) -> None:
        """Reconcile ``key`` at ``at`` (replacing any earlier request); None cancels."""
        if at is None:
            self._wake_at.pop(key, None)
            return
        self._wake_at[key] = at
        self._counter += 1
        heapq.heappush(self._heap, (at, self._counter, key))
        self._wake.set()

    def soon(self, key: K, within: timedelta) -> None:
        """Reconcile ``key`` within ``within``, coalescing a burst of events into one pass.

        Never postpones an earlier wake-up or a pending mark.
        """
        at = self._clock() + within
        pending = self._wake_at.get(key)
        if key in self._dirty or (pending is not None and pending <= at):
            return
        self.wake_at(key, at)

    def forget(self, key: K) -> None:
        self._dirty.pop(key, None)
        self._due_since.pop(key, None)
        self._wake_at.pop(key, None)

    def _collect_due(self) -> None:
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            at, _, key = heapq.heappop(self._heap)
            if self._wake_at.get(key) == at:
                del self._wake_at[key]
                self._dirty[key] = None
                self._due_since.setdefault(key, time.monotonic())

    def _next_timeout(self) -> float | None:
        while self._heap and self._wake_at.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)  # superseded wake-up
        if not self._heap:
            return None
        return max(0.0, (self._heap[0][0] - self._clock()).total_seconds())

    async def _one(self, key: K) -> None:
        started = time.monotonic()
        try:
            again = await self._reconcile(key)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # One bad object must never stop the others: log it and retry it later. An
            # outage is expected weather, one line; anything else is a bug, with its stack.
            if transient(error):
                logger.warning("%s: reconciling %s met %s; retrying", self._name, key, error)
            else:
                logger.exception("%s: reconciling %s failed; retrying", self._name, key)
            again = self._clock() + self._retry_delay
        finally:
            self._duration.observe(time.monotonic() - started)
            self._busy.discard(key)
            self._wake.set()
        # A wake-up requested while this reconcile ran (``soon``) stays if it is earlier.
        pending = self._wake_at.get(key)
        if again is not None and (pending is None or again < pending):
            self.wake_at(key, again)

    def _finished(self, tasks: set[asyncio.Task[None]], task: asyncio.Task[None]) -> None:
        # The slot is free only now, after ``_one`` returned: wake the loop again, or a
        # queue at its concurrency limit would sleep until the next mark.
        tasks.discard(task)
        self._wake.set()

    async def run(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        try:
            await self._loop(tasks)
        finally:
            # Stopping the queue stops its reconciles too: none may outlive the client.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, tasks: set[asyncio.Task[None]]) -> None:
        while True:
            self._wake.clear()
            self._collect_due()
            ready = [k for k in self._dirty if k not in self._busy]
            room = self._concurrency - len(tasks)
            for key in ready[: max(0, room)]:
                del self._dirty[key]
                self._latency.observe(time.monotonic() - self._due_since.pop(key, time.monotonic()))
                # This pass decides the next wake-up; an older one is superseded.
                self._wake_at.pop(key, None)
                self._busy.add(key)
                task = asyncio.create_task(self._one(key))
                tasks.add(task)
                task.add_done_callback(functools.partial(self._finished, tasks))
            self._depth.set(len(self._dirty))
            if (
                self._dirty
                and len(tasks) < self._concurrency
                and any(k not in self._busy for k in self._dirty)
            ):
                continue
            # asyncio.timeout, not wait_for: 3.11's wait_for drops a cancellation that
            # lands as the wake-up completes, and the stopped queue looped on.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._next_timeout()):
                    await self._wake.wait()
