"""Flows the tenant-attack tests run as ``baton execute`` processes (and plant around)."""

from __future__ import annotations

from typing import Any

from baton import flow, task
from baton.tasks import task_input_hash


@task(cache_key_fn=task_input_hash)
def lookup(day: str) -> dict[str, Any]:
    """A plain JSON value: cached as JSON even without an integrity key."""
    return {"day": day, "rows": 3}


@task(cache_key_fn=task_input_hash)
def pair(day: str) -> tuple[str, int]:
    """Not JSON (a tuple): cached only as a pickle, so only with an integrity key."""
    return (day, 3)


@flow
def victim(day: str = "2026-01-01") -> int:
    return int(lookup(day)["rows"])


@flow
def pickled_victim(day: str = "2026-01-01") -> int:
    return pair(day)[1]
