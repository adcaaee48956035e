"""Retry delays: fixed, per-attempt lists, exponential backoff, jitter.

Delays are normalised once, when a task is defined (a callable such as
``exponential_backoff(10)`` is called with the retry count then, as Prefect
does), so a retry only indexes a list. Jitter uses an injectable random source
and the sleep goes through the engine clock, which keeps tests deterministic.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

__all__ = [
    "RetryDelay",
    "exponential_backoff",
    "jittered_delay",
    "normalize_retry_delays",
    "retry_delay_for",
]

MAX_RETRY_DELAYS = 50

RetryDelay = float | Sequence[float] | Callable[[int], Sequence[float]] | None


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    """Return a ``retry_delay_seconds`` callable doubling the delay on each retry.

    Args:
        backoff_factor: The first delay in seconds; retry ``n`` (from 0) waits
            ``backoff_factor * 2**n``.

    Returns:
        A callable that, given the number of retries, returns the list of delays.

    Example:
        >>> exponential_backoff(backoff_factor=10)(3)
        [10, 20, 40]
    """

    def retry_backoff_callable(retries: int) -> list[float]:
        retries = min(retries, MAX_RETRY_DELAYS)
        return [backoff_factor * 2**attempt for attempt in range(retries)]

    return retry_backoff_callable


def normalize_retry_delays(delay: RetryDelay, retries: int) -> float | list[float]:
    """Turn a ``retry_delay_seconds`` option into a number or a list of numbers.

    Raises:
        ValueError: A list longer than 50 delays, or a negative delay.
    """
    if delay is None:
        return 0
    if callable(delay):
        delay = delay(retries)
    if isinstance(delay, (int, float)):
        if delay < 0:
            raise ValueError("`retry_delay_seconds` must be >= 0.")
        return delay
    delays = list(delay)
    if len(delays) > MAX_RETRY_DELAYS:
        raise ValueError(f"Can not configure more than {MAX_RETRY_DELAYS} retry delays per task.")
    if any(d < 0 for d in delays):
        raise ValueError("`retry_delay_seconds` must be >= 0.")
    return delays


def retry_delay_for(delays: float | list[float], retry_index: int) -> float:
    """Return the base delay before retry ``retry_index`` (0 for the first retry).

    A list shorter than the number of retries repeats its last value.
    """
    if isinstance(delays, list):
        if not delays:
            return 0
        return delays[min(retry_index, len(delays) - 1)]
    return delays


def jittered_delay(
    delay: float, jitter_factor: float | None, rng: random.Random | None = None
) -> float:
    """Spread ``delay`` randomly so that many retries do not wake together.

    The result is uniform in ``[delay * (1 - j), delay * (1 + j)]`` (clamped at
    0), with ``j = jitter_factor``: the mean stays ``delay`` and, as in Prefect,
    it never exceeds ``delay * (1 + jitter_factor)``.
    """
    if not jitter_factor or delay <= 0:
        return delay
    low = max(0.0, delay * (1 - jitter_factor))
    return (rng or random).uniform(low, delay * (1 + jitter_factor))
