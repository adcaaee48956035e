"""User code the SDK's decorators must type exactly (checked by test_sdk_typing.py, never run)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, assert_type

from baton import flow, task
from baton.futures import BatonFuture, BatonFutureList
from baton.states import State


@task
def add(x: int, y: int) -> int:
    return x + y


@task(retries=2)
async def fetch(url: str) -> bytes:
    return url.encode()


@flow
async def pipeline(url: str) -> int:
    body = await fetch(url)
    assert_type(body, bytes)
    state = await fetch(url, return_state=True)
    assert_type(state, State[bytes])
    assert_type(fetch.submit(url), BatonFuture[bytes])
    assert_type(fetch.map([url]), BatonFutureList[bytes])
    assert_type(add(1, 2), int)
    assert_type(add(1, 2, return_state=True), State[int])
    assert_type(add.submit(1, 2), BatonFuture[int])
    return len(body)


@flow(retries=1)
def sync_pipeline() -> int:
    return add(1, 2)


coroutine = pipeline("x")
_ = assert_type(coroutine, Coroutine[Any, Any, int])
coroutine.close()
assert_type(asyncio.run(pipeline("x")), int)
assert_type(sync_pipeline(), int)
assert_type(sync_pipeline(return_state=True), State[int])
