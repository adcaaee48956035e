"""A flow that raises: its traceback tail must reach the FlowRun status."""

from __future__ import annotations

from baton import flow, task


@task
def divide(a: int, b: int) -> float:
    return a / b


@flow
def fails(b: int = 0) -> float:
    return divide(1, b)
