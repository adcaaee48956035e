"""Test doubles for the SDK unit tests: a fake clock, a log collector, a recording observer."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from baton._engine.run_logger import RunFormatter
from baton.states import State


class FakeClock:
    """A clock whose sleeps return at once and advance its time."""

    def __init__(self) -> None:
        self.current = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.current += timedelta(seconds=seconds)

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.setFormatter(RunFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def lines(self) -> list[str]:
        return [self.format(record) for record in self.records]

    @property
    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@dataclass
class RecordingObserver:
    """A RunObserver that keeps every call."""

    flow_states: list[State[Any]] = field(default_factory=list)
    task_states: list[tuple[UUID, str, State[Any], datetime | None, datetime | None]] = field(
        default_factory=list
    )
    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    records: list[logging.LogRecord] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    upstream: dict[UUID, list[UUID]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def flow_run_state(self, state: State[Any]) -> None:
        with self.lock:
            self.flow_states.append(state)

    def task_run_state(
        self,
        task_run_id: UUID,
        task_name: str,
        state: State[Any],
        started: datetime | None,
        ended: datetime | None,
    ) -> None:
        with self.lock:
            self.task_states.append((task_run_id, task_name, state, started, ended))

    def artifact_created(self, artifact: dict[str, Any]) -> None:
        self.created.append(artifact)

    def artifact_updated(self, artifact: dict[str, Any]) -> None:
        self.updated.append(artifact)

    def log(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def event_emitted(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def task_run_upstream(self, task_run_id: UUID, upstream: list[UUID]) -> None:
        with self.lock:
            self.upstream[task_run_id] = list(upstream)

    def task_state_names(self, task_name_prefix: str) -> list[str]:
        return [
            s.name for _, name, s, _, _ in self.task_states if name.startswith(task_name_prefix)
        ]
