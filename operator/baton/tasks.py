"""Task definitions: the ``@task`` decorator and ``Task[P, R]``, as in ``prefect.tasks``.

A ``Task`` describes a unit of work and how to run it (retries, timeout,
caching, hooks); running it is the engine's job (``baton._engine.task_engine``).
Everything that depends only on the definition (signature, task key, retry
delays, cache settings) is computed here, once, so a call does no more than bind
its arguments and hand them to the engine.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar, cast, overload

from baton._engine.annotations import BaseAnnotation, allow_failure, quote, unmapped
from baton._engine.callables import CallSpec, hook_list, render_run_name, takes_parameters
from baton._engine.context import FlowRunContext
from baton._engine.hashing import hash_objects
from baton._engine.retries import RetryDelay, exponential_backoff, normalize_retry_delays
from baton._engine.task_engine import run_task, run_task_async
from baton.cache_policies import DEFAULT, NO_CACHE, CacheKeyFnPolicy, CachePolicy
from baton.exceptions import MappingLengthMismatch, MappingMissingIterable
from baton.futures import BatonFuture, BatonFutureList

if TYPE_CHECKING:
    from baton._engine.cache_store import Serializer
    from baton._engine.context import TaskRun, TaskRunContext
    from baton.states import State
    from baton.transactions import Transaction

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

__all__ = ["Task", "exponential_backoff", "task", "task_input_hash"]

TaskHook = Callable[["Task[..., Any]", "TaskRun", "State[Any]"], object]
RetryConditionFn = Callable[["Task[..., Any]", "TaskRun", "State[Any]"], bool]
TransactionHook = Callable[["Transaction"], object]
_NOT_SET: Any = object()
# Prefect options accepted so Prefect code runs, with no effect here (docs/sdk.md).
_ACCEPTED_PREFECT_OPTIONS = frozenset({"asset_deps"})


def task_input_hash(context: TaskRunContext, arguments: dict[str, Any]) -> str | None:
    """A ``cache_key_fn`` hashing the task's identity, its code and its arguments.

    Args:
        context: The task run context.
        arguments: The task run's arguments.

    Returns:
        The key, or ``None`` when the arguments cannot be serialised.
    """
    return hash_objects(context.task.task_key, context.task.fn.__code__.co_code.hex(), arguments)


def _task_key(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    digest = hash_objects(code.co_code.hex() if code is not None else repr(fn)) or ""
    return f"{getattr(fn, '__qualname__', type(fn).__name__)}-{digest[:8]}"


def _require_flow_run(method: str) -> FlowRunContext:
    ctx = FlowRunContext.get()
    if ctx is None:
        raise RuntimeError(
            f"Unable to determine task runner to use for `{method}`: tasks can only be "
            "submitted or mapped inside a flow run. Call the task directly instead."
        )
    return ctx


def _is_iterable(value: object) -> bool:
    if isinstance(value, (str, bytes)):
        return False
    try:
        iter(value)  # type: ignore[call-overload]
    except TypeError:
        return False
    return True


class Task(Generic[P, R]):
    """A function whose calls are tracked, retried, cached and logged as task runs.

    Create tasks with ``@task``; the options are documented there.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        version: str | None = None,
        cache_policy: CachePolicy | None = _NOT_SET,
        cache_key_fn: Callable[[TaskRunContext, dict[str, Any]], str | None] | None = None,
        cache_expiration: timedelta | None = None,
        task_run_name: str | Callable[..., str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: RetryDelay = None,
        retry_jitter_factor: float | None = None,
        persist_result: bool | None = None,
        result_storage: Any = None,
        result_serializer: Serializer | None = None,
        result_storage_key: str | None = None,
        cache_result_in_memory: bool = True,
        timeout_seconds: float | None = None,
        log_prints: bool | None = None,
        refresh_cache: bool | None = None,
        on_completion: TaskHook | Iterable[TaskHook] | None = None,
        on_failure: TaskHook | Iterable[TaskHook] | None = None,
        on_running: TaskHook | Iterable[TaskHook] | None = None,
        on_commit: TransactionHook | Iterable[TransactionHook] | None = None,
        on_rollback: TransactionHook | Iterable[TransactionHook] | None = None,
        retry_condition_fn: RetryConditionFn | None = None,
        viz_return_value: Any = None,
        **unsupported: Any,
    ) -> None:
        given = dict(locals())
        if not callable(fn):
            raise TypeError("'fn' must be callable")
        unknown = set(unsupported) - _ACCEPTED_PREFECT_OPTIONS
        if unknown:
            raise TypeError(f"Unknown task option(s): {', '.join(sorted(unknown))}")
        self._options = {k: v for k, v in given.items() if k not in ("self", "fn", "unsupported")}
        self._options.update(unsupported)
        self.fn = fn
        if inspect.isasyncgenfunction(fn):
            raise TypeError(
                f"{fn!r} is an async generator; Baton's tasks cannot be async generators "
                "(docs/compatibility.md)."
            )
        self.isasync = inspect.iscoroutinefunction(fn)
        self.name: str = name or str(getattr(fn, "__name__", type(fn).__name__))
        self.description = description or inspect.getdoc(fn)
        self.version = version
        self.tags: frozenset[str] = frozenset(tags or ())
        self.task_key = _task_key(fn)
        self._spec = CallSpec(fn)
        self.task_run_name = task_run_name
        self._run_name_takes_parameters = takes_parameters(task_run_name)

        self.retries = retries or 0
        self.retry_delay_seconds = normalize_retry_delays(retry_delay_seconds, self.retries)
        if retry_jitter_factor is not None and retry_jitter_factor < 0:
            raise ValueError("`retry_jitter_factor` must be >= 0.")
        self.retry_jitter_factor = retry_jitter_factor
        self.retry_condition_fn = retry_condition_fn
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError("`timeout_seconds` must be > 0.")
        self.timeout_seconds = float(timeout_seconds) if timeout_seconds else None
        self.log_prints = log_prints

        self._configure_caching(
            cache_policy=cache_policy,
            cache_key_fn=cache_key_fn,
            cache_expiration=cache_expiration,
            refresh_cache=refresh_cache,
            persist_result=persist_result,
            result_serializer=result_serializer,
            result_storage_key=result_storage_key,
        )
        self.result_storage = result_storage
        self.cache_result_in_memory = cache_result_in_memory
        self.on_completion_hooks: list[TaskHook] = hook_list(on_completion)
        self.on_failure_hooks: list[TaskHook] = hook_list(on_failure)
        self.on_running_hooks: list[TaskHook] = hook_list(on_running)
        self.on_commit_hooks: list[TransactionHook] = hook_list(on_commit)
        self.on_rollback_hooks: list[TransactionHook] = hook_list(on_rollback)
        self.viz_return_value = viz_return_value
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = self.name
        self.__wrapped__ = fn

    def _configure_caching(
        self,
        *,
        cache_policy: CachePolicy | None,
        cache_key_fn: Callable[[TaskRunContext, dict[str, Any]], str | None] | None,
        cache_expiration: timedelta | None,
        refresh_cache: bool | None,
        persist_result: bool | None,
        result_serializer: Serializer | None,
        result_storage_key: str | None,
    ) -> None:
        # Prefect's defaults: an explicit policy or key function turns result
        # persistence on, and caching only happens when results persist.
        if result_serializer not in (None, "pickle", "json"):
            raise ValueError("`result_serializer` must be 'pickle' or 'json'.")
        self.result_serializer: Serializer = result_serializer or "pickle"
        self.cache_key_fn = cache_key_fn
        if cache_key_fn is not None:
            cache_policy = CacheKeyFnPolicy(cache_key_fn)
        explicit = cache_policy is not _NOT_SET and cache_policy not in (None, NO_CACHE)
        if persist_result is None and (explicit or result_serializer or result_storage_key):
            persist_result = True
        if persist_result is False:
            cache_policy = None if cache_policy is None else NO_CACHE
        elif cache_policy is _NOT_SET:
            cache_policy = DEFAULT
        self.cache_policy: CachePolicy | None = cache_policy
        self.persist_result = persist_result
        self.cache_expiration = cache_expiration
        self.refresh_cache = bool(refresh_cache)
        self.caching_enabled = bool(persist_result) and cache_policy not in (None, NO_CACHE)
        self.result_storage_key = result_storage_key

    # -- calling -------------------------------------------------------------

    def call_arguments(self, parameters: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Turn bound parameters back into ``(args, kwargs)`` for the function."""
        return self._spec.call_arguments(parameters)

    def render_run_name(self, parameters: dict[str, Any]) -> str:
        """Return the custom task run name for ``parameters`` (``task_run_name``)."""
        assert self.task_run_name is not None
        return render_run_name(
            self.task_run_name, parameters, self._run_name_takes_parameters, "task_run_name"
        )

    @overload
    def __call__(
        self: Task[P, Coroutine[Any, Any, T]],
        *args: Any,
        return_state: Literal[True],
        **kwargs: Any,
    ) -> Coroutine[Any, Any, State[T]]: ...

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    @overload
    def __call__(self, *args: Any, return_state: Literal[True], **kwargs: Any) -> State[R]: ...

    @overload
    def __call__(self, *args: Any, return_state: Literal[False], **kwargs: Any) -> R: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task inline and return its result.

        ``return_state=True`` returns the final ``State`` instead (and does not
        raise on failure); ``wait_for=[...]`` waits for other futures first. An
        ``async def`` task returns a coroutine: ``await`` it (inside an async flow,
        or anywhere with an event loop).
        """
        return_state = kwargs.pop("return_state", False)
        wait_for = kwargs.pop("wait_for", None)
        parameters = self._spec.bind(args, kwargs)
        if self.isasync:
            return self._call_async(parameters, wait_for, return_state)
        state = run_task(self, parameters, wait_for)
        return state if return_state else state._result()

    async def _call_async(
        self, parameters: dict[str, Any], wait_for: Iterable[Any] | None, return_state: bool
    ) -> Any:
        state = await run_task_async(self, parameters, wait_for)
        return state if return_state else state._result()

    @overload
    def submit(  # type: ignore[overload-overlap]
        self: Task[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> BatonFuture[T]: ...

    @overload
    def submit(self, *args: P.args, **kwargs: P.kwargs) -> BatonFuture[R]: ...

    @overload
    def submit(self, *args: Any, return_state: Literal[True], **kwargs: Any) -> State[R]: ...

    @overload
    def submit(self, *args: Any, return_state: Literal[False], **kwargs: Any) -> BatonFuture[R]: ...

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task on the flow's task runner; return a future at once.

        Futures passed as arguments are resolved on the runner before the body
        runs. ``wait_for=[...]`` adds dependencies that pass no data. An ``async
        def`` task runs on an event loop of its own on the runner's thread (as in
        Prefect); its future is the same ``BatonFuture``, read with ``.result()``.

        Raises:
            RuntimeError: Called outside a flow run.
        """
        return_state = kwargs.pop("return_state", False)
        wait_for = kwargs.pop("wait_for", None)
        ctx = _require_flow_run("submit")
        future: BatonFuture[R] = ctx.task_runner.submit(
            self, self._spec.bind(args, kwargs), wait_for, ctx
        )
        if return_state:
            future.wait()
            return future.state
        return future

    @overload
    def map(
        self: Task[P, Coroutine[Any, Any, T]],
        *args: Any,
        return_state: bool = False,
        wait_for: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> BatonFutureList[T]: ...

    @overload
    def map(
        self,
        *args: Any,
        return_state: bool = False,
        wait_for: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> BatonFutureList[R]: ...

    def map(
        self,
        *args: Any,
        return_state: bool = False,
        wait_for: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> BatonFutureList[Any]:
        """Submit one task run per element of the iterable arguments.

        Iterable arguments (not ``str``/``bytes``) are zipped; wrap an iterable
        in ``unmapped(...)`` to pass it whole to every run. A future argument is
        waited for and its result mapped over.

        Raises:
            MappingMissingIterable: No argument is iterable.
            MappingLengthMismatch: Iterable arguments differ in length.
            RuntimeError: Called outside a flow run.
        """
        ctx = _require_flow_run("map")
        given = self._spec.signature.bind_partial(*args, **kwargs).arguments
        iterables: dict[str, list[Any]] = {}
        static: dict[str, Any] = {}
        wrappers: dict[str, type[BaseAnnotation[Any]]] = {}
        for key, value in given.items():
            inner = value
            if isinstance(value, (allow_failure, quote)):
                wrappers[key], inner = type(value), value.value
            if isinstance(inner, BatonFuture):
                inner = inner.result()
            if isinstance(inner, unmapped):
                static[key] = inner.value
            elif _is_iterable(inner):
                iterables[key] = list(inner)
            else:
                static[key] = value
        if not iterables:
            raise MappingMissingIterable(
                "No iterable parameters were received. Parameters for map must include "
                f"at least one iterable. Parameters: {given}"
            )
        lengths = {key: len(values) for key, values in iterables.items()}
        if len(set(lengths.values())) > 1:
            raise MappingLengthMismatch(
                "Received iterable parameters with different lengths. Parameters for map "
                f"must all be the same length. Got lengths: {lengths}"
            )
        futures: BatonFutureList[Any] = BatonFutureList()
        for index in range(next(iter(lengths.values()))):
            call = dict(static)
            for key, values in iterables.items():
                item = values[index]
                call[key] = wrappers[key](item) if key in wrappers else item
            futures.append(
                ctx.task_runner.submit(self, self._spec.bind_ordered(call), wait_for, ctx)
            )
        if return_state:
            futures.wait()
            return cast("BatonFutureList[Any]", [future.state for future in futures])
        return futures

    # -- configuration -------------------------------------------------------

    def with_options(self, **options: Any) -> Task[P, R]:
        """Return a copy of the task with some options changed.

        Accepts the keyword options of ``@task``.

        Raises:
            TypeError: An unknown option.
        """
        unknown = set(options) - set(self._options)
        if unknown:
            raise TypeError(f"Unknown task option(s): {', '.join(sorted(unknown))}")
        if "cache_key_fn" in options and "cache_policy" not in options:
            options["cache_policy"] = _NOT_SET
        return Task(self.fn, **{**self._options, **options})

    def on_completion(self, fn: TaskHook) -> TaskHook:
        """Decorator adding a hook run when a task run completes."""
        self.on_completion_hooks.append(fn)
        return fn

    def on_failure(self, fn: TaskHook) -> TaskHook:
        """Decorator adding a hook run when a task run fails."""
        self.on_failure_hooks.append(fn)
        return fn

    def on_running(self, fn: TaskHook) -> TaskHook:
        """Decorator adding a hook run when each attempt of a task run starts."""
        self.on_running_hooks.append(fn)
        return fn

    def on_commit(self, fn: TransactionHook) -> TransactionHook:
        """Decorator adding a hook ``fn(txn)`` run when the run's transaction commits."""
        self.on_commit_hooks.append(fn)
        return fn

    def on_rollback(self, fn: TransactionHook) -> TransactionHook:
        """Decorator adding a hook ``fn(txn)`` run when the run's transaction rolls back."""
        self.on_rollback_hooks.append(fn)
        return fn

    def __repr__(self) -> str:
        return f"Task(name={self.name!r}, fn={self.fn!r})"


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    tags: Iterable[str] | None = None,
    version: str | None = None,
    cache_policy: CachePolicy | None = ...,
    cache_key_fn: Callable[[TaskRunContext, dict[str, Any]], str | None] | None = None,
    cache_expiration: timedelta | None = None,
    task_run_name: str | Callable[..., str] | None = None,
    retries: int | None = None,
    retry_delay_seconds: RetryDelay = None,
    retry_jitter_factor: float | None = None,
    persist_result: bool | None = None,
    result_storage: Any = None,
    result_serializer: Serializer | None = None,
    result_storage_key: str | None = None,
    cache_result_in_memory: bool = True,
    timeout_seconds: float | None = None,
    log_prints: bool | None = None,
    refresh_cache: bool | None = None,
    on_completion: TaskHook | Iterable[TaskHook] | None = None,
    on_failure: TaskHook | Iterable[TaskHook] | None = None,
    on_running: TaskHook | Iterable[TaskHook] | None = None,
    on_commit: TransactionHook | Iterable[TransactionHook] | None = None,
    on_rollback: TransactionHook | Iterable[TransactionHook] | None = None,
    retry_condition_fn: RetryConditionFn | None = None,
    viz_return_value: Any = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Turn a function into a task; use as ``@task`` or ``@task(...)``.

    Args:
        fn: The function (when used as ``@task`` without parentheses).
        **options: ``name`` (default: the function's name), ``description``,
            ``tags``, ``version``; ``retries``, ``retry_delay_seconds`` (a
            number, a list per retry, or a callable such as
            ``exponential_backoff(10)``), ``retry_jitter_factor``,
            ``retry_condition_fn(task, task_run, state) -> bool``;
            ``timeout_seconds``; ``cache_policy``, ``cache_key_fn(context,
            parameters)``, ``cache_expiration`` (a ``timedelta``),
            ``refresh_cache``, ``persist_result``, ``result_serializer``
            (``"pickle"`` or ``"json"``); ``task_run_name`` (a format string
            over the parameters, or a callable); ``log_prints``;
            ``on_completion``/``on_failure``/``on_running`` hooks ``(task,
            task_run, state)``, each plain or ``async def``.

    Returns:
        A ``Task`` (or a decorator producing one).

    Example:
        >>> @task(retries=3, retry_delay_seconds=exponential_backoff(10))
        ... def fetch(url: str) -> str: ...
    """
    if fn is None:
        return lambda function: Task(function, **options)
    return Task(fn, **options)
