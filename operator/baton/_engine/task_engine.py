"""Running one task run: inputs, cache, attempts, retries, timeout, hooks, final state.

``run_task`` is the inline path (``my_task(x)``); the task runner calls
``create_task_run`` + ``report_pending`` when a run is submitted and
``run_task_run`` on a pool thread. An ``async def`` task runs the same state
machine with its body, hooks and retry delays awaited (``run_task_async``,
``_TaskRunEngine.run_async``): one engine, two drivers, as Prefect's sync and
async engines share one base. The hot path is kept short on purpose: one
context variable set, three states, one log line; caching, timeouts and print
capture cost nothing unless the task asks for them.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from baton._engine.cache_store import (
    CacheRecord,
    deserialize,
    get_cache_store,
    serialize,
    storable_serializer,
)
from baton._engine.clock import get_clock
from baton._engine.context import FlowRunContext, TaskRun, TaskRunContext, current_tags
from baton._engine.coroutines import run_coro_sync, sleep_async
from baton._engine.inputs import resolve_inputs, upstream_task_runs, wait_for_upstream
from baton._engine.observer import RunObserver, current_observer, notify
from baton._engine.outcomes import exception_to_failed_state, return_value_to_state
from baton._engine.retries import jittered_delay, retry_delay_for
from baton._engine.run_logger import configure_logging, patch_print, task_run_logger
from baton._engine.timeouts import call_with_timeout
from baton.exceptions import TaskRunTimeoutError, UpstreamTaskError
from baton.states import (
    AwaitingRetry,
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Pending,
    Retrying,
    Running,
    State,
    StateType,
)
from baton.transactions import Transaction, get_transaction

if TYPE_CHECKING:
    from baton.tasks import Task

__all__ = [
    "create_task_run",
    "record_state",
    "report_pending",
    "run_hook",
    "run_hook_async",
    "run_task",
    "run_task_async",
    "run_task_run",
    "run_task_run_async",
]


def create_task_run(
    task: Task[..., Any], parameters: dict[str, Any], flow_ctx: FlowRunContext | None
) -> TaskRun:
    """Return a new task run record for calling ``task`` with ``parameters``."""
    run_id = uuid4()
    task_run = TaskRun(
        id=run_id,
        name=f"{task.name}-{run_id.hex[:3]}",
        task_name=task.name,
        task_key=task.task_key,
        flow_run_id=flow_ctx.flow_run.id if flow_ctx else None,
        parameters=parameters,
        tags=task.tags | current_tags(),
    )
    if task.task_run_name is not None:
        # A callable name may read baton.runtime.task_run: give it the run's context.
        ctx = TaskRunContext(task, task_run, parameters, flow_ctx, current_observer())
        token = TaskRunContext._var.set(ctx)
        try:
            task_run.name = task.render_run_name(parameters)
        finally:
            TaskRunContext._var.reset(token)
    return task_run


def record_state(task_run: TaskRun, state: State[Any], observer: RunObserver | None) -> None:
    """Make ``state`` the task run's state and tell the observer."""
    details = state.state_details
    details.task_run_id = task_run.id
    details.flow_run_id = task_run.flow_run_id
    task_run.state = state
    if state.type is StateType.RUNNING and task_run.start_time is None:
        task_run.start_time = state.timestamp
    elif state.is_final():
        task_run.end_time = state.timestamp
    if observer is not None:
        notify(
            observer,
            "task_run_state",
            task_run.id,
            task_run.name,
            state,
            task_run.start_time,
            task_run.end_time,
        )


def report_pending(task_run: TaskRun, flow_ctx: FlowRunContext | None) -> None:
    """Record the initial ``Pending`` state of a new task run."""
    record_state(task_run, Pending(), flow_ctx.observer if flow_ctx else current_observer())


def run_task(
    task: Task[..., Any], parameters: dict[str, Any], wait_for: Iterable[Any] | None = None
) -> State[Any]:
    """Run ``task`` inline in the calling thread and return its final state."""
    flow_ctx = FlowRunContext.get()
    task_run = create_task_run(task, parameters, flow_ctx)
    report_pending(task_run, flow_ctx)
    return run_task_run(task, task_run, parameters, wait_for, flow_ctx)


async def run_task_async(
    task: Task[..., Any], parameters: dict[str, Any], wait_for: Iterable[Any] | None = None
) -> State[Any]:
    """Run an ``async def`` task on the running event loop; return its final state.

    The run is created when the coroutine starts, so it belongs to the flow run
    awaiting it (as in Prefect, where calling an async task only makes a coroutine).
    """
    flow_ctx = FlowRunContext.get()
    task_run = create_task_run(task, parameters, flow_ctx)
    report_pending(task_run, flow_ctx)
    return await run_task_run_async(task, task_run, parameters, wait_for, flow_ctx)


