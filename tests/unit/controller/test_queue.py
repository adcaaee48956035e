"""The work queue: marks coalesce, wake-ups fire on time, ``soon`` never postpones.

No test sleeps a while and then counts: each drives the queue until a positive event
(the reconcile it waits for, or a witness key woken after the moment in question) and
counts then, with a bound that only a broken queue reaches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from baton._kube.client import ApiError
from baton.controller.queue import WorkQueue, utcnow

pytestmark = pytest.mark.unit

SHORT = timedelta(milliseconds=50)


WITNESS = "witness"


class Recorder:
    """A reconcile that records when it ran and returns a scripted next wake-up."""

    def __init__(self, again: timedelta | None = None) -> None:
        self.calls: list[tuple[str, datetime]] = []
        self.done = 0
        self.again = again

    async def __call__(self, key: str) -> datetime | None:
        self.calls.append((key, utcnow()))
        await asyncio.sleep(0.01)
        self.done += 1
        return utcnow() + self.again if self.again is not None else None

    def count(self, key: str = "d") -> int:
        return sum(1 for k, _ in self.calls if k == key)


async def drive_until(
    queue: WorkQueue[str], until: Callable[[], bool], timeout: float = 5.0
) -> None:
    """Run the queue until ``until()``; fail after ``timeout`` s."""
    task = asyncio.create_task(queue.run())
    try:
        async with asyncio.timeout(timeout):
            while not until():
                await asyncio.sleep(0.005)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def witness(queue: WorkQueue[str], after: timedelta) -> None:
    """A key due ``after`` from now: once it has run, everything due before has too."""
    queue.wake_at(WITNESS, utcnow() + after)


def test_a_burst_of_soon_requests_is_one_reconcile() -> None:
    async def scenario() -> int:
        reconcile = Recorder()
        queue = WorkQueue(reconcile, name="t")
        for _ in range(100):
            queue.soon("d", SHORT)
        witness(queue, 4 * SHORT)
        await drive_until(queue, lambda: reconcile.count(WITNESS) == 1)
        return reconcile.count()

    assert asyncio.run(scenario()) == 1


def test_soon_does_not_postpone_an_earlier_wake_up() -> None:
    async def scenario() -> float:
        reconcile = Recorder()
        queue = WorkQueue(reconcile, name="t")
        start = utcnow()
        queue.wake_at("d", start + SHORT)
        queue.soon("d", timedelta(seconds=5))
        await drive_until(queue, lambda: reconcile.count() == 1)
        return (reconcile.calls[0][1] - start).total_seconds()

    assert asyncio.run(scenario()) < 0.25


def test_soon_brings_a_later_wake_up_forward() -> None:
    async def scenario() -> int:
        reconcile = Recorder()
        queue = WorkQueue(reconcile, name="t")
        queue.wake_at("d", utcnow() + timedelta(seconds=60))
        queue.soon("d", SHORT)
        await drive_until(queue, lambda: reconcile.count() == 1)  # not 60 s later
        return reconcile.count()

    assert asyncio.run(scenario()) == 1


def test_a_wake_up_requested_during_a_reconcile_survives_its_later_answer() -> None:
    """The reconcile says "in a minute"; an event during it asked for sooner: sooner wins."""

    async def scenario() -> int:
        queue: WorkQueue[str]

        async def reconcile(key: str) -> datetime:
            calls.append(utcnow())
            if len(calls) == 1:
                queue.soon(key, SHORT)
            await asyncio.sleep(0.01)
            return utcnow() + timedelta(seconds=60)

        calls: list[datetime] = []
        queue = WorkQueue(reconcile, name="t")
        queue.mark("d")
        await drive_until(queue, lambda: len(calls) == 2)  # soon, not in 60 s
        return len(calls)

    assert asyncio.run(scenario()) == 2


def test_a_reconcile_supersedes_the_wake_up_it_was_due_to_replace() -> None:
    """A mark runs the key now; the stale wake-up from before must not run it again."""

    async def scenario() -> int:
        reconcile = Recorder()
        queue = WorkQueue(reconcile, name="t")
        queue.wake_at("d", utcnow() + timedelta(milliseconds=150))
        queue.mark("d")
        witness(queue, timedelta(milliseconds=300))
        await drive_until(queue, lambda: reconcile.count(WITNESS) == 1)
        return reconcile.count()

    assert asyncio.run(scenario()) == 1


def test_marks_of_a_busy_key_run_it_once_more_afterwards() -> None:
    async def scenario() -> int:
        calls: list[str] = []

        async def reconcile(key: str) -> None:
            calls.append(key)
            if key == "d" and calls.count("d") == 1:
                for _ in range(10):
                    queue.mark(key)
            if key == "d" and calls.count("d") == 2:
                witness(queue, SHORT)  # any third run would be due before it
            await asyncio.sleep(0.02)

        queue: WorkQueue[str] = WorkQueue(reconcile, name="t")
        queue.mark("d")
        await drive_until(queue, lambda: WITNESS in calls)
        return calls.count("d")

    assert asyncio.run(scenario()) == 2


def test_queue_latency_depth_and_reconcile_time_are_exported() -> None:
    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(name, {"queue": "metered"}) or 0.0

    async def scenario() -> None:
        reconcile = Recorder()
        queue = WorkQueue(reconcile, name="metered", concurrency=1)
        for key in ("a", "b", "c"):
            queue.mark(key)
        queue.mark("a")  # coalesced: three keys, three reconciles
        witness(queue, timedelta(milliseconds=100))
        await drive_until(queue, lambda: reconcile.done == 4)
        assert [k for k, _ in reconcile.calls] == ["a", "b", "c", WITNESS]

    before = sample("baton_work_queue_latency_seconds_count")
    asyncio.run(scenario())
    assert sample("baton_work_queue_latency_seconds_count") - before == 4
    assert sample("baton_work_queue_reconcile_duration_seconds_count") >= 4
    # The reconciles each slept 10 ms; the last key waited for the two before it.
    assert sample("baton_work_queue_latency_seconds_sum") >= 0.015
    assert sample("baton_work_queue_depth") == 0


@pytest.mark.parametrize(
    ("error", "traceback"),
    [
        (ApiError(503, "ServiceUnavailable", "not all known HTTP paths installed"), False),
        (ApiError(429, "TooManyRequests", "storage is (re)initializing"), False),
        (ValueError("a bug"), True),
    ],
)
def test_an_outage_is_one_line_and_a_bug_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture, error: Exception, traceback: bool
) -> None:
    async def scenario() -> None:
        async def reconcile(key: str) -> None:
            raise error

        queue: WorkQueue[str] = WorkQueue(reconcile, name="t")
        queue.mark("d")
        await drive_until(queue, lambda: bool(caplog.records))

    with caplog.at_level(logging.WARNING, logger="baton.queue"):
        asyncio.run(scenario())
    (record,) = caplog.records
    assert (record.exc_info is not None) is traceback
    assert "retrying" in record.getMessage()


def test_a_cancel_that_meets_a_wake_up_still_stops_the_queue() -> None:
    """Cancelling ``run()`` while a mark wakes it must end it (the operator's stop).

    Python 3.11's ``asyncio.wait_for`` loses a cancellation that arrives after the awaited
    result but before the waiter resumed; the queue then looped on and SIGTERM hit the
    operator's 10 s deadline in a burst (tests/faults/test_shutdown.py, mid-burst).
    """

    async def scenario() -> int:
        async def reconcile(key: str) -> None:
            return None

        stuck = 0
        for attempt in range(20):
            queue: WorkQueue[str] = WorkQueue(reconcile, name="t")
            # A wake-up pending later, as a busy operator always has: the queue sleeps
            # with a timeout, the path where the cancellation was lost.
            queue.wake_at("later", utcnow() + timedelta(hours=1))
            task = asyncio.create_task(queue.run())
            await asyncio.sleep(0.001)  # the queue sleeps, waiting for a key
            queue.mark(f"k{attempt}")
            for _ in range(attempt % 5):  # the cancel 0-4 loop passes after the mark
                await asyncio.sleep(0)
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=0.5)
            if not done:
                stuck += 1
                task.cancel()  # asleep now, with nothing else due: this one lands
                await asyncio.gather(task, return_exceptions=True)
        return stuck

    assert asyncio.run(scenario()) == 0
