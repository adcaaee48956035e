"""Caching: key functions, policies, expiry, refresh, persistence and the store seam."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sdk_testkit import FakeClock, ListHandler

from baton import flow, task
from baton._engine.cache_store import (
    CacheRecord,
    FileSystemCacheStore,
    get_cache_store,
    set_cache_store,
)
from baton.cache_policies import (
    DEFAULT,
    FLOW_PARAMETERS,
    INPUTS,
    NO_CACHE,
    RUN_ID,
    TASK_SOURCE,
    CompoundCachePolicy,
    Inputs,
)
from baton.tasks import task_input_hash

pytestmark = pytest.mark.unit


def counting(name: str = "work") -> tuple[Any, list[Any]]:
    calls: list[Any] = []

    def fn(x: int, noise: str = "") -> int:
        calls.append(x)
        return x * 10

    fn.__name__ = fn.__qualname__ = name
    return fn, calls


def test_cache_key_fn_hit_returns_stored_value_as_cached() -> None:
    fn, calls = counting()
    cached = task(cache_key_fn=task_input_hash)(fn)
    first = cached(1, return_state=True)
    second = cached(1, return_state=True)
    assert (first.name, second.name) == ("Completed", "Cached")
    assert second.is_completed() and second.result() == 10
    assert str(second) == "Cached(type=COMPLETED)"
    assert calls == [1]
    assert cached(2) == 20 and calls == [1, 2]


def test_cache_persists_across_flow_runs_on_disk(tmp_path: Path) -> None:
    fn, calls = counting()
    cached = task(cache_policy=INPUTS)(fn)

    @flow
    def f(x: int) -> int:
        return cached(x)

    assert f(3) == 30 and f(3) == 30
    assert calls == [3]
    assert len(list((tmp_path / "cache").glob("*.cache"))) == 1


def test_expiration_uses_the_engine_clock(clock: FakeClock) -> None:
    fn, calls = counting()
    cached = task(cache_key_fn=lambda ctx, params: "fixed", cache_expiration=timedelta(hours=1))(fn)
    cached(1)
    clock.advance(minutes=59)
    assert cached(1, return_state=True).name == "Cached"
    clock.advance(minutes=2)
    assert cached(1, return_state=True).name == "Completed"
    assert calls == [1, 1]


def test_refresh_cache_recomputes_and_overwrites() -> None:
    fn, calls = counting()
    cached = task(cache_policy=INPUTS)(fn)
    cached(1)
    assert cached.with_options(refresh_cache=True)(1, return_state=True).name == "Completed"
    assert cached(1, return_state=True).name == "Cached"
    assert calls == [1, 1]


def test_inputs_policy_can_ignore_an_argument() -> None:
    fn, calls = counting()
    cached = task(cache_policy=INPUTS - "noise")(fn)
    cached(1, noise="a")
    assert cached(1, noise="b", return_state=True).name == "Cached"
    assert calls == [1]


def test_task_source_policy_ignores_inputs_but_not_code() -> None:
    fn, calls = counting("same")
    by_source = task(cache_policy=TASK_SOURCE)(fn)
    by_source(1)
    assert by_source(2) == 10  # same source: the first result is reused, inputs ignored
    other_calls: list[int] = []

    def different(x: int, noise: str = "") -> int:
        other_calls.append(x)
        return -x

    assert task(cache_policy=TASK_SOURCE)(different)(2) == -2
    assert calls == [1] and other_calls == [2]


def test_flow_parameters_policy() -> None:
    fn, calls = counting()
    cached = task(cache_policy=FLOW_PARAMETERS)(fn)
    inputs = iter([1, 2, 3])

    @flow
    def f(day: str) -> int:
        return cached(next(inputs))

    assert f("mon") == 10
    assert f("mon") == 10  # task input 2 is ignored: same flow parameters
    assert f("tue") == 30
    assert calls == [1, 3]


def test_default_policy_does_not_cache_without_persistence() -> None:
    fn, calls = counting()
    plain = task(fn)
    assert plain.cache_policy == DEFAULT and not plain.caching_enabled
    plain(1)
    plain(1)
    assert calls == [1, 1]
    persisted = task(persist_result=True)(fn)
    assert persisted.caching_enabled

    @flow
    def f() -> None:
        persisted(1)
        persisted(1)

    f()
    f()
    assert calls == [1, 1, 1, 1]  # DEFAULT includes the run id: once per flow run


def test_no_cache_and_persist_false_disable_caching() -> None:
    fn, calls = counting()
    for off in (
        task(cache_policy=NO_CACHE)(fn),
        task(cache_key_fn=task_input_hash, persist_result=False)(fn),
    ):
        off(1)
        off(1)
    assert calls == [1, 1, 1, 1]


def test_policies_combine() -> None:
    combined = INPUTS + TASK_SOURCE + FLOW_PARAMETERS
    assert isinstance(combined, CompoundCachePolicy)
    assert combined.policies == (INPUTS, TASK_SOURCE, FLOW_PARAMETERS)
    assert NO_CACHE + INPUTS == INPUTS
    assert DEFAULT.policies == (INPUTS, TASK_SOURCE, RUN_ID)  # type: ignore[attr-defined]
    assert (DEFAULT - "x").policies[0] == Inputs(exclude=("x",))  # type: ignore[attr-defined]


def test_unhashable_inputs_warn_and_run_uncached(logs: ListHandler) -> None:
    class Unpicklable:
        def __reduce__(self) -> Any:
            raise TypeError("nope")

    calls: list[int] = []

    @task(cache_policy=INPUTS)
    def takes(obj: Any) -> int:
        calls.append(1)
        return 1

    assert takes(Unpicklable()) == 1 and takes(Unpicklable()) == 1
    assert calls == [1, 1]
    assert any("will not be cached" in m for m in logs.messages)


def test_unpicklable_result_completes_without_caching(logs: ListHandler) -> None:
    @task(cache_policy=INPUTS)
    def returns_lambda(x: int) -> Any:
        return lambda: x

    state = returns_lambda(1, return_state=True)
    assert state.is_completed() and state.result()() == 1
    assert any("could not be cached" in m for m in logs.messages)


def test_json_serializer() -> None:
    fn, calls = counting()
    cached = task(cache_policy=INPUTS, result_serializer="json")(fn)
    cached(4)
    assert cached(4) == 40 and calls == [4]
    with pytest.raises(ValueError, match="result_serializer"):
        task(result_serializer="yaml")(fn)  # type: ignore[arg-type]


class MemoryStore:
    def __init__(self) -> None:
        self.records: dict[str, CacheRecord] = {}

    def get(self, key: str, *, now: datetime) -> CacheRecord | None:
        record = self.records.get(key)
        return None if record is None or record.is_expired(now) else record

    def put(self, record: CacheRecord) -> None:
        self.records[record.key] = record


def test_engine_uses_the_installed_store(tmp_path: Path) -> None:
    store = MemoryStore()
    set_cache_store(store)
    assert get_cache_store() is store
    fn, _ = counting()
    cached = task(cache_key_fn=lambda ctx, params: f"k-{params['x']}")(fn)
    cached(5)
    assert list(store.records) == ["k-5"]
    assert cached(5, return_state=True).name == "Cached"
    assert not (tmp_path / "cache").exists()


def test_filesystem_store_round_trip_expiry_and_corruption(tmp_path: Path) -> None:
    store = FileSystemCacheStore(tmp_path / "fs")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    store.put(CacheRecord("a/b:c", b"\x00payload\n", "pickle", now, now + timedelta(seconds=5)))
    got = store.get("a/b:c", now=now)
    assert got is not None and got.payload == b"\x00payload\n" and got.serializer == "pickle"
    assert store.get("a/b:c", now=now + timedelta(seconds=5)) is None
    assert store.get("missing", now=now) is None
    for path in (tmp_path / "fs").iterdir():
        path.write_bytes(b"not a header")
    assert store.get("a/b:c", now=now) is None
