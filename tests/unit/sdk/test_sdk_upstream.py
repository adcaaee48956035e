"""Each task run's upstream task runs, as the engine tells the observer (the graph's edges)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from sdk_testkit import RecordingObserver

from baton import allow_failure, flow, quote, task
from baton._engine.flow_engine import run_flow

pytestmark = pytest.mark.unit


@task
def source(n: int) -> int:
    return n


@task
def combine(*values: Any, **named: Any) -> int:
    return 0


def _by_name(observer: RecordingObserver) -> dict[UUID, str]:
    """Task run names by id, in the order their runs were first reported (created)."""
    return {uid: name for uid, name, _, _, _ in observer.task_states}


def test_futures_states_and_wait_for_are_upstream_in_order_once(
    observer: RecordingObserver,
) -> None:
    @flow
    def f() -> None:
        a = source.submit(1)
        b = source.submit(2)
        c = source(3, return_state=True)
        d = source.submit(4)
        combine.submit([a, {"k": (b, a)}], c, other=allow_failure(b), wait_for=[d, a]).wait()

    run_flow(f, {}, observer=observer)
    names = _by_name(observer)
    (downstream,) = [uid for uid, name in names.items() if name.startswith("combine")]
    a, b, c, d = (uid for uid, n in names.items() if n.startswith("source"))
    # Inputs first, in the order they appear, each once; then wait_for's new ones.
    assert observer.upstream[downstream] == [a, b, c, d]
    assert all(uid not in observer.upstream for uid in (a, b, c, d))


def test_plain_values_and_quoted_futures_are_no_edges(observer: RecordingObserver) -> None:
    @flow
    def f() -> None:
        a = source.submit(1)
        a.wait()
        combine.submit(a.result(), quote(a)).wait()

    run_flow(f, {}, observer=observer)
    assert observer.upstream == {}
