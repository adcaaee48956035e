"""Running one flow run: parameters, attempts, retries, timeout, final state, hooks.

``run_flow`` is the single entry point: ``Flow.__call__`` uses it locally, and
the in-cluster runtime calls it with an observer that reports to the FlowRun
resource. A flow called inside another flow is a subflow: it runs inline, with
its own flow run, and reports through the parent's observer.

The final state follows Prefect: an exception (or a timeout) fails the run; a
returned value completes it, unless it is or contains task runs that did not
complete (see ``outcomes.return_value_to_state``). Submitted task runs that were
not returned are still waited for before the run ends.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from baton._engine.clock import get_clock
from baton._engine.context import FlowRun, FlowRunContext, TaskRunContext, current_tags
from baton._engine.coroutines import run_coro_sync, sleep_async
from baton._engine.observer import RunObserver, current_observer, notify, use_observer
from baton._engine.outcomes import exception_to_failed_state, return_value_to_state
from baton._engine.run_logger import configure_logging, flow_run_logger, patch_print
from baton._engine.task_engine import run_hook, run_hook_async
from baton._engine.timeouts import call_with_timeout
from baton.exceptions import (
    FlowPauseTimeout,
    FlowRunTimeoutError,
    ParameterTypeError,
    Pause,
    SignatureMismatchError,
)
from baton.states import (
    AwaitingRetry,
    Crashed,
    Failed,
    Pending,
    Running,
    State,
    StateType,
)

if TYPE_CHECKING:
    from baton.flows import Flow

__all__ = ["PAUSE_EXPIRED", "run_flow", "run_flow_async", "set_flow_run_state"]

#: The final message of a run whose pause expired.
PAUSE_EXPIRED = "The flow was failed and never resumed."


def set_flow_run_state(ctx: FlowRunContext, state: State[Any]) -> None:
    """Make ``state`` the run's state and report it (the engine's, and a pause's)."""
    run = ctx.flow_run
    state.state_details.flow_run_id = run.id
    run.state = state
    if state.type is StateType.RUNNING and run.start_time is None:
        run.start_time = state.timestamp
    elif state.is_final():
        run.end_time = state.timestamp
    notify(ctx.observer, "flow_run_state", state)


def run_flow(
    flow: Flow[..., Any],
    parameters: dict[str, Any],
    *,
    observer: RunObserver | None = None,
    flow_run_name: str | None = None,
    scheduled_start_time: datetime | None = None,
    flow_run_id: UUID | None = None,
) -> State[Any]:
    """Run ``flow`` with ``parameters`` and return its final state.

    An ``async def`` flow is run to its end on an event loop of its own (a run in
    a pod, ``baton run``); ``run_flow_async`` awaits one on the running loop.

    Args:
        flow: The flow to run.
        parameters: Parameter values by name (unvalidated: strings from a
            command line or a resource are coerced when the flow validates).
        observer: Receives states, task runs, artifacts and logs of this run and
            everything inside it; defaults to the enclosing one (none locally).
        flow_run_name: The run's name; default: the flow's ``flow_run_name``
            template, else a random ``adjective-animal``.
        scheduled_start_time: When the run was due (``baton.runtime``); default now.
        flow_run_id: The run's id; default a new UUID.

    Returns:
        The final state; ``state.result()`` gives the return value or raises.
    """
    options: dict[str, Any] = {
        "observer": observer,
        "flow_run_name": flow_run_name,
        "scheduled_start_time": scheduled_start_time,
        "flow_run_id": flow_run_id,
    }
    if flow.isasync:
        return run_coro_sync(run_flow_async(flow, parameters, **options))
    ctx, parent = _new_flow_run_context(flow, parameters, **options)
    flow_token = FlowRunContext._var.set(ctx)
    task_token = TaskRunContext._var.set(None)  # a subflow called from a task is not that task
    try:
        with use_observer(ctx.observer):
            return _FlowRunEngine(ctx, is_subflow=parent is not None).run()
    finally:
        TaskRunContext._var.reset(task_token)
        FlowRunContext._var.reset(flow_token)


