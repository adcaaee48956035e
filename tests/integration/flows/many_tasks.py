"""10,000 task runs, one failing and handled: the status must stay small."""

from __future__ import annotations

from baton import flow, task


@task
def square(x: int) -> int:
    if x == 4321:
        raise ValueError("4321 is unlucky")
    return x * x


@flow
def many(n: int = 10_000) -> int:
    total = 0
    for i in range(n):
        state = square(i, return_state=True)
        if state.is_completed():
            total += state.result()
    return total
