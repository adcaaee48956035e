"""A flow whose task runs depend on each other: futures as inputs, and ``wait_for``."""

from __future__ import annotations

from baton import flow, task


@task(task_run_name="fetch-{part}")
def fetch(part: int) -> int:
    return part * part


@task(task_run_name="merge")
def merge(values: list[int]) -> int:
    return sum(values)


@task(task_run_name="publish")
def publish(total: int) -> str:
    return f"total {total}"


@task(task_run_name="audit")
def audit() -> str:
    return "audited"


@flow
def fan_in(parts: int = 3) -> str:
    fetched = [fetch.submit(i) for i in range(parts)]
    total = merge.submit(fetched)
    published = publish.submit(total)
    audit.submit(wait_for=[published]).wait()
    return published.result()