async def run_flow_async(
    flow: Flow[..., Any],
    parameters: dict[str, Any],
    *,
    observer: RunObserver | None = None,
    flow_run_name: str | None = None,
    scheduled_start_time: datetime | None = None,
    flow_run_id: UUID | None = None,
) -> State[Any]:
    """``run_flow`` for an ``async def`` flow, on the running event loop.

    Subflows gathered with ``asyncio.gather`` run concurrently: each asyncio task
    has its own copy of the context, so each sees its own flow run.
    """
    ctx, parent = _new_flow_run_context(
        flow,
        parameters,
        observer=observer,
        flow_run_name=flow_run_name,
        scheduled_start_time=scheduled_start_time,
        flow_run_id=flow_run_id,
    )
    flow_token = FlowRunContext._var.set(ctx)
    task_token = TaskRunContext._var.set(None)
    try:
        with use_observer(ctx.observer):
            return await _FlowRunEngine(ctx, is_subflow=parent is not None).run_async()
    finally:
        TaskRunContext._var.reset(task_token)
        FlowRunContext._var.reset(flow_token)


def _new_flow_run_context(
    flow: Flow[..., Any],
    parameters: dict[str, Any],
    *,
    observer: RunObserver | None,
    flow_run_name: str | None,
    scheduled_start_time: datetime | None,
    flow_run_id: UUID | None,
) -> tuple[FlowRunContext, FlowRunContext | None]:
    """The new run's context, and the enclosing flow run's (``None`` at the top)."""
    configure_logging()
    parent = FlowRunContext.get()
    if observer is None:
        observer = parent.observer if parent else current_observer()
    now = get_clock().now()
    run = FlowRun(
        id=flow_run_id or uuid4(),
        name=flow_run_name or "",
        flow_name=flow.name,
        parameters=dict(parameters),
        scheduled_start_time=scheduled_start_time or now,
        tags=current_tags(),
        flow_version=flow.version,
        parent_flow_run_id=parent.flow_run.id if parent else None,
    )
    run.root_flow_run_id = parent.flow_run.root_flow_run_id if parent else run.id
    log_prints = flow.log_prints
    if log_prints is None:
        log_prints = bool(parent and parent.log_prints)
    ctx = FlowRunContext(
        flow=flow,
        flow_run=run,
        task_runner=flow.task_runner.duplicate(),
        observer=observer,
        log_prints=log_prints,
    )
    return ctx, parent


