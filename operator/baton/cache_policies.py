"""Cache policies: what makes two task runs "the same" so the second can reuse the first.

A policy turns a task run into a cache key (or ``None``: do not cache). Policies
combine with ``+`` (the key then depends on all of them) and ``INPUTS - "name"``
ignores an argument, as in ``prefect.cache_policies``:

    @task(cache_policy=INPUTS + TASK_SOURCE, cache_expiration=timedelta(days=1))
    def fetch(url: str) -> bytes: ...

``DEFAULT`` (inputs + source + flow run id) is what a task gets when it sets no
policy, but, as in Prefect, it only takes effect when the task persists results
(``persist_result=True``); an explicit ``cache_policy`` or ``cache_key_fn``
turns persistence on.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from baton._engine.hashing import hash_objects

if TYPE_CHECKING:
    from baton._engine.context import TaskRunContext

__all__ = [
    "DEFAULT",
    "FLOW_PARAMETERS",
    "INPUTS",
    "NO_CACHE",
    "RUN_ID",
    "TASK_SOURCE",
    "CacheKeyFnPolicy",
    "CachePolicy",
    "CompoundCachePolicy",
    "FlowParameters",
    "Inputs",
    "RunId",
    "TaskSource",
]


class CachePolicy:
    """Base class: computes a cache key for a task run."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        """Return the cache key for a task run, or ``None`` to not cache it.

        Args:
            task_ctx: The task run's context (``task_ctx.task``, ``task_ctx.task_run``).
            inputs: The task run's resolved arguments.
            flow_parameters: The parameters of the enclosing flow run (``{}`` outside).
            **kwargs: Reserved for future use.
        """
        raise NotImplementedError

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if not isinstance(other, CachePolicy):
            return NotImplemented
        mine = self.policies if isinstance(self, CompoundCachePolicy) else (self,)
        theirs = other.policies if isinstance(other, CompoundCachePolicy) else (other,)
        return CompoundCachePolicy(policies=(*mine, *theirs))

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Can only subtract strings from cache policies.")
        return self + Inputs(exclude=(other,))


@dataclass(frozen=True)
class CacheKeyFnPolicy(CachePolicy):
    """Wraps a Prefect-style ``cache_key_fn(context, parameters) -> str | None``."""

    cache_key_fn: Callable[[Any, dict[str, Any]], str | None]

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        """Return ``cache_key_fn(task_ctx, inputs)``."""
        return self.cache_key_fn(task_ctx, inputs)


@dataclass(frozen=True)
class CompoundCachePolicy(CachePolicy):
    """Several policies at once: the key hashes every non-``None`` component key."""

    policies: tuple[CachePolicy, ...] = ()

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        """Hash the component keys; ``None`` when every component gives ``None``."""
        keys = [
            policy.compute_key(task_ctx, inputs, flow_parameters, **kwargs)
            for policy in self.policies
        ]
        present = [key for key in keys if key is not None]
        return hash_objects(*present, raise_on_failure=True) if present else None

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Can only subtract strings from cache policies.")
        if not any(isinstance(policy, Inputs) for policy in self.policies):
            return self + Inputs(exclude=(other,))
        return CompoundCachePolicy(
            policies=tuple(p - other if isinstance(p, Inputs) else p for p in self.policies)
        )


@dataclass(frozen=True)
class _None(CachePolicy):
    """Never cache."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        """Return ``None``."""
        return None

    def __add__(self, other: CachePolicy) -> CachePolicy:
        return other


@dataclass(frozen=True)
class TaskSource(CachePolicy):
    """The task function's source code: editing the task invalidates its cache."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        """Hash the task function's source (its bytecode when no source is available)."""
        return _source_hash(task_ctx.task.fn)


_source_hashes: dict[Callable[..., Any], str | None] = {}


def _source_hash(fn: Callable[..., Any]) -> str | None:
    # Source does not change while the process runs: read and hash it once per function.
    if fn not in _source_hashes:
        try:
            source: str = inspect.getsource(fn)
        except (OSError, TypeError):
            code = getattr(fn, "__code__", None)
            source = code.co_code.hex() if code is not None else repr(fn)
        _source_hashes[fn] = hash_objects(source)
    return _source_hashes[fn]


@dataclass(frozen=True)
class FlowParameters(CachePolicy):
    """The enclosing flow run's parameters."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        """Hash the flow run's parameters (``None`` when there are none)."""
        if not flow_parameters:
            return None
        return hash_objects(flow_parameters, raise_on_failure=True)


@dataclass(frozen=True)
class RunId(CachePolicy):
    """The flow run's id (the task run's outside a flow): cache within one run only."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        """Return the run id as a string."""
        run = task_ctx.task_run
        return str(run.flow_run_id or run.id)


@dataclass(frozen=True)
class Inputs(CachePolicy):
    """The task run's arguments, except those named in ``exclude``."""

    exclude: tuple[str, ...] = field(default=())

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        """Hash the arguments.

        Raises:
            ValueError: An argument can be neither JSON- nor pickle-serialised.
        """
        kept = {key: value for key, value in inputs.items() if key not in self.exclude}
        return hash_objects(kept, raise_on_failure=True)

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Can only subtract strings from cache policies.")
        return Inputs(exclude=(*self.exclude, other))


INPUTS = Inputs()
TASK_SOURCE = TaskSource()
FLOW_PARAMETERS = FlowParameters()
RUN_ID = RunId()
NO_CACHE = _None()
DEFAULT = INPUTS + TASK_SOURCE + RUN_ID
