"""The one clock the engine reads and sleeps on, so tests can replace it.

Retry delays and cache expiry go through ``get_clock()``; tests install a fake
clock with ``use_clock()`` and assert on requested sleeps instead of waiting.
The clock is process-global (not a context variable) because task runs execute
on worker threads that must see the same clock as the flow.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock", "get_clock", "use_clock"]


class Clock(Protocol):
    """Source of the current time and of waiting."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """Return ``datetime.now(UTC)``."""
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """Sleep with ``time.sleep``."""
        if seconds > 0:
            time.sleep(seconds)


_clock: Clock = SystemClock()


def get_clock() -> Clock:
    """Return the clock the engine currently uses."""
    return _clock


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Use ``clock`` for the duration of the ``with`` block (for tests)."""
    global _clock  # noqa: PLW0603 - one deliberate process-wide seam
    previous, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = previous