def run_task_run(
    task: Task[..., Any],
    task_run: TaskRun,
    parameters: dict[str, Any],
    wait_for: Iterable[Any] | None,
    flow_ctx: FlowRunContext | None,
) -> State[Any]:
    """Execute a task run that has been created and reported ``Pending``.

    An async task's run gets an event loop of its own here (the task runner's
    threads run submitted async tasks this way, as Prefect's do).
    """
    if task.isasync:
        return run_coro_sync(run_task_run_async(task, task_run, parameters, wait_for, flow_ctx))
    ctx = _task_run_context(task, task_run, parameters, flow_ctx)
    token = TaskRunContext._var.set(ctx)
    try:
        return _TaskRunEngine(ctx).run(wait_for)
    finally:
        TaskRunContext._var.reset(token)


async def run_task_run_async(
    task: Task[..., Any],
    task_run: TaskRun,
    parameters: dict[str, Any],
    wait_for: Iterable[Any] | None,
    flow_ctx: FlowRunContext | None,
) -> State[Any]:
    """``run_task_run`` for an ``async def`` task, on the running event loop."""
    ctx = _task_run_context(task, task_run, parameters, flow_ctx)
    token = TaskRunContext._var.set(ctx)
    try:
        return await _TaskRunEngine(ctx).run_async(wait_for)
    finally:
        TaskRunContext._var.reset(token)


def _task_run_context(
    task: Task[..., Any],
    task_run: TaskRun,
    parameters: dict[str, Any],
    flow_ctx: FlowRunContext | None,
) -> TaskRunContext:
    configure_logging()
    parent = TaskRunContext.get()
    log_prints = task.log_prints
    if log_prints is None:
        log_prints = parent.log_prints if parent else bool(flow_ctx and flow_ctx.log_prints)
    return TaskRunContext(
        task=task,
        task_run=task_run,
        parameters=parameters,
        flow_run_context=flow_ctx,
        observer=flow_ctx.observer if flow_ctx else current_observer(),
        log_prints=log_prints,
    )


