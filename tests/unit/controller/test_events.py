"""The Event recorder: posts in the background, in order of recording, and never blocks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from baton._kube.client import ApiError, Kind
from baton._kube.gate import BACKGROUND
from baton.controller.events import Recorder

pytestmark = pytest.mark.unit

META = {"name": "r1", "namespace": "ns", "uid": "u"}


class SlowClient:
    """Stands in for the API client: each create takes a while; some are refused."""

    def __init__(self, refuse: str = "") -> None:
        self.created: list[dict[str, Any]] = []
        self.refuse = refuse

    async def create(
        self, kind: Kind, body: dict[str, Any], namespace: str, *, priority: int
    ) -> dict[str, Any]:
        assert priority == BACKGROUND  # Events never go ahead of work
        await asyncio.sleep(0.01)
        if body["reason"] == self.refuse:
            raise ApiError(403, "Forbidden", "no")
        self.created.append(body)
        return body


def test_record_returns_at_once_and_drain_posts_everything() -> None:
    async def scenario() -> list[str]:
        client = SlowClient(refuse="Refused")
        recorder = Recorder(client, senders=1)
        sender = asyncio.create_task(recorder.run())
        for reason in ("A", "Refused", "B", "C"):
            recorder.record(META, reason, "m", kind="FlowRun")
        assert client.created == []  # nothing was posted inline
        await recorder.drain(timeout=2)
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        return [e["reason"] for e in client.created]

    assert asyncio.run(scenario()) == ["A", "B", "C"]


def test_a_full_queue_drops_and_counts() -> None:
    async def scenario() -> tuple[int, int]:
        client = SlowClient()
        recorder = Recorder(client, capacity=3)
        for i in range(5):
            recorder.record(META, f"R{i}", "m")
        sender = asyncio.create_task(recorder.run())
        await recorder.drain(timeout=2)
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        return len(client.created), recorder.dropped

    assert asyncio.run(scenario()) == (3, 2)