class _FlowRunEngine:
    def __init__(self, ctx: FlowRunContext, is_subflow: bool) -> None:
        self.ctx = ctx
        self.flow = ctx.flow
        self.run_record = ctx.flow_run
        self.is_subflow = is_subflow
        if not self.run_record.name:
            self.run_record.name = self.flow.render_run_name(self.run_record.parameters)
        self.logger = flow_run_logger(ctx)

    def set_state(self, state: State[Any]) -> None:
        set_flow_run_state(self.ctx, state)

    def run(self) -> State[Any]:
        state = self._begin()
        try:
            if state is None:
                state = self._attempts()
        except BaseException as exc:  # KeyboardInterrupt, SystemExit
            state = self._crashed(exc)
            self._finish(state)
            raise
        self._finish(state)
        return state

    async def run_async(self) -> State[Any]:
        state = self._begin()
        try:
            if state is None:
                state = await self._attempts_async()
        except BaseException as exc:  # cancelled, KeyboardInterrupt, SystemExit
            state = self._crashed(exc)
            await self._finish_async(state)
            raise
        await self._finish_async(state)
        return state

    def _begin(self) -> State[Any] | None:
        """Report ``Pending`` and validate; return the final state if no attempt is made."""
        self.set_state(Pending())
        run, flow = self.run_record, self.flow
        try:
            if flow.should_validate_parameters:
                run.parameters = flow.validate_parameters(run.parameters)
            else:
                flow.check_required_parameters(run.parameters)
        except (ParameterTypeError, SignatureMismatchError) as exc:
            # As in Prefect: no attempt is made (so no "Beginning" line), the log
            # line gives the bare error and the state message names its type.
            # Not retried: the same parameters would fail the same way.
            message = "Validation of flow parameters failed with error:"
            self.logger.error("%s %s", message, exc)
            return exception_to_failed_state(exc, message)
        return None

    @staticmethod
    def _crashed(exc: BaseException) -> State[Any]:
        return Crashed(message=f"Execution was interrupted: {exc!r}", data=exc)

    def _final_hooks(self, state: State[Any]) -> list[Any]:
        # Prefect runs the hooks when the state is set, then logs the final line,
        # at INFO whatever the state (unlike a task run's).
        self.set_state(state)
        return {
            StateType.COMPLETED: self.flow.on_completion_hooks,
            StateType.FAILED: self.flow.on_failure_hooks,
            StateType.CRASHED: self.flow.on_crashed_hooks,
            # Not CANCELLED: Prefect runs on_cancellation hooks when a cancel is
            # requested (the run is Cancelling), never for a returned Cancelled().
        }.get(state.type, [])

    def _finish(self, state: State[Any]) -> None:
        for hook in self._final_hooks(state):
            run_hook(self.logger, hook, state, self.flow, self.run_record)
        self.logger.info("Finished in state %s", state)

    async def _finish_async(self, state: State[Any]) -> None:
        for hook in self._final_hooks(state):
            await run_hook_async(self.logger, hook, state, self.flow, self.run_record)
        # Prefect's async engine, unlike its sync one, logs a final state other than
        # Completed at ERROR.
        level = logging.INFO if state.type is StateType.COMPLETED else logging.ERROR
        self.logger.log(level, "Finished in state %s", state)

    def _start_attempt(self) -> State[Any]:
        # Prefect's flow engine: every attempt enters ``Running`` (a retried task run
        # enters ``Retrying``), and the on_running hooks run before the attempt is
        # counted (they see ``run_count`` 0 on the first attempt).
        running = Running()
        self.set_state(running)
        return running

    def _log_beginning(self) -> None:
        # As in Prefect, every attempt runs the on_running hooks, then logs this line.
        kind = "subflow" if self.is_subflow else "flow"
        self.logger.info(
            "Beginning %s run %r for flow %r", kind, self.run_record.name, self.flow.name
        )

    def _retry_delay(self, state: State[Any]) -> float | None:
        """Seconds until the next attempt (``AwaitingRetry`` is set), or ``None``: no retry."""
        flow, run = self.flow, self.run_record
        if state.type is not StateType.FAILED or run.run_count > flow.retries:
            return None
        delay = flow.retry_delay_seconds
        self.set_state(AwaitingRetry(scheduled_time=get_clock().now() + timedelta(seconds=delay)))
        self.logger.info(
            "Received non-final state 'AwaitingRetry' when proposing final state %r "
            "and will attempt to run again...",
            state.name,
        )
        return delay

    def _attempts(self) -> State[Any]:
        flow = self.flow
        while True:
            running = self._start_attempt()
            for hook in flow.on_running_hooks:
                run_hook(self.logger, hook, running, flow, self.run_record)
            self.run_record.run_count += 1
            self._log_beginning()
            state = self._attempt()
            delay = self._retry_delay(state)
            if delay is None:
                return state
            get_clock().sleep(delay)

    async def _attempts_async(self) -> State[Any]:
        flow = self.flow
        while True:
            running = self._start_attempt()
            for hook in flow.on_running_hooks:
                await run_hook_async(self.logger, hook, running, flow, self.run_record)
            self.run_record.run_count += 1
            self._log_beginning()
            state = await self._attempt_async()
            delay = self._retry_delay(state)
            if delay is None:
                return state
            await sleep_async(delay)

    def _attempt(self) -> State[Any]:
        flow, ctx = self.flow, self.ctx
        args, kwargs = flow.call_arguments(self.run_record.parameters)
        # With a timeout the body runs on its own thread, under a context of its own
        # so that abandoning this attempt does not mark a later attempt abandoned.
        attempt_ctx = (
            ctx if flow.timeout_seconds is None else replace(ctx, abandoned=threading.Event())
        )

        def body() -> State[Any]:
            FlowRunContext._var.set(attempt_ctx)
            if ctx.log_prints:
                with patch_print():
                    result = flow.fn(*args, **kwargs)
            else:
                result = flow.fn(*args, **kwargs)
            if inspect.iscoroutine(result):
                # An async task called from a sync flow gives a coroutine; Prefect
                # runs a returned one to its end, as Baton does (inside this run).
                result = run_coro_sync(result)
            return return_value_to_state(result)

        try:
            state = self._call(body)
        except FlowRunTimeoutError as exc:
            attempt_ctx.abandoned.set()
            attempt_ctx.task_runner.shutdown(wait=False)
            ctx.task_runner = ctx.task_runner.duplicate()
            return self._timed_out(exc)
        except Pause as signal:  # suspend_flow_run: the attempt ends Suspended
            state = signal.state
        except Exception as exc:
            state = self._raised(exc)
        # Task runs submitted but neither returned nor awaited still finish first.
        ctx.task_runner.wait_all()
        return state

    async def _attempt_async(self) -> State[Any]:
        import asyncio  # noqa: PLC0415 - loaded already (a coroutine runs); sync runs never load it

        flow, ctx = self.flow, self.ctx
        args, kwargs = flow.call_arguments(self.run_record.parameters)
        timeout = flow.timeout_seconds
        # As in ``_attempt``: a timed-out attempt's leftovers must not mark the next one.
        attempt_ctx = ctx if timeout is None else replace(ctx, abandoned=threading.Event())
        token = FlowRunContext._var.set(attempt_ctx)
        try:
            with patch_print() if ctx.log_prints else contextlib.nullcontext():
                result = await self._await_body(flow.fn(*args, **kwargs), timeout)
            state = return_value_to_state(result)
        except FlowRunTimeoutError as exc:
            attempt_ctx.abandoned.set()
            attempt_ctx.task_runner.shutdown(wait=False)
            ctx.task_runner = ctx.task_runner.duplicate()
            return self._timed_out(exc)
        except Pause as signal:
            state = signal.state
        except Exception as exc:
            state = self._raised(exc)
        finally:
            FlowRunContext._var.reset(token)
        # Submitted runs execute on the runner's threads: wait without blocking the loop.
        await asyncio.to_thread(ctx.task_runner.wait_all)
        return state

    @staticmethod
    async def _await_body(body: Any, timeout: float | None) -> Any:
        if timeout is None:
            return await body
        import asyncio  # noqa: PLC0415 - loaded already (a coroutine runs)

        # Unlike a thread, a coroutine can be stopped: the body is cancelled at the deadline.
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                return await body
        except TimeoutError as exc:
            if not scope.expired():  # the body's own TimeoutError
                raise
            raise FlowRunTimeoutError(f"Scope timed out after {timeout} second(s).") from exc

    def _timed_out(self, exc: FlowRunTimeoutError) -> State[Any]:
        message = f"Flow run exceeded timeout of {self.flow.timeout_seconds} second(s)"
        self.logger.error(message)
        return Failed(data=exc, message=message, name="TimedOut")

    def _raised(self, exc: Exception) -> State[Any]:
        self.logger.error("Encountered exception during execution: %r", exc, exc_info=exc)
        if isinstance(exc, FlowPauseTimeout):
            # Prefect's server fails an expired pause with this message (and no
            # exception: ``result()`` raises ``FailedRun``) before the engine reports.
            return Failed(message=PAUSE_EXPIRED)
        return exception_to_failed_state(exc, "Flow run encountered an exception:")

    def _call(self, body: Callable[[], State[Any]]) -> State[Any]:
        timeout = self.flow.timeout_seconds
        if timeout is None:
            return body()
        return call_with_timeout(
            body,
            timeout,
            lambda: FlowRunTimeoutError(f"Scope timed out after {timeout} second(s)."),
            thread_name=f"baton-flow-{self.run_record.name}",
        )
