"""The tutorial's flow for the UI tier: tasks, a markdown and a table artifact, a result."""

from __future__ import annotations

import time
from typing import Literal

from baton import flow, task
from baton.artifacts import create_markdown_artifact, create_table_artifact


@task
def forecast(city: str, day: int) -> float:
    if city == "Atlantis":
        raise ValueError(f"no forecast for {city}")
    return 18.0 + day + len(city) / 10


@task
def report(city: str, temperatures: list[float], unit: str) -> str:
    rows = [{"day": i + 1, "temperature": t, "unit": unit} for i, t in enumerate(temperatures)]
    create_table_artifact(rows, key="forecast-table", description="Daily forecast")
    create_markdown_artifact(
        f"# Forecast for {city}\n\nWarmest day: **{max(temperatures):.1f} {unit}**",
        key="forecast-report",
    )
    return f"{city}: {len(temperatures)} days"


@flow
def weather(city: str, days: int = 3, unit: Literal["C", "F"] = "C", pause: float = 2.0) -> str:
    """Forecast the weather of a city.

    Args:
        city: Where.
        days: How many days ahead.
        unit: Celsius or Fahrenheit.
        pause: Seconds to stay Running (so the page can be seen moving).
    """
    time.sleep(pause)
    temperatures = [forecast(city, day) for day in range(days)]
    return report(city, temperatures, unit)
