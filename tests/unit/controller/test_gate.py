"""The API request gate: bounded in flight, most urgent first, cancellation-safe."""

from __future__ import annotations

import asyncio

import pytest

from baton._kube.gate import BACKGROUND, NORMAL, REPORT, URGENT, PriorityGate

pytestmark = pytest.mark.unit


def test_a_freed_slot_goes_to_the_most_urgent_waiter_then_in_arrival_order() -> None:
    async def scenario() -> list[str]:
        gate = PriorityGate(1)
        order: list[str] = []
        release = asyncio.Event()

        async def holder() -> None:
            async with gate.slot(NORMAL):
                await release.wait()

        async def request(name: str, priority: int) -> None:
            async with gate.slot(priority):
                order.append(name)
                await asyncio.sleep(0)

        first = asyncio.create_task(holder())
        await asyncio.sleep(0)
        waiters = [
            asyncio.create_task(request(name, priority))
            for name, priority in [
                ("event", BACKGROUND),
                ("status-1", REPORT),
                ("job", NORMAL),
                ("create-1", URGENT),
                ("status-2", REPORT),
                ("create-2", URGENT),
            ]
        ]
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, *waiters)
        return order

    assert asyncio.run(scenario()) == [
        "create-1",
        "create-2",
        "job",
        "status-1",
        "status-2",
        "event",
    ]


def test_never_more_than_the_slots_in_flight_and_cancelled_waiters_free_nothing() -> None:
    async def scenario() -> tuple[int, int]:
        gate = PriorityGate(3)
        in_flight = peak = 0

        async def request() -> None:
            nonlocal in_flight, peak
            async with gate.slot():
                in_flight += 1
                peak = max(peak, in_flight)
                await asyncio.sleep(0.01)
                in_flight -= 1

        tasks = [asyncio.create_task(request()) for _ in range(30)]
        await asyncio.sleep(0)
        for task in tasks[10:20]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # After everything, all three slots are free again: three more run at once.
        more = [asyncio.create_task(request()) for _ in range(3)]
        peak = 0
        await asyncio.gather(*more)
        return sum(1 for t in tasks if t.cancelled()), peak

    assert asyncio.run(scenario()) == (10, 3)


def test_a_gate_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        PriorityGate(0)
