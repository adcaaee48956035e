"""A small ETL flow: tasks, a retry, caching, and one artifact of each kind."""

from __future__ import annotations

import random
from datetime import timedelta

from baton import flow, get_run_logger, task
from baton.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from baton.tasks import task_input_hash

_attempts = {"load": 0}


@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
def extract(day: str) -> list[dict[str, object]]:
    rng = random.Random(day)
    return [{"order": i, "amount": rng.randint(1, 100)} for i in range(5)]


@task
def transform(rows: list[dict[str, object]], budget: int) -> list[dict[str, object]]:
    return [row for row in rows if int(str(row["amount"])) <= budget]


@task(retries=2, retry_delay_seconds=0)
def load(rows: list[dict[str, object]]) -> int:
    _attempts["load"] += 1
    if _attempts["load"] == 1:
        raise ConnectionError("warehouse busy, try again")
    return len(rows)


@flow(name="etl")
def etl(day: str = "2026-01-01", budget: int = 100) -> int:
    logger = get_run_logger()
    progress = create_progress_artifact(progress=0.0, description="rows processed")
    rows = extract(day)
    extract(day)  # the second call is a cache hit
    kept = transform(rows, budget)
    update_progress_artifact(progress, progress=50.0)
    loaded = load(kept)
    update_progress_artifact(progress, progress=100.0)
    create_table_artifact(kept, key="kept-orders", description="orders within budget")
    create_markdown_artifact(
        f"# ETL {day}\n\nLoaded **{loaded}** of {len(rows)} rows.", key="etl-report"
    )
    create_link_artifact("https://example.com/dashboards/etl", key="dashboard")
    logger.info("loaded %d rows", loaded)
    return loaded


if __name__ == "__main__":
    etl()
