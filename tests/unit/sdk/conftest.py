"""Fixtures for the SDK unit tests: a fake clock, a private cache dir, log and observer capture."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sdk_testkit import FakeClock, ListHandler, RecordingObserver

from baton._engine.cache_store import set_cache_store
from baton._engine.clock import use_clock
from baton._engine.run_logger import configure_logging


@pytest.fixture(autouse=True)
def clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    """Every test gets a fake clock and an empty cache directory."""
    monkeypatch.setenv("BATON_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BATON_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    previous = set_cache_store(None)
    fake = FakeClock()
    with use_clock(fake):
        yield fake
    set_cache_store(previous)


@pytest.fixture
def logs() -> Iterator[ListHandler]:
    """Records of everything the ``baton`` loggers emit during the test."""
    configure_logging()
    handler = ListHandler()
    logger = logging.getLogger("baton")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()