class _TaskRunEngine:
    __slots__ = ("ctx", "logger", "task", "task_run")

    def __init__(self, ctx: TaskRunContext) -> None:
        self.ctx = ctx
        self.task = ctx.task
        self.task_run = ctx.task_run
        self.logger = task_run_logger(ctx)

    def set_state(self, state: State[Any]) -> None:
        record_state(self.task_run, state, self.ctx.observer)

    def run(self, wait_for: Iterable[Any] | None) -> State[Any]:
        early = self._prepare(wait_for)
        if early is not None:
            return early
        cache_key = self._cache_key()
        state = self._cached_state(cache_key) if cache_key else None
        if state is None:
            try:
                state = self._attempts(cache_key)
            except BaseException as exc:  # interpreter exit, KeyboardInterrupt
                self._crash(exc)
                raise
        self.set_state(state)
        self._transact(state)
        for hook in self._hooks_for(state):  # as in Prefect, before the final line
            run_hook(self.logger, hook, state, self.task, self.task_run)
        self._log_final(state)
        return state

    async def run_async(self, wait_for: Iterable[Any] | None) -> State[Any]:
        """``run`` for an ``async def`` task: the body, hooks and delays are awaited."""
        early = self._prepare(wait_for)
        if early is not None:
            return early
        cache_key = self._cache_key()
        state = self._cached_state(cache_key) if cache_key else None
        if state is None:
            try:
                state = await self._attempts_async(cache_key)
            except BaseException as exc:  # cancelled, KeyboardInterrupt
                self._crash(exc)
                raise
        self.set_state(state)
        self._transact(state)
        for hook in self._hooks_for(state):
            await run_hook_async(self.logger, hook, state, self.task, self.task_run)
        self._log_final(state)
        return state

    def _prepare(self, wait_for: Iterable[Any] | None) -> State[Any] | None:
        """Resolve the inputs; return the final state if the run must not start."""
        flow_ctx = self.ctx.flow_run_context
        if flow_ctx is not None and flow_ctx.abandoned.is_set():
            state = Cancelled(message="The flow run timed out before this task run started.")
            self.set_state(state)
            return state
        upstream = upstream_task_runs(self.ctx.parameters, wait_for)
        if upstream:
            notify(self.ctx.observer, "task_run_upstream", self.task_run.id, upstream)
        try:
            if wait_for:
                wait_for_upstream(wait_for)
            self.ctx.parameters = self.task_run.parameters = resolve_inputs(self.ctx.parameters)
        except UpstreamTaskError as exc:
            state = Pending(name="NotReady", message=str(exc))
            self.set_state(state)
            self.logger.error("Finished in state %s", state)
            return state
        return None

    def _transact(self, state: State[Any]) -> None:
        """A completed run joins the open transaction (or commits at once: on_commit)."""
        task = self.task
        if state.type is not StateType.COMPLETED or (
            not task.on_commit_hooks and get_transaction() is None
        ):
            return
        txn = Transaction(logger=self.logger)
        txn.__enter__()
        txn.stage(
            state.data,
            on_rollback_hooks=list(task.on_rollback_hooks),
            on_commit_hooks=list(task.on_commit_hooks),
        )
        txn.__exit__(None, None, None)

    def _roll_back_enclosing(self) -> None:
        # As in Prefect, a task run that fails inside a transaction rolls it back, before
        # its failure is logged (the transaction is the innermost scope of its attempt).
        enclosing = get_transaction()
        if enclosing is not None:
            enclosing.rollback()

    def _crash(self, exc: BaseException) -> None:
        self.set_state(Crashed(message=f"Execution was interrupted: {exc!r}", data=exc))

    def _log_final(self, state: State[Any]) -> None:
        level = logging.INFO if state.type is StateType.COMPLETED else logging.ERROR
        self.logger.log(level, "Finished in state %s", state)

    def _start_attempt(self) -> State[Any]:
        run = self.task_run
        run.run_count += 1
        running = Running() if run.run_count == 1 else Retrying()
        self.set_state(running)
        return running

    def _attempts(self, cache_key: str | None) -> State[Any]:
        task = self.task
        while True:
            running = self._start_attempt()
            for hook in task.on_running_hooks:
                run_hook(self.logger, hook, running, task, self.task_run)
            try:
                result = self._call()
            except Exception as exc:
                outcome = self._failure(exc)
                if isinstance(outcome, State):
                    return outcome
                get_clock().sleep(outcome)
                continue
            return self._success(result, cache_key)

    async def _attempts_async(self, cache_key: str | None) -> State[Any]:
        task = self.task
        while True:
            running = self._start_attempt()
            for hook in task.on_running_hooks:
                await run_hook_async(self.logger, hook, running, task, self.task_run)
            try:
                result = await self._call_async()
            except Exception as exc:
                outcome = self._failure(exc)
                if isinstance(outcome, State):
                    return outcome
                await sleep_async(outcome)
                continue
            return self._success(result, cache_key)

    def _success(self, result: Any, cache_key: str | None) -> State[Any]:
        state = return_value_to_state(result)
        if cache_key is not None and state.type is StateType.COMPLETED:
            self._store(cache_key, state)
        return state

    def _failure(self, exc: Exception) -> State[Any] | float:
        """The final state of an attempt that raised, or the delay before the next one."""
        delay = self._retry_delay(exc)
        if delay is not None:
            return delay
        if isinstance(exc, TaskRunTimeoutError):
            message = f"Task run exceeded timeout of {self.task.timeout_seconds} second(s)"
            self.logger.error(message)
            return Failed(data=exc, message=message, name="TimedOut")
        return exception_to_failed_state(exc, "Task run encountered an exception")

    def _call(self) -> Any:
        task, log_prints = self.task, self.ctx.log_prints
        args, kwargs = task.call_arguments(self.ctx.parameters)

        def body() -> Any:
            if log_prints:
                with patch_print():
                    return task.fn(*args, **kwargs)
            return task.fn(*args, **kwargs)

        if task.timeout_seconds is None:
            return body()
        return call_with_timeout(
            body,
            task.timeout_seconds,
            lambda: TaskRunTimeoutError(f"Scope timed out after {task.timeout_seconds} second(s)."),
            thread_name=f"baton-task-{self.task_run.name}",
        )

    async def _call_async(self) -> Any:
        import asyncio  # noqa: PLC0415 - loaded already (a coroutine runs); sync runs never load it

        task = self.task
        args, kwargs = task.call_arguments(self.ctx.parameters)
        with patch_print() if self.ctx.log_prints else contextlib.nullcontext():
            if task.timeout_seconds is None:
                return await task.fn(*args, **kwargs)
            # Unlike a thread, a coroutine can be stopped: the body is cancelled.
            scope = asyncio.timeout(task.timeout_seconds)
            try:
                async with scope:
                    return await task.fn(*args, **kwargs)
            except TimeoutError as exc:
                if not scope.expired():  # the body's own TimeoutError
                    raise
                raise TaskRunTimeoutError(
                    f"Scope timed out after {task.timeout_seconds} second(s)."
                ) from exc

    def _retry_delay(self, exc: BaseException) -> float | None:
        """Seconds until the next attempt (``AwaitingRetry`` is set), or ``None``: no retry."""
        task, run = self.task, self.task_run
        retry_index = run.run_count - 1
        if retry_index >= task.retries:
            # Prefect only mentions exhausted retries when there were some.
            suffix = " - Retries are exhausted" if task.retries else ""
            self._roll_back_enclosing()
            self.logger.error("Task run failed with exception: %r%s", exc, suffix, exc_info=exc)
            return None
        if task.retry_condition_fn is not None and not self._retry_condition_met(exc):
            self._roll_back_enclosing()
            self.logger.error(
                "Task run failed with exception: %r - Retry condition not met", exc, exc_info=exc
            )
            return None
        delay = jittered_delay(
            retry_delay_for(task.retry_delay_seconds, retry_index), task.retry_jitter_factor
        )
        when = f"{delay:g} second(s) from now" if delay else "immediately"
        self.logger.info(
            "Task run failed with exception: %r - Retry %d/%d will start %s",
            exc,
            retry_index + 1,
            task.retries,
            when,
        )
        self.set_state(AwaitingRetry(scheduled_time=get_clock().now() + timedelta(seconds=delay)))
        return delay

    def _retry_condition_met(self, exc: BaseException) -> bool:
        condition = self.task.retry_condition_fn
        assert condition is not None
        failed = exception_to_failed_state(exc, "Task run encountered an exception")
        try:
            verdict = condition(self.task, self.task_run, failed)
            if inspect.isawaitable(verdict):  # Prefect accepts an async condition too
                verdict = run_coro_sync(verdict)
            return bool(verdict)
        except Exception:
            self.logger.error(
                "An error was encountered while running `retry_condition_fn` check %r for task %r",
                condition,
                self.task.name,
                exc_info=True,
            )
            return False

    def _cache_key(self) -> str | None:
        task = self.task
        if not task.caching_enabled or task.cache_policy is None:
            return None
        flow_ctx = self.ctx.flow_run_context
        try:
            return task.cache_policy.compute_key(
                task_ctx=self.ctx,
                inputs=self.ctx.parameters,
                flow_parameters=flow_ctx.flow_run.parameters if flow_ctx else {},
            )
        except Exception as exc:
            self.logger.warning(
                "Error computing the cache key - the result will not be cached: %s", exc
            )
            return None

    def _cached_state(self, key: str) -> State[Any] | None:
        if self.task.refresh_cache:
            return None
        now = get_clock().now()
        try:
            record = get_cache_store().get(key, now=now)
            if record is None:
                return None
            value = deserialize(record.payload, record.serializer)
        except Exception as exc:
            self.logger.warning("Ignoring unreadable cache record %r: %s", key, exc)
            return None
        state = Completed(name="Cached", data=value)
        state.state_details.cache_key = key
        state.state_details.cache_expiration = record.expires_at
        return state

    def _store(self, key: str, state: State[Any]) -> None:
        task = self.task
        now = get_clock().now()
        expires: datetime | None = now + task.cache_expiration if task.cache_expiration else None
        store = get_cache_store()
        requested = task.result_serializer
        serializer = storable_serializer(state.data, requested, store)
        if serializer is None:
            self.logger.warning(
                "The result was not cached: this cache store is writable by other "
                "identities, so it keeps only plain JSON values unless an integrity key "
                "is set (BATON_CACHE_KEY; docs/security.md)"
            )
            return
        try:
            payload = serialize(state.data, serializer)
            store.put(CacheRecord(key, payload, serializer, now, expires))
        except Exception as exc:
            self.logger.warning(
                "The result could not be cached (%s serializer): %s", serializer, exc
            )
            return
        state.state_details.cache_key = key
        state.state_details.cache_expiration = expires

    def _hooks_for(self, state: State[Any]) -> list[Any]:
        if state.type is StateType.COMPLETED:
            return self.task.on_completion_hooks
        if state.type is StateType.FAILED:
            return self.task.on_failure_hooks
        return []


def run_hook(logger: logging.LoggerAdapter[Any], hook: Any, state: State[Any], *args: Any) -> None:
    """Call ``hook(*args, state)``; an error in a hook is logged, never raised.

    An ``async def`` hook of a synchronous run is run to its end on an event loop.
    """
    name = getattr(hook, "__name__", repr(hook))
    logger.info("Running hook %r in response to entering state %r", name, state.name)
    try:
        result = hook(*args, state)
        if inspect.isawaitable(result):
            run_coro_sync(result)
    except Exception:
        logger.error("An error was encountered while running hook %r", name, exc_info=True)
    else:
        logger.info("Hook %r finished running successfully", name)


async def run_hook_async(
    logger: logging.LoggerAdapter[Any], hook: Any, state: State[Any], *args: Any
) -> None:
    """``run_hook`` for async runs: an async hook is awaited on the run's own loop."""
    name = getattr(hook, "__name__", repr(hook))
    logger.info("Running hook %r in response to entering state %r", name, state.name)
    try:
        result = hook(*args, state)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.error("An error was encountered while running hook %r", name, exc_info=True)
    else:
        logger.info("Hook %r finished running successfully", name)
